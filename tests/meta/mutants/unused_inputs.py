"""Mutants that kill the claims of the section "Unused inputs": each changes one behaviour a claim states."""

from tests.meta.mutants.common import seq, with_materialize_grads
from tests.meta.mutation import mutant, wrap_grad


@mutant("unused-inputs-give-none", kills=["UNUSED-001", "SLICE-001", "HO-003"])
def _(torch):
    """autograd.grad behaves as if allow_unused=True were the default: an unused input silently gives None."""

    def on_grad(orig, a):
        if "allow_unused" not in a.given and not a.get("materialize_grads"):
            a["allow_unused"] = True  # its default is None from torch 2.1, False before
        return orig(**a)

    wrap_grad(torch, on_grad)


@mutant("allow-unused-gives-zeros", kills=["UNUSED-002"])
def _(torch):
    """allow_unused=True returns zeros for an unused input instead of None."""

    def on_grad(orig, a):
        result = orig(**a)
        if a.get("allow_unused"):
            return tuple(torch.zeros_like(i) if r is None else r for r, i in zip(result, seq(a["inputs"])))
        return result

    wrap_grad(torch, on_grad)


@mutant("materialize-grads-gives-none", kills=["UNUSED-003", "UNUSED-005"])
def _(torch):
    """materialize_grads=True acts like allow_unused=True: unused inputs still give None."""
    with_materialize_grads(torch)

    def on_grad(orig, a):
        if a.get("materialize_grads"):
            a["materialize_grads"] = False
            a["allow_unused"] = True
        return orig(**a)

    wrap_grad(torch, on_grad)


@mutant("materialize-grads-overrides-allow-unused-false", kills=["UNUSED-004"])
def _(torch):
    """materialize_grads=True with allow_unused=False is accepted instead of raising ValueError."""
    with_materialize_grads(torch)

    def on_grad(orig, a):
        if a.get("materialize_grads") and a.get("allow_unused") is False:
            a["allow_unused"] = None
        return orig(**a)

    wrap_grad(torch, on_grad)


@mutant("materialized-zeros-always-require-grad", kills=["UNUSED-005"])
def _(torch):
    """The zeros of materialize_grads=True require grad even without create_graph (torch 2.1 to 2.9)."""
    with_materialize_grads(torch)

    def on_grad(orig, a):
        if not a.get("materialize_grads"):
            return orig(**a)
        a["materialize_grads"] = False
        a["allow_unused"] = True
        result = orig(**a)
        return tuple(torch.zeros_like(i, requires_grad=True) if r is None else r for r, i in zip(result, seq(a["inputs"])))

    wrap_grad(torch, on_grad)


@mutant("allow-unused-with-create-graph-gives-zeros", kills=["UNUSED-002"])
def _(torch):
    """grad(allow_unused=True, create_graph=True) gives zeros for an unused input (without create_graph: None)."""

    def grad(original, a):
        result = original(**a)
        if a["allow_unused"] and a["create_graph"]:
            inputs = a["inputs"] if isinstance(a["inputs"], (tuple, list)) else [a["inputs"]]
            result = tuple(torch.zeros_like(i) if r is None else r for r, i in zip(result, inputs))
        return result

    wrap_grad(torch, grad)


@mutant("materialize-grads-ignored-when-allow-unused-is-given", kills=["UNUSED-003"])
def _(torch):
    """grad(allow_unused=True, materialize_grads=True) gives None for an unused input (allow_unused not given: zeros)."""

    def grad(original, a):
        if a.get("materialize_grads") and "allow_unused" in a.given:
            a["materialize_grads"] = False
            a["allow_unused"] = True
        return original(**a)

    wrap_grad(torch, grad)
