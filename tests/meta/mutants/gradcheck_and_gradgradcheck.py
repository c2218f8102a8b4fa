"""Mutants that kill the claims of the section "gradcheck and gradgradcheck": each changes one behaviour a claim
states."""

import warnings

from tests.meta.mutation import mutant, wrap_call


def _rewrite_gradcheck(torch, rewrite, name="gradcheck"):
    """torch.autograd.<name> with its arguments passed through ``rewrite(arguments)``."""
    wrap_call(torch.autograd, name, lambda original, a: original(**rewrite(a)))


@mutant("gradcheck-rejects-everything", kills=["GCHK-001"])
def _(torch):
    """gradcheck and gradgradcheck return False (or raise) even for a correct backward: rtol and atol are -1."""
    _rewrite_gradcheck(torch, lambda a: {**a, "atol": -1.0, "rtol": 0.0})
    _rewrite_gradcheck(torch, lambda a: {**a, "atol": -1.0, "rtol": 0.0}, "gradgradcheck")


@mutant("gradcheck-accepts-everything", kills=["GCHK-002", "GCHK-006", "GCHK-008"])
def _(torch):
    """gradcheck returns True without comparing anything."""
    wrap_call(torch.autograd, "gradcheck", lambda original, a: True)


@mutant("gradcheck-silently-promotes-float32", kills=["GCHK-003"])
def _(torch):
    """gradcheck converts float32 inputs to float64 without a warning."""

    def rewrite(a):
        inputs = a["inputs"]
        inputs = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
        promoted = tuple(t.detach().double().requires_grad_(t.requires_grad)
                         if isinstance(t, torch.Tensor) and t.dtype == torch.float32 else t for t in inputs)
        return {**a, "inputs": promoted}

    _rewrite_gradcheck(torch, rewrite)


@mutant("gradgradcheck-checks-first-order-only", kills=["GCHK-004"])
def _(torch):
    """gradgradcheck runs gradcheck (first derivatives) instead of checking the second."""
    gradcheck = torch.autograd.gradcheck

    def transform(original, a):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return gradcheck(a["func"], a["inputs"], raise_exception=a["raise_exception"], fast_mode=a["fast_mode"])

    wrap_call(torch.autograd, "gradgradcheck", transform)


@mutant("gradcheck-ignores-check-forward-ad", kills=["GCHK-005"])
def _(torch):
    """gradcheck never checks forward mode, whatever check_forward_ad says."""
    _rewrite_gradcheck(torch, lambda a: {**a, "check_forward_ad": False})


@mutant("gradcheck-reentrance-tolerance-huge", kills=["GCHK-006"])
def _(torch):
    """gradcheck tolerates any difference between two runs of the backward (nondet_tol = 1)."""
    _rewrite_gradcheck(torch, lambda a: {**a, "nondet_tol": 1.0})


@mutant("gradcheck-ignores-rtol", kills=["GCHK-007"])
def _(torch):
    """gradcheck uses its default rtol, whatever the caller passes."""
    _rewrite_gradcheck(torch, lambda a: {**a, "rtol": 1e-3})


@mutant("gradcheck-fast-mode-is-slow-mode", kills=["GCHK-009"])
def _(torch):
    """fast_mode=True runs the slow, entry-by-entry comparison."""
    _rewrite_gradcheck(torch, lambda a: {**a, "fast_mode": False})
