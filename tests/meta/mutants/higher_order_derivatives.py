"""Mutants that kill the claims of the section "Higher-order derivatives": each changes one behaviour a claim states."""

from tests.meta.mutants.common import scaled, seq, wrong_at_order
from tests.meta.mutation import mutant, patch, replace, wrap_call, wrap_grad


@mutant("constant-derivatives-keep-graph", kills=["HO-001", "HO-002"])
def _(torch):
    """With create_graph=True a constant derivative is tied to the inputs (r + 0*x), so the next grad gives 0."""

    def on_grad(orig, a):
        result = orig(**a)
        if not a["create_graph"]:
            return result
        return tuple(
            r + 0 * i if r is not None and not r.requires_grad and r.shape == i.shape else r
            for r, i in zip(result, seq(a["inputs"]))
        )

    wrap_grad(torch, on_grad)


@mutant("relu-is-smooth", kills=["HO-004"])
def _(torch):
    """torch.relu becomes a sharp softplus, whose second derivative is not zero."""
    replace(torch, "relu", lambda x: torch.nn.functional.softplus(x, beta=20.0))


@mutant("hessian-vectorized-doubled", kills=["HO-005"])
def _(torch):
    """torch.autograd.functional.hessian(vectorize=True) returns 2H (vectorize=False stays right)."""

    def hessian(original, a):
        result = original(**a)
        return scaled(torch, result, 2) if a["vectorize"] else result

    wrap_call(torch.autograd.functional, "hessian", hessian)


@mutant("func-hessian-shifted", kills=["HO-004"])
def _(torch):
    """torch.func.hessian adds 0.5 to every entry (the sum trick stays right)."""

    def make(original):
        def hessian(func, *args, **kwargs):
            inner = original(func, *args, **kwargs)
            return lambda *xs, **kws: inner(*xs, **kws) + 0.5

        return hessian

    patch(torch.func, "hessian", make)


@mutant("sin-third-derivative-wrong", kills=["HO-006"])
def _(torch):
    """sin keeps its value and first two derivatives, but its third derivative is off by 1.5."""
    wrong_at_order(torch, "sin", 3)


@mutant("sin-fourth-derivative-wrong", kills=["HO-006"])
def _(torch):
    """sin keeps its value and first three derivatives, but its fourth derivative is off by 6."""
    wrong_at_order(torch, "sin", 4)
