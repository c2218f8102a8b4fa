"""Mutants that kill the claims of the section "Hessians and Hessian-vector products": each changes one behaviour a claim states."""

from tests.meta.mutants.common import scaled, seq
from tests.meta.mutation import mutant, wrap_call, wrap_function, wrap_grad


@mutant("hessian-returns-its-diagonal", kills=["HESS-001"])
def _(torch):
    """torch.func.hessian and torch.autograd.functional.hessian return only the n diagonal entries."""

    def make_func(orig):
        def hessian(func, *args, **kwargs):
            inner = orig(func, *args, **kwargs)
            return lambda *a, **k: torch.diagonal(inner(*a, **k))

        return hessian

    wrap_function(torch.func, "hessian", make_func)
    wrap_function(torch.autograd.functional, "hessian", lambda orig: lambda *a, **k: torch.diagonal(orig(*a, **k)))


@mutant("grad-outputs-pass-through-n-by-n", kills=["HESS-001"])
def _(torch):
    """autograd.grad expands each 1-D grad_outputs v to diag(v) and sums it back: same values, n^2 memory."""

    def on_grad(orig, a):
        seeds = a["grad_outputs"]
        if seeds is not None and not a["is_grads_batched"]:
            a["grad_outputs"] = [
                torch.diag(g).sum(0) if isinstance(g, torch.Tensor) and g.dim() == 1 else g for g in seq(seeds)
            ]
        return orig(**a)

    wrap_grad(torch, on_grad)


@mutant("functional-hvp-ignores-v", kills=["HESS-002"])
def _(torch):
    """torch.autograd.functional.hvp multiplies the Hessian by ones instead of v."""

    def make(orig):
        def hvp(func, inputs, v=None, *args, **kwargs):
            return orig(func, inputs, torch.ones_like(inputs) if v is not None else v, *args, **kwargs)

        return hvp

    wrap_function(torch.autograd.functional, "hvp", make)


@mutant("is-grads-batched-doubled", kills=["HESS-003", "BATCH-001"])
def _(torch):
    """grad(..., is_grads_batched=True) returns twice each row (a loop of grad stays right)."""

    def grad(original, a):
        result = original(**a)
        return scaled(torch, result, 2) if a.get("is_grads_batched") else result

    wrap_grad(torch, grad)


@mutant("functional-vhp-doubled", kills=["HESS-002"])
def _(torch):
    """torch.autograd.functional.vhp returns 2 v^T H (hvp stays right)."""

    def vhp(original, a):
        out, result = original(**a)
        return out, scaled(torch, result, 2)

    wrap_call(torch.autograd.functional, "vhp", vhp)


@mutant("jacobian-forward-strategy-transposed", kills=["HESS-004"])
def _(torch):
    """torch.autograd.functional.jacobian with strategy='forward-mode' returns the transposed Jacobian and accepts
    vectorize=False."""

    def jacobian(original, a):
        if a["strategy"] != "forward-mode":
            return original(**a)
        return original(**{**a, "vectorize": True}).transpose(-1, -2)

    wrap_call(torch.autograd.functional, "jacobian", jacobian)


@mutant("functional-products-drop-the-output", kills=["HESS-005"])
def _(torch):
    """torch.autograd.functional.vjp returns the product in place of f(x) as the pair's first element."""

    def vjp(original, a):
        out, result = original(**a)
        return result, result

    wrap_call(torch.autograd.functional, "vjp", vjp)
