"""Chapter 4, "gradcheck and gradgradcheck": what torch.autograd.gradcheck and gradgradcheck accept, what they catch
(a wrong backward, a wrong double backward such as the HZ-032 Function's, a wrong jvp, a non-reentrant backward) and
what they cannot (an error within the tolerance, a point not sampled, one wrong entry under fast mode)."""

import sys

import pytest
import torch

import spec.check
from spec import claim, dtypes
from spec.suite.support import quiet_dynamo
from spec.suite.test_custom_autograd_function import MySiLU

MISMATCH = r"Jacobian mismatch for output 0 with respect to input 0"
FORWARD_MISMATCH = r"Jacobian computed with forward mode mismatch for output 0 with respect to input 0"
NOT_REENTRANT = r"Backward is not reentrant"
NOT_DOUBLE = r"Input #0 requires gradient and is not a double precision floating point or complex"


@pytest.fixture(autouse=True)
def _tolerate_lazy_import():
    """gradcheck's forward-mode check may import torch._dynamo, which warns about torch.jit.script on some releases."""
    with quiet_dynamo():
        yield


class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x**2


class WrongCube(torch.autograd.Function):
    """x**3 whose backward says 2x^2 instead of 3x^2."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x**2


class SlightlyOffCube(torch.autograd.Function):
    """x**3 whose backward is 0.01 % too large: 3x^2 (1 + 1e-4)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x**2 * (1 + 1e-4)


class WrongAboveTwo(torch.autograd.Function):
    """x**3 whose backward is right for x <= 2 and wrong (2x^2) above."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * torch.where(x > 2, 2 * x**2, 3 * x**2)


class NoisyCube(torch.autograd.Function):
    """x**3 whose backward adds noise of 1e-9 relative size: not reentrant."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (3 * x**2 + torch.rand_like(x) * 1e-9)


class CubeWrongJvp(torch.autograd.Function):
    """x**3 with a right backward (3x^2) and a wrong jvp (2x^2)."""

    @staticmethod
    def forward(x):
        return x**3

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        ctx.x = inputs[0]

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x**2

    @staticmethod
    def jvp(ctx, t):
        return 2 * ctx.x**2 * t


class TwiceOneEntryOff(torch.autograd.Function):
    """2x on 100 elements whose backward is 2.5 % off in its first entry only."""

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        out = (g * 2).clone()
        out[0] = out[0] + g[0] * 0.05
        return out


def _gradcheck_error():
    """torch.autograd.gradcheck.GradcheckError: the attribute path names the function, the module holds the class."""
    return sys.modules["torch.autograd.gradcheck"].GradcheckError


def _points(device, dtype):
    return torch.tensor([0.5, 1.5], requires_grad=True, device=device, dtype=dtype)


@claim(
    "GCHK-001",
    "gradcheck and gradgradcheck return True for a correct backward in float64 and for a correct function of complex128 "
    "inputs, in fast mode and in slow mode.",
    section="gradcheck and gradgradcheck",
)
@pytest.mark.parametrize("fast_mode", [False, True])
@pytest.mark.parametrize("kind", ["float64", "complex128"])
def test_gradcheck_accepts_a_correct_backward(device, kind, fast_mode, check):
    if kind == "complex128":
        z = torch.tensor([0.5 + 1j, 1.5 - 0.5j], requires_grad=True, device=device, dtype=torch.complex128)
        fn, inputs = (lambda t: t * t.conj() * t), (z,)
    else:
        fn, inputs = Cube.apply, (_points(device, torch.float64),)
    check.equal("gradcheck", check.works("gradcheck", lambda: torch.autograd.gradcheck(fn, inputs, fast_mode=fast_mode)),
                True)
    check.equal("gradgradcheck",
                check.works("gradgradcheck", lambda: torch.autograd.gradgradcheck(fn, inputs, fast_mode=fast_mode)),
                True)


@claim(
    "GCHK-002",
    "gradcheck catches a wrong backward (2x^2 for x**3) in fast and in slow mode: it raises GradcheckError (a "
    "RuntimeError) 'Jacobian mismatch for output 0 with respect to input 0', and with raise_exception=False it "
    "returns False instead.",
    section="gradcheck and gradgradcheck",
)
@pytest.mark.parametrize("fast_mode", [False, True])
@dtypes("float64")
def test_gradcheck_catches_a_wrong_backward(device, dtype, fast_mode, check):
    x = _points(device, dtype)
    with check.raises("gradcheck(WrongCube)", _gradcheck_error(), MISMATCH):
        torch.autograd.gradcheck(WrongCube.apply, (x,), fast_mode=fast_mode)
    check.true("GradcheckError is a RuntimeError", issubclass(_gradcheck_error(), RuntimeError))
    check.equal("gradcheck(WrongCube, raise_exception=False)",
                torch.autograd.gradcheck(WrongCube.apply, (x,), fast_mode=fast_mode, raise_exception=False), False)


@claim(
    "GCHK-003",
    "On float32 inputs gradcheck warns 'Input #0 requires gradient and is not a double precision floating point or "
    "complex' and, with its default eps and tolerances, rejects even a correct backward (returns False).",
    section="gradcheck and gradgradcheck",
)
@dtypes("float32")
def test_gradcheck_float32(device, dtype, warn_always, check):
    x = _points(device, dtype)
    with check.warns("gradcheck on float32 inputs", UserWarning, NOT_DOUBLE, count=None):
        result = torch.autograd.gradcheck(Cube.apply, (x,), raise_exception=False)
    check.equal("gradcheck(Cube) on float32, default eps", result, False)


@claim(
    "GCHK-004",
    "gradgradcheck, not gradcheck, catches a wrong double backward: the HZ-032 custom SiLU (saving the sigmoid, an "
    "intermediate) passes gradcheck and fails gradgradcheck with 'Jacobian mismatch for output 0 with respect to "
    "input 0', in fast and in slow mode.",
    section="gradcheck and gradgradcheck",
)
@pytest.mark.parametrize("fast_mode", [False, True])
@dtypes("float64")
def test_gradgradcheck_catches_the_hz032_function(device, dtype, fast_mode, check):
    x = _points(device, dtype)
    check.equal("gradcheck(MySiLU)", torch.autograd.gradcheck(MySiLU.apply, (x,), fast_mode=fast_mode), True)
    with check.raises("gradgradcheck(MySiLU)", _gradcheck_error(), MISMATCH):
        torch.autograd.gradgradcheck(MySiLU.apply, (x,), fast_mode=fast_mode)


@claim(
    "GCHK-005",
    "gradcheck checks forward mode only when asked: a Function with a right backward and a wrong jvp passes "
    "gradcheck, and with check_forward_ad=True raises 'Jacobian computed with forward mode mismatch'.",
    section="gradcheck and gradgradcheck",
)
@pytest.mark.parametrize("fast_mode", [False, True])
@dtypes("float64")
def test_check_forward_ad_catches_a_wrong_jvp(device, dtype, fast_mode, check):
    x = _points(device, dtype)
    check.equal("gradcheck(CubeWrongJvp)", torch.autograd.gradcheck(CubeWrongJvp.apply, (x,), fast_mode=fast_mode), True)
    with check.raises("gradcheck(CubeWrongJvp, check_forward_ad=True)", _gradcheck_error(),
                      FORWARD_MISMATCH):
        torch.autograd.gradcheck(CubeWrongJvp.apply, (x,), fast_mode=fast_mode, check_forward_ad=True)


@claim(
    "GCHK-006",
    "gradcheck runs the backward twice and demands equal results: a backward with noise of 1e-9 raises 'Backward is "
    "not reentrant', and nondet_tol=1e-7 accepts it.",
    section="gradcheck and gradgradcheck",
)
@dtypes("float64")
def test_nondet_tol(device, dtype, check):
    x = _points(device, dtype)
    torch.manual_seed(0)
    with check.raises("gradcheck(NoisyCube)", _gradcheck_error(), NOT_REENTRANT):
        torch.autograd.gradcheck(NoisyCube.apply, (x,))
    check.equal("gradcheck(NoisyCube, nondet_tol=1e-7)",
                torch.autograd.gradcheck(NoisyCube.apply, (x,), nondet_tol=1e-7), True)


@claim(
    "GCHK-007",
    "gradcheck accepts an analytical gradient within atol + rtol * |numerical| (defaults 1e-5 and 1e-3): a backward "
    "0.01 % too large passes by default and fails with rtol=0, and float32 inputs pass a correct backward with eps=1e-3, "
    "atol=1e-2, where the 0.01 % wrong backward passes too.",
    section="gradcheck and gradgradcheck",
)
@pytest.mark.parametrize("fast_mode", [False, True])
def test_tolerances(device, fast_mode, check):
    x = _points(device, torch.float64)
    check.equal("gradcheck(SlightlyOffCube), default tolerances",
                torch.autograd.gradcheck(SlightlyOffCube.apply, (x,), fast_mode=fast_mode), True)
    check.equal("gradcheck(SlightlyOffCube, rtol=0)",
                torch.autograd.gradcheck(SlightlyOffCube.apply, (x,), rtol=0.0, fast_mode=fast_mode,
                                         raise_exception=False), False)
    x32 = _points(device, torch.float32)
    with spec.check.tolerating(UserWarning, NOT_DOUBLE):
        loose = {"eps": 1e-3, "atol": 1e-2, "fast_mode": fast_mode, "raise_exception": False}
        check.equal("gradcheck(Cube) on float32, eps=1e-3, atol=1e-2",
                    torch.autograd.gradcheck(Cube.apply, (x32,), **loose), True)
        check.equal("gradcheck(SlightlyOffCube) on float32, eps=1e-3, atol=1e-2",
                    torch.autograd.gradcheck(SlightlyOffCube.apply, (x32,), **loose), True)


@claim(
    "GCHK-008",
    "gradcheck checks the Jacobian only at the inputs it is given: a backward that is wrong only for x > 2 passes at "
    "[0.5, 1.5] and fails at [2.5, 3].",
    section="gradcheck and gradgradcheck",
)
@dtypes("float64")
def test_only_the_sampled_points(device, dtype, check):
    check.equal("gradcheck(WrongAboveTwo) at [0.5, 1.5]",
                torch.autograd.gradcheck(WrongAboveTwo.apply, (_points(device, dtype),)), True)
    far = torch.tensor([2.5, 3.0], requires_grad=True, device=device, dtype=dtype)
    check.equal("gradcheck(WrongAboveTwo) at [2.5, 3]",
                torch.autograd.gradcheck(WrongAboveTwo.apply, (far,), raise_exception=False), False)


@claim(
    "GCHK-009",
    "Hazard: gradcheck(fast_mode=True) returns True for a backward of 2x on 100 elements whose first entry is 2.05 "
    "instead of 2, which slow mode rejects: fast mode compares one random projection u^T J v, where one wrong entry "
    "of a 100x100 Jacobian moves the result by less than the tolerance.",
    section="gradcheck and gradgradcheck",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/pull/59615",
)
@dtypes("float64")
def test_fast_mode_misses_one_wrong_entry(device, dtype, check):
    x = torch.linspace(0, 1, 100, requires_grad=True, device=device, dtype=dtype)
    check.equal("gradcheck(fast_mode=False)",
                torch.autograd.gradcheck(TwiceOneEntryOff.apply, (x,), fast_mode=False, raise_exception=False), False)
    torch.manual_seed(0)
    check.hazard("gradcheck(fast_mode=True) of the wrong backward",
                 lambda: torch.autograd.gradcheck(TwiceOneEntryOff.apply, (x,), fast_mode=True, raise_exception=False),
                 wrong=True, truth=False)
