"""Mutants that kill the claims of the section "Batched gradients": each changes one behaviour a claim states."""

from tests.meta.mutants.common import from_user_code, plain, scaled
from tests.meta.mutation import mutant, patch, wrap_call, wrap_grad


@mutant("batched-grads-transposed", kills=["BATCH-001"])
def _(torch):
    """is_grads_batched=True returns the Jacobian transposed (column i = dy_i/dx)."""

    def on_grad(orig, a):
        result = orig(**a)
        if a["is_grads_batched"]:
            return tuple(r.T if r is not None and r.dim() == 2 else r for r in result)
        return result

    wrap_grad(torch, on_grad)


@mutant("jacobian-vectorized-transposed", kills=["BATCH-001"])
def _(torch):
    """torch.autograd.functional.jacobian(vectorize=True) (reverse mode) returns the transpose."""

    def jacobian(original, a):
        result = original(**a)
        if a["vectorize"] and a["strategy"] == "reverse-mode" and isinstance(result, torch.Tensor) and result.dim() == 2:
            return result.T
        return result

    wrap_call(torch.autograd.functional, "jacobian", jacobian)


@mutant("jacobian-forward-mode-transposed", kills=["BATCH-001"])
def _(torch):
    """torch.autograd.functional.jacobian(strategy='forward-mode') returns the transpose."""

    def jacobian(original, a):
        result = original(**a)
        if a["strategy"] == "forward-mode" and isinstance(result, torch.Tensor) and result.dim() == 2:
            return result.T
        return result

    wrap_call(torch.autograd.functional, "jacobian", jacobian)


@mutant("functional-jvp-doubled", kills=["BATCH-001"])
def _(torch):
    """torch.autograd.functional.jvp returns twice the Jacobian-vector product."""

    def jvp(original, a):
        out, result = original(**a)
        return out, scaled(torch, result, 2)

    wrap_call(torch.autograd.functional, "jvp", jvp)


@mutant("func-jacfwd-doubled", kills=["BATCH-001", "EW-001", "HO-006"])
def _(torch):
    """torch.func.jacfwd returns twice the Jacobian (jacrev and hessian stay right)."""

    def make(original):
        def jacfwd(func, *args, **kwargs):
            inner = original(func, *args, **kwargs)
            return lambda *xs, **kws: scaled(torch, inner(*xs, **kws), 2)

        return jacfwd

    patch(torch.func, "jacfwd", make)


@mutant("forward-ad-tangent-doubled", kills=["BATCH-001"])
def _(torch):
    """torch.autograd.forward_ad.unpack_dual, called by the user, returns twice the tangent (torch.func's own calls stay right)."""
    fwd = torch.autograd.forward_ad

    def make(original):
        fn = plain(original)

        def unpack_dual(tensor, *, level=None):
            result = fn(tensor, level=level)
            if result.tangent is None or not from_user_code():
                return result
            return type(result)(result.primal, result.tangent * 2)

        return unpack_dual

    patch(fwd, "unpack_dual", make)
