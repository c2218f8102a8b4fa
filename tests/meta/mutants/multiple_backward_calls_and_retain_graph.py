"""Mutants that kill the claims of the section "Multiple backward calls and retain_graph": each changes one behaviour a claim states."""

from tests.meta.mutation import (
    leaves_of,
    mutant,
    rewrite_backward,
    wrap_function,
)


@mutant("backward-always-retains-graph", kills=["BWD-001", "BWD-003"])
def _(torch):
    """backward() keeps the graph alive even when retain_graph is not asked for."""
    rewrite_backward(torch, lambda g, retain, create, inputs: (g, True, create, inputs))


@mutant("retain-graph-false-is-ignored", kills=["BWD-003"])
def _(torch):
    """An explicit retain_graph=False keeps the graph all the same."""
    rewrite_backward(torch, lambda g, retain, create, inputs: (g, True if retain is False else retain, create, inputs))


@mutant("backward-overwrites-grad", kills=["BWD-002", "CG-003", "LAW-003"])
def _(torch):
    """backward() replaces .grad instead of accumulating into it."""

    def make(orig):
        def backward(self, *args, **kwargs):
            for leaf in leaves_of(self):
                leaf.grad = None
            return orig(self, *args, **kwargs)

        return backward

    wrap_function(torch.Tensor, "backward", make)
