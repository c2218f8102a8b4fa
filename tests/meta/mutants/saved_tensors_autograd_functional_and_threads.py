"""Mutants that kill the claims of the section "Saved tensors, autograd.functional and threads": each changes one behaviour a claim states."""

from tests.meta.mutants.common import wrap_pack
from tests.meta.mutation import mutant, rewrite_backward


@mutant("pack-hook-runs-twice", kills=["SAVED-001"])
def _(torch):
    """The pack hook of saved_tensors_hooks runs twice per saved tensor."""
    wrap_pack(torch, lambda pack: lambda t: (pack(t), pack(t))[1])


@mutant("pack-hook-gets-a-copy", kills=["SAVED-002"])
def _(torch):
    """The pack hook receives a copy of the saved tensor, so modifying it in place goes unnoticed."""
    wrap_pack(torch, lambda pack: lambda t: pack(t.detach().clone()))


@mutant("jacobian-ignores-strict", kills=["SAVED-003"])
def _(torch):
    """torch.autograd.functional.jacobian ignores strict=True."""
    functional = torch.autograd.functional
    original = functional.jacobian
    functional.jacobian = lambda func, inputs, create_graph=False, strict=False, **kw: original(
        func, inputs, create_graph=create_graph, strict=False, **kw)


@mutant("jacobian-ignores-create-graph", kills=["SAVED-004"])
def _(torch):
    """torch.autograd.functional.jacobian ignores create_graph=True."""
    functional = torch.autograd.functional
    original = functional.jacobian
    functional.jacobian = lambda func, inputs, create_graph=False, strict=False, **kw: original(
        func, inputs, create_graph=False, strict=strict, **kw)


@mutant("threads-backward-retains-graph", kills=["SAVED-005"])
def _(torch):
    """backward() always keeps the graph, so a second thread's backward on it succeeds."""
    rewrite_backward(torch, lambda gradient, retain_graph, create_graph, inputs: (gradient, True, create_graph, inputs))
