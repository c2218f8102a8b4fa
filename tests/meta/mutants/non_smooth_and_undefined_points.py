"""Mutants that kill the claims of the section "Non-smooth and undefined points": each changes one behaviour a claim states."""

from tests.meta.mutants.common import (
    min_norm_clamp,
    right_kink,
    with_backward,
    zero_times_inf_is_zero,
)
from tests.meta.mutation import mutant, torch_release, wrap_function


@mutant("kinks-take-the-right-derivative", kills=["KINK-001", "KINK-003"])
def _(torch):
    """abs, relu, relu6, hardtanh and leaky_relu give the right-hand (or inner) derivative 1 at their kinks."""
    F = torch.nn.functional
    wrap_function(torch, "abs", lambda orig: lambda x: torch.where(x >= 0, x, -x))
    wrap_function(torch, "relu", lambda orig: lambda x: torch.where(x >= 0, x, x * 0))
    wrap_function(F, "relu", lambda orig: lambda x, inplace=False: torch.where(x >= 0, x, x * 0))
    wrap_function(F, "relu6", lambda orig: lambda x, inplace=False: right_kink(torch, x, 0.0, 6.0))
    wrap_function(F, "hardtanh", lambda orig: lambda x, min_val=-1.0, max_val=1.0, inplace=False:
                  right_kink(torch, x, min_val, max_val))
    wrap_function(F, "leaky_relu", lambda orig: lambda x, negative_slope=0.01, inplace=False:
                  torch.where(x >= 0, x, x * negative_slope))


@mutant("norms-are-hand-written", kills=["KINK-002", "KINK-009"])
def _(torch):
    """vector_norm, linalg.norm, torch.norm and Tensor.norm compute sqrt(sum(x * x)): NaN gradient at the zero vector."""

    def make(orig):
        def norm(x, *args, **kwargs):
            if not args and not kwargs or kwargs == {"p": 2}:
                return torch.sqrt((x * x).sum())
            return orig(x, *args, **kwargs)

        return norm

    wrap_function(torch.linalg, "vector_norm", make)
    wrap_function(torch.linalg, "norm", make)
    wrap_function(torch, "norm", make)
    wrap_function(torch.Tensor, "norm", make)


@mutant("sqrt-is-finite-at-zero", kills=["KINK-004", "KINK-006", "KINK-007", "KINK-008"])
def _(torch):
    """torch.sqrt's derivative at 0 is 0 instead of inf (a 'safe sqrt'): no inf, so no 0 * inf = NaN downstream."""
    sqrt = torch.sqrt
    safe = with_backward(torch, sqrt, lambda x: torch.where(x == 0, torch.zeros_like(x), 0.5 / sqrt(x)))
    wrap_function(torch, "sqrt", lambda orig: safe)


@mutant("log-gradient-nan-outside-its-domain", kills=["KINK-005"])
def _(torch):
    """torch.log's derivative is NaN for x < 0 instead of the formula 1/x."""
    log = torch.log
    nan_outside = with_backward(torch, log, lambda x: torch.where(x < 0, torch.full_like(x, float("nan")), 1 / x))
    wrap_function(torch, "log", lambda orig: nan_outside)


@mutant("reductions-send-a-tie-to-one-element", kills=["KINK-010"])
def _(torch):
    """torch.amax and torch.max(x) without dim send the gradient of a tie to the first extreme element only."""

    def make(orig):
        def reduce(x, *args, **kwargs):
            if not args and not kwargs:
                return orig(x.flatten(), 0).values if orig is torch_max else orig(x.flatten(), 0)
            return orig(x, *args, **kwargs)

        return reduce

    torch_max = torch.max
    wrap_function(torch, "max", make)
    wrap_function(torch, "amax", lambda orig: lambda x, *a, **k: torch_max(x.flatten(), 0).values if not a and not k
                  else orig(x, *a, **k))


@mutant("where-sends-gradient-to-both-branches", kills=["KINK-011"])
def _(torch):
    """torch.where(c, a, b) gives the full incoming gradient to both a and b (the value is unchanged)."""

    def make(orig):
        def where(condition, *branches, **kwargs):
            if len(branches) != 2 or kwargs:
                return orig(condition, *branches, **kwargs)
            a, b = branches
            out = orig(condition, a, b).detach()
            for t in (a, b):
                if isinstance(t, torch.Tensor) and t.requires_grad:
                    out = out + (t - t.detach())
            return out

        return where

    wrap_function(torch, "where", make)


@mutant("atan2-gradient-at-origin-flips", kills=["KINK-012"])
def _(torch):
    """atan2's gradient at the origin is [0, 0] where torch gives [nan, nan] (before 2.10), [nan, nan] where it gives [0, 0]."""
    atan2 = torch.atan2
    nan_at_origin = torch_release(torch) >= (2, 10)

    def patched(y, x):
        origin = (y == 0) & (x == 0)
        if nan_at_origin:
            r = torch.sqrt(y * y + x * x)
            return atan2(y, x) + (r - r.detach())
        one = torch.ones_like(y)
        return torch.where(origin, 0 * y + 0 * x, atan2(torch.where(origin, one, y), torch.where(origin, one, x)))

    wrap_function(torch, "atan2", lambda orig: patched)


@mutant("maximum-minimum-min-norm-at-ties", kills=["HZ-001"])
def _(torch):
    """Fixes HZ-001: torch.maximum/minimum give the whole gradient of a tie to the second argument (x gets 0)."""
    # Named functions, not lambdas: torch may script code that calls torch.maximum (TorchScript reads their source).
    def maximum(a, b):
        return torch.where(a > b, a, b)

    def minimum(a, b):
        return torch.where(a < b, a, b)

    wrap_function(torch, "maximum", lambda orig: maximum)
    wrap_function(torch, "minimum", lambda orig: minimum)


@mutant("clamp-flips-its-scalar-bound-subgradient", kills=["HZ-002", "HZ-003"])
def _(torch):
    """Fixes HZ-002/HZ-003 where present (torch < 2.14: derivative 0 at a scalar bound, and for clamp(x, c, c));
    from 2.14, where torch fixed them, brings the derivative 1 at the bounds back."""
    fixed = torch_release(torch) < (2, 14)
    original_clamp = torch.clamp

    def clamp(x, min=None, max=None):
        if fixed:
            return min_norm_clamp(torch, x, min, max)
        return right_kink(torch, x, min, max, original_clamp)

    wrap_function(torch, "clamp", lambda orig: clamp)
    wrap_function(torch, "clamp_min", lambda orig: lambda x, min: clamp(x, min=min))
    wrap_function(torch, "clamp_max", lambda orig: lambda x, max: clamp(x, max=max))


@mutant("fmax-fmin-tensor-clamp-min-norm-at-ties", kills=["HZ-004"])
def _(torch):
    """Fixes HZ-004: fmax, fmin and clamp/clamp_min with a Tensor bound give x the derivative 0 at a tie."""
    wrap_function(torch, "fmax", lambda orig: lambda a, b: torch.where(a > b, a, b.detach()))
    wrap_function(torch, "fmin", lambda orig: lambda a, b: torch.where(a < b, a, b.detach()))
    wrap_function(torch, "clamp", lambda orig: lambda x, min=None, max=None: min_norm_clamp(torch, x, min, max))
    wrap_function(torch, "clamp_min", lambda orig: lambda x, min: min_norm_clamp(torch, x, min, None))


@mutant("zero-gradient-times-inf-is-zero", kills=["HZ-006", "HZ-007"])
def _(torch):
    """Fixes HZ-006/HZ-007: sqrt's and exp's backward return 0 where the incoming gradient is 0 (an unselected
    where branch, a NaN cleaned by nan_to_num or masked_fill), instead of 0 * inf or 0 * NaN = NaN."""
    sqrt, exp = torch.sqrt, torch.exp
    wrap_function(torch, "sqrt", lambda orig: zero_times_inf_is_zero(torch, sqrt, lambda x, r: 0.5 / r))
    wrap_function(torch, "exp", lambda orig: zero_times_inf_is_zero(torch, exp, lambda x, r: r))


@mutant("matrix-norm-min-norm-at-zero", kills=["HZ-008"])
def _(torch):
    """Fixes HZ-008: linalg.matrix_norm of the zero matrix has gradient 0 (the minimum-norm subgradient)."""

    def make(orig):
        def matrix_norm(A, *args, **kwargs):
            if bool((A == 0).all()):
                return (A * 0).sum()
            return orig(A, *args, **kwargs)

        return matrix_norm

    wrap_function(torch.linalg, "matrix_norm", make)


@mutant("hardswish-flips-its-knee-derivatives", kills=["HZ-009"])
def _(torch):
    """Fixes HZ-009 where present (torch < 2.7: hardswish' = [0, 1] at [-3, 3], as x * relu6(x + 3) / 6 gives);
    from 2.7, where torch fixed it, brings the one-sided slopes [-0.5, 1.5] back."""
    F = torch.nn.functional
    relu6 = F.relu6
    fixed = torch_release(torch) < (2, 7)

    def hardswish(x, inplace=False):
        if fixed:
            return x * relu6(x + 3) / 6
        middle = (x >= -3) & (x <= 3)
        return torch.where(middle, x * (x + 3) / 6, torch.where(x > 3, x, x * 0))

    wrap_function(F, "hardswish", lambda orig: hardswish)


@mutant("where-sends-a-tie-to-the-unselected-branch", kills=["KINK-013"])
def _(torch):
    """where(c, a, b) gives a the gradient 1 where c is False and a == b (the value is unchanged)."""

    def make(orig):
        def where(condition, *args, **kwargs):
            out = orig(condition, *args, **kwargs)
            if len(args) != 2 or not isinstance(args[0], torch.Tensor) or not args[0].is_floating_point():
                return out
            a, b = args
            tie = (~condition) & (a.detach() == (b.detach() if isinstance(b, torch.Tensor) else b))
            return out + (a - a.detach()) * tie

        return where

    wrap_function(torch, "where", make)


@mutant("forward-mode-hardtanh-takes-the-inner-slope", kills=["KINK-014"])
def _(torch):
    """F.hardtanh of a dual tensor gets tangent 1 at its kinks -1 and 1 (the backward formula keeps 0)."""

    def make(orig):
        def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
            out = orig(input, min_val, max_val, inplace)
            if torch.autograd.forward_ad.unpack_dual(input).tangent is None:
                return out
            x = input.detach()
            return out + (input - x) * ((x == min_val) | (x == max_val))

        return hardtanh

    wrap_function(torch.nn.functional, "hardtanh", make)
