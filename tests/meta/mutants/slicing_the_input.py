"""Mutants that kill the claims of the section "Slicing the input": each changes one behaviour a claim states."""

from tests.meta.mutation import mutant, wrap_function


@mutant("cat-detaches-first-input", kills=["SLICE-002"])
def _(torch):
    """torch.cat cuts its first input out of the graph, so columns split before the forward pass are unused."""
    wrap_function(torch, "cat", lambda orig: lambda tensors, *a, **k: orig([tensors[0].detach(), *tensors[1:]], *a, **k))
