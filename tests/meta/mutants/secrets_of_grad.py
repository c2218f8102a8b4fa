"""Mutants that kill the claims of the section "Secrets of grad": each changes one behaviour a claim states."""

from tests.meta.mutation import (
    mutant,
    rewrite_backward,
)


@mutant("backward-always-creates-graph", kills=["GRAD-001"])
def _(torch):
    """backward() behaves as if create_graph=True were always given: gradients require grad."""
    rewrite_backward(torch, lambda g, retain, create, inputs: (g, retain, True, inputs), quiet=True)
