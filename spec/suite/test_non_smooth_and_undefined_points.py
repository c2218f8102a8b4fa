"""Chapter 3, "Non-smooth and undefined points": what autograd returns at kinks (|x|, relu, norms), where the
derivative is infinite (sqrt at 0) and where the function is undefined (sqrt(-1), log(-1)); the points a PINN
hits when it builds hard boundary constraints from abs, clamp and distance functions.

The rule is the autograd note's "Gradients for non-differentiable functions": at a point where the function is
convex but not differentiable, the minimum-norm subgradient; infinity where continuity gives it; an arbitrary
value (most often NaN) where the function is undefined.  The spellings of a kink that break the rule are
hazards, each with its upstream issue, stated with the true value and the observed one: they pass while the hazard
is present and report "hazard fixed" the day a release fixes it.
"""

import pytest
import torch

from spec import by_version, claim
from spec.check import tolerating
from spec.suite.support import quiet_dynamo, scalar

F = torch.nn.functional
WAYS = ["backward", "autograd.grad"]
#: The hazards are checked in forward mode too, where the derivative has a spelling of its own.
HAZARD_WAYS = [*WAYS, "forward-mode"]

#: atan2's backward divides by y**2 + x**2, which gave 0 * inf = NaN at the origin; the fix returns 0 there.
ATAN2_AT_ORIGIN = by_version(
    "KINK-012/atan2 gradient at the origin",
    {"<2.10": ["nan", "nan"], ">=2.10": ["0.0", "0.0"]},
    ref="https://github.com/pytorch/pytorch/pull/166787",
    note="issue https://github.com/pytorch/pytorch/issues/165427; observed [nan, nan] on 2.0.1, 2.4.1, 2.8.0 and "
    "[0, 0] on 2.13.0, 2.14.1, 2.15.0; the first release with the fix (2.10, the PR opened 2025-11-01) is "
    "unconfirmed",
)


#: PR 191142 (first in torch 2.14) gave clamp, clamp_min and clamp_max with scalar bounds the minimum-norm
#: subgradient 0 at the bounds (before: 1).
CLAMP_SCALAR_HAZARD = by_version(
    "HZ-002/clamp with scalar bounds gives 1 at a bound",
    {"<2.14": True, ">=2.14": False},
    ref="https://github.com/pytorch/pytorch/pull/191142",
    note="issues https://github.com/pytorch/pytorch/issues/184572 and https://github.com/pytorch/pytorch/issues/184574; "
    "observed 1 on 2.0.1 .. 2.13.0 and 0 on 2.14.1 and 2.15.0",
)
CLAMP_CONSTANT_HAZARD = by_version(
    "HZ-003/clamp(x, c, c) gives 1 at x = c",
    {"<2.14": True, ">=2.14": False},
    ref="https://github.com/pytorch/pytorch/pull/191142",
    note="observed 1 on 2.0.1 .. 2.13.0 and 0 on 2.14.1 and 2.15.0",
)
#: The same PR made fmax/fmin and one-sided clamp with a Tensor bound split a tie evenly (0.5) like maximum:
#: still not the minimum-norm 0 of the user's function.
TIE_WRONG = by_version(
    "HZ-004/fmax, fmin, clamp with a Tensor bound at a tie",
    {"<2.14": 1.0, ">=2.14": 0.5},
    ref="https://github.com/pytorch/pytorch/pull/191142",
    note="observed 1 on 2.0.1 .. 2.13.0 and 0.5 on 2.14.1 and 2.15.0",
)


def tensor(values, device, dtype, requires_grad=True):
    return torch.tensor(values, device=device, dtype=dtype, requires_grad=requires_grad)


def gradient(y, x, way):
    """dy/dx of a scalar y, the way a user gets it: x.grad after y.backward(), or torch.autograd.grad(y, x)."""
    if way == "backward":
        y.backward()
        return x.grad
    (g,) = torch.autograd.grad(y, x)
    return g


def as_text(t):
    """The values of a tensor as strings ('nan', 'inf', '0.0'): NaN compares equal to NaN this way."""
    return [str(v) for v in t.detach().cpu().double().flatten().tolist()]


def derivative(f, point, way, device, dtype, form="0-dim"):
    """d/dx f(x) at ``point``, the way a user gets it: backward(), autograd.grad, or a forward-mode tangent."""
    if way == "forward-mode":
        fwAD = torch.autograd.forward_ad
        with quiet_dynamo(), fwAD.dual_level():
            x0 = scalar(point, form, device=device, dtype=dtype)
            x = fwAD.make_dual(x0, torch.ones_like(x0))
            return fwAD.unpack_dual(f(x)).tangent
    x = scalar(point, form, device=device, dtype=dtype, requires_grad=True)
    y = f(x).sum()
    if way == "backward":
        y.backward()
        return x.grad
    return torch.autograd.grad(y, x)[0]


def zero_like(x):
    return torch.zeros_like(x)


TIES = {
    "torch.maximum(x, zeros) at 0": lambda x: torch.maximum(x, zero_like(x)),
    "torch.minimum(x, zeros) at 0": lambda x: torch.minimum(x, zero_like(x)),
}


@claim(
    "HZ-001",
    "Hazard: d/dx torch.maximum(x, 0) and d/dx torch.minimum(x, 0) at x = 0 are 0.5 (the tie is split between x and "
    "the constant), where the true value by the autograd note's rule is the minimum-norm subgradient 0 that relu "
    "gives for the same function; the same 0.5 by backward(), autograd.grad and forward mode, without an error.",
    section="Non-smooth and undefined points",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/184572",
)
@pytest.mark.parametrize("way", HAZARD_WAYS)
@pytest.mark.parametrize("spelling", list(TIES))
def test_maximum_splits_a_tie_with_a_constant(spelling, way, device, dtype, form, check):
    g = derivative(TIES[spelling], 0.0, way, device, dtype, form)
    check.hazard(f"d/dx {spelling} ({way})", g, wrong=0.5, truth=0.0, exact=True)


CLAMPS = {
    "torch.clamp_min(x, 0) at 0": (lambda x: torch.clamp_min(x, 0.0), 0.0),
    "torch.clamp(x, min=0) at 0": (lambda x: torch.clamp(x, min=0.0), 0.0),
    "torch.clamp_max(x, 0) at 0": (lambda x: torch.clamp_max(x, 0.0), 0.0),
    "torch.clamp(x, 0, 1) at 0": (lambda x: torch.clamp(x, 0.0, 1.0), 0.0),
    "torch.clamp(x, 0, 1) at 1": (lambda x: torch.clamp(x, 0.0, 1.0), 1.0),
}


@claim(
    "HZ-002",
    "Hazard (fixed in torch 2.14): clamp_min(x, 0), clamp(x, min=0) and clamp_max(x, 0) at x = 0, and clamp(x, 0, 1) "
    "at 0 and at 1, had derivative 1 where the true value (the minimum-norm subgradient, what relu and hardtanh "
    "give) is 0, so a PINN output clamped to its physical range kept a full gradient at the bound; since 2.14 the "
    "derivative is 0, by backward(), autograd.grad and forward mode.",
    section="Non-smooth and undefined points",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/184574",
)
@pytest.mark.parametrize("way", HAZARD_WAYS)
@pytest.mark.parametrize("spelling", list(CLAMPS))
def test_clamp_at_its_bounds(spelling, way, device, dtype, check):
    f, point = CLAMPS[spelling]
    g = derivative(f, point, way, device, dtype)
    check.hazard(f"d/dx {spelling} ({way})", g, wrong=1.0, truth=0.0, present=CLAMP_SCALAR_HAZARD, exact=True)


@claim(
    "HZ-003",
    "Hazard (fixed in torch 2.14): clamp(x, 0.5, 0.5) is the constant 0.5, whose derivative exists and is 0 "
    "everywhere, but at x = 0.5 torch gave derivative 1 (0 at x = 0 and x = 1); since 2.14 it is 0 there too, by "
    "backward(), autograd.grad and forward mode.",
    section="Non-smooth and undefined points",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/pull/191142",
)
@pytest.mark.parametrize("way", HAZARD_WAYS)
def test_clamp_with_min_equal_max(way, device, dtype, check):
    for point in (0.0, 1.0):
        g = derivative(lambda x: torch.clamp(x, 0.5, 0.5), point, way, device, dtype)
        check.tensor(f"d/dx clamp(x, 0.5, 0.5) at {point} ({way})", g, 0.0, dtype=dtype, device=device)
    g = derivative(lambda x: torch.clamp(x, 0.5, 0.5), 0.5, way, device, dtype)
    check.hazard(f"d/dx clamp(x, 0.5, 0.5) at 0.5 ({way})", g, wrong=1.0, truth=0.0, present=CLAMP_CONSTANT_HAZARD,
                 exact=True)


TENSOR_TIES = {
    "torch.fmax(x, zeros) at 0": lambda x: torch.fmax(x, zero_like(x)),
    "torch.fmin(x, zeros) at 0": lambda x: torch.fmin(x, zero_like(x)),
    "torch.clamp(x, min=zeros) at 0": lambda x: torch.clamp(x, min=zero_like(x)),
    "torch.clamp_min(x, zeros) at 0": lambda x: torch.clamp_min(x, zero_like(x)),
}


@claim(
    "HZ-004",
    "Hazard: fmax(x, 0), fmin(x, 0) and clamp with a Tensor bound, clamp(x, min=zeros) and clamp_min(x, zeros), at "
    "x = 0 give derivative 1 before torch 2.14 and 0.5 since, where the true value (the minimum-norm subgradient "
    "of the user's function max(x, 0), what relu gives) is 0; by backward() and autograd.grad, without an error.",
    section="Non-smooth and undefined points",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/184572",
)
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("spelling", list(TENSOR_TIES))
def test_tensor_bound_ties(spelling, way, device, dtype, check):
    g = derivative(TENSOR_TIES[spelling], 0.0, way, device, dtype)
    check.hazard(f"d/dx {spelling} ({way})", g, wrong=TIE_WRONG, truth=0.0, exact=True)


UNUSED_BRANCH = {
    "where(x > 0, sqrt(x), x) at x = [-1, -4]": (lambda x: torch.where(x > 0, torch.sqrt(x), x), [-1.0, -4.0],
                                                  [-1.0, -4.0], [1.0, 1.0]),
    "where(x < 10, exp(x), 1) at x = [1, 1000]": (lambda x: torch.where(x < 10, torch.exp(x), torch.ones_like(x)),
                                                   [1.0, 1000.0], None, None),
}


@claim(
    "HZ-006",
    "Hazard: torch.where does not protect the gradient from the branch it does not select: y = where(x > 0, "
    "sqrt(x), x) at x = [-1, -4] is [-1, -4] but its gradient is [nan, nan] (true: [1, 1]), and where(x < 10, "
    "exp(x), 1) at x = [1, 1000] is [e, 1] with gradient [e, nan] (true: [e, 0]): the unselected branch gets a zero "
    "gradient and 0 * inf is NaN; by backward() and autograd.grad, without an error.",
    section="Non-smooth and undefined points",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/52248",
)
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("spelling", list(UNUSED_BRANCH))
def test_where_leaks_nan_from_the_unused_branch(spelling, way, device, dtype, check):
    f, point, value, truth = UNUSED_BRANCH[spelling]
    e = torch.exp(torch.tensor(1.0, dtype=dtype)).item()
    value = value if value is not None else [e, 1.0]
    truth = truth if truth is not None else [e, 0.0]
    wrong = [float("nan")] * 2 if "sqrt" in spelling else [e, float("nan")]
    x = tensor(point, device, dtype)
    y = f(x)
    check.close(spelling, y, value, dtype=dtype, device=device)
    if way == "backward":
        y.sum().backward()
        g = x.grad
    else:
        (g,) = torch.autograd.grad(y.sum(), x)
    check.hazard(f"gradient of {spelling} ({way})", g, wrong=wrong, truth=truth)


AFTER_NAN = {
    "nan_to_num(sqrt(x))": lambda x: torch.nan_to_num(torch.sqrt(x)),
    "sqrt(x).masked_fill(x <= 0, 0)": lambda x: torch.sqrt(x).masked_fill(x <= 0, 0.0),
}


@claim(
    "HZ-007",
    "Hazard: cleaning a NaN in the forward pass does not clean the gradient: nan_to_num(sqrt(x)) and "
    "sqrt(x).masked_fill(x <= 0, 0) at x = [-1, 4] are [0, 2], a function whose true gradient is [0, 0.25], but the "
    "gradient is [nan, 0.25] (sqrt's backward multiplies the zero it receives by its infinite or NaN local "
    "derivative); by backward() and autograd.grad, without an error.",
    section="Non-smooth and undefined points",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/94700",
)
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("spelling", list(AFTER_NAN))
def test_cleaning_nan_forward_keeps_nan_gradient(spelling, way, device, dtype, check):
    x = tensor([-1.0, 4.0], device, dtype)
    y = AFTER_NAN[spelling](x)
    check.tensor(spelling, y, [0.0, 2.0], dtype=dtype, device=device)
    if way == "backward":
        y.sum().backward()
        g = x.grad
    else:
        (g,) = torch.autograd.grad(y.sum(), x)
    check.hazard(f"gradient of {spelling} at [-1, 4] ({way})", g, wrong=[float("nan"), 0.25], truth=[0.0, 0.25])


@claim(
    "HZ-008",
    "Hazard: the nuclear norm and the spectral norm are convex, but their gradient at the zero matrix is a unit "
    "subgradient, not the minimum-norm one: for A = zeros(1, 2) (whose two norms both equal the Euclidean norm of "
    "its row) matrix_norm(A, 'nuc') and matrix_norm(A, 2) give a gradient of Frobenius norm 1 ([[1, 0]] on the "
    "CPU), where the true value by the autograd note's rule is [[0, 0]], what vector_norm gives for the same "
    "numbers; by backward() and autograd.grad, without an error.",
    section="Non-smooth and undefined points",
    kind="hazard",
    ref="https://pytorch.org/docs/stable/notes/autograd.html#gradients-for-non-differentiable-functions",
)
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("order", ["nuc", 2])
def test_matrix_norm_at_zero(order, way, device, dtype, check):
    A = torch.zeros(1, 2, device=device, dtype=dtype, requires_grad=True)
    n = check.works(f"matrix_norm(zeros(1, 2), {order!r})", lambda: torch.linalg.matrix_norm(A, order))
    if way == "backward":
        n.backward()
        g = A.grad
    else:
        (g,) = torch.autograd.grad(n, A)
    v = torch.zeros(2, device=device, dtype=dtype, requires_grad=True)
    check.tensor("gradient of vector_norm(zeros(2))", torch.autograd.grad(torch.linalg.vector_norm(v), v)[0], [0.0, 0.0],
                 dtype=dtype, device=device)
    check.hazard(f"Frobenius norm of the gradient of matrix_norm(zeros(1, 2), {order!r}) ({way})",
                 torch.linalg.vector_norm(g.detach()), wrong=1.0, truth=0.0)


#: hardswish's backward used the closed band [-3, 3] for its middle piece, giving the one-sided derivatives of
#: that piece at the knees (-0.5 at -3, 1.5 at 3); the fix uses the minimum-norm values 0 and 1.
HARDSWISH_HAZARD = by_version(
    "HZ-009/hardswish at its knees",
    {"<2.8": True, ">=2.8": False},
    ref="https://github.com/pytorch/pytorch/pull/148049",
    note="issue https://github.com/pytorch/pytorch/issues/147801 (reported on 2.6.0); the full matrix observed "
    "[-0.5, 1.5] on 2.0.1 to 2.7.1 and [0, 1] from 2.8.0 on",
)


@claim(
    "HZ-009",
    "Hazard (fixed in torch 2.8): F.hardswish at its knees x = -3 and x = 3 had derivative [-0.5, 1.5], "
    "the slopes of the middle piece x (x + 3) / 6, where the true values by the autograd note's rule (the "
    "minimum-norm elements of [-0.5, 0] and [1, 1.5]) are [0, 1], what x * relu6(x + 3) / 6 gives; now [0, 1], by "
    "backward() and autograd.grad.",
    section="Non-smooth and undefined points",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/147801",
)
@pytest.mark.parametrize("way", WAYS)
def test_hardswish_at_its_knees(way, device, dtype, check):
    x = tensor([-3.0, 3.0], device, dtype)
    y = F.hardswish(x)
    check.tensor("hardswish([-3, 3])", y, [0.0, 3.0], dtype=dtype, device=device)
    if way == "backward":
        y.sum().backward()
        g = x.grad
    else:
        (g,) = torch.autograd.grad(y.sum(), x)
    check.hazard(f"d/dx hardswish at [-3, 3] ({way})", g, wrong=[-0.5, 1.5], truth=[0.0, 1.0], present=HARDSWISH_HAZARD,
                 exact=True)


KINKS = {
    "torch.abs at 0": (torch.abs, [0.0]),
    "torch.relu at 0": (torch.relu, [0.0]),
    "F.relu at 0": (F.relu, [0.0]),
    "F.relu6 at 0 and 6": (F.relu6, [0.0, 6.0]),
    "F.hardtanh at -1 and 1": (F.hardtanh, [-1.0, 1.0]),
}


@claim(
    "KINK-001",
    "At their kinks abs, relu, relu6 and hardtanh give the minimum-norm subgradient 0 (abs'(0) = relu'(0) = 0, "
    "relu6' = 0 at 0 and 6, hardtanh' = 0 at -1 and 1), by backward() and by autograd.grad alike.",
    section="Non-smooth and undefined points",
)
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("spelling", list(KINKS))
def test_kinks_give_minimum_norm_subgradient(spelling, way, device, dtype, check):
    f, points = KINKS[spelling]
    x = tensor(points, device, dtype)
    g = gradient(f(x).sum(), x, way)
    check.tensor(f"d/dx {spelling} ({way})", g, [0.0] * len(points), dtype=dtype, device=device)


NORMS = {
    "torch.linalg.vector_norm(x)": lambda x: torch.linalg.vector_norm(x),
    "torch.linalg.norm(x)": lambda x: torch.linalg.norm(x),
    "torch.norm(x)": lambda x: torch.norm(x),
    "x.norm(p=2)": lambda x: x.norm(p=2),
}


@claim(
    "KINK-002",
    "The Euclidean norm of the zero vector has the minimum-norm subgradient [0, 0]: vector_norm, linalg.norm, "
    "torch.norm and Tensor.norm(p=2) at x = [0, 0] give gradient [0, 0] (a distance function ||x - x0|| used for a "
    "hard boundary constraint is safe at x0), by backward() and by autograd.grad.",
    section="Non-smooth and undefined points",
)
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("spelling", list(NORMS))
def test_norm_at_zero_gives_zero(spelling, way, device, dtype, check):
    x = tensor([0.0, 0.0], device, dtype)
    g = gradient(NORMS[spelling](x), x, way)
    check.tensor(f"d/dx {spelling} at [0, 0] ({way})", g, [0.0, 0.0], dtype=dtype, device=device)


@claim(
    "KINK-003",
    "leaky_relu at 0 gives its negative slope, the minimum-norm subgradient of [slope, 1]: 0.01 by default, 0.2 "
    "with negative_slope=0.2, by backward() and by autograd.grad.",
    section="Non-smooth and undefined points",
)
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("slope", [None, 0.2])
def test_leaky_relu_at_zero_gives_its_slope(slope, way, device, dtype, form, check):
    x = scalar(0.0, form, device=device, dtype=dtype, requires_grad=True)
    y = F.leaky_relu(x) if slope is None else F.leaky_relu(x, negative_slope=slope)
    g = gradient(y.sum(), x, way)
    check.close(f"d/dx leaky_relu(x{'' if slope is None else ', 0.2'}) at 0 ({way})", g, 0.01 if slope is None else slope,
                dtype=dtype, device=device, shape=x.shape)


@claim(
    "KINK-004",
    "Where continuity gives an infinite derivative, autograd returns inf: d/dx sqrt(x) and d/dx x**0.5 at 0 are "
    "+inf, by backward() and by autograd.grad.",
    section="Non-smooth and undefined points",
)
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("spelling", ["torch.sqrt(x)", "x ** 0.5"])
def test_sqrt_at_zero_is_infinite(spelling, way, device, dtype, form, check):
    x = scalar(0.0, form, device=device, dtype=dtype, requires_grad=True)
    y = torch.sqrt(x) if spelling == "torch.sqrt(x)" else x**0.5
    check.tensor(f"{spelling} at 0", y, 0.0, dtype=dtype, device=device)
    g = gradient(y.sum(), x, way)
    check.tensor(f"d/dx {spelling} at 0 ({way})", g, float("inf"), dtype=dtype, device=device, shape=x.shape)


@claim(
    "KINK-005",
    "At points where the function is undefined the gradient is arbitrary, as the autograd note allows: "
    "d/dx sqrt(x) at -1 is NaN, but d/dx log(x) at -1 is -1 (the formula 1/x evaluated outside the domain), not "
    "NaN; by backward() and by autograd.grad.",
    section="Non-smooth and undefined points",
)
@pytest.mark.parametrize("way", WAYS)
def test_undefined_points(way, device, dtype, check):
    x = tensor(-1.0, device, dtype)
    check.equal(f"d/dx sqrt(x) at -1 ({way})", as_text(gradient(torch.sqrt(x), x, way)), ["nan"])
    x = tensor(-1.0, device, dtype)
    y = torch.log(x)
    check.equal("log(-1)", as_text(y), ["nan"])
    check.tensor(f"d/dx log(x) at -1 ({way})", gradient(y, x, way), -1.0, dtype=dtype, device=device, shape=())


@claim(
    "KINK-006",
    "The chain rule does not see through an identity: d/dx sqrt(x*x) at 0 is NaN (2x = 0 times sqrt'(0) = inf), "
    "while d/dx abs(x) at 0, the same function, is 0; by backward() and by autograd.grad.",
    section="Non-smooth and undefined points",
)
@pytest.mark.parametrize("way", WAYS)
def test_sqrt_of_square_at_zero_is_nan(way, device, dtype, check):
    x = tensor(0.0, device, dtype)
    check.equal(f"d/dx sqrt(x*x) at 0 ({way})", as_text(gradient(torch.sqrt(x * x), x, way)), ["nan"])
    x = tensor(0.0, device, dtype)
    check.tensor(f"d/dx abs(x) at 0 ({way})", gradient(torch.abs(x), x, way), 0.0, dtype=dtype, device=device)


DISTANCES = {
    "torch.sqrt(x**2 + y**2)": (lambda p: torch.sqrt(p[0] ** 2 + p[1] ** 2), ["nan", "nan"]),
    "torch.hypot(x, y)": (lambda p: torch.hypot(p[0], p[1]), ["nan", "nan"]),
    "torch.linalg.vector_norm(p)": (lambda p: torch.linalg.vector_norm(p), ["0.0", "0.0"]),
}


@claim(
    "KINK-007",
    "A hand-written distance function for a hard boundary constraint, d(x, y) = sqrt(x**2 + y**2), has gradient "
    "[nan, nan] at the origin, and so has torch.hypot(x, y); torch.linalg.vector_norm of the same point gives "
    "[0, 0]; by backward() and by autograd.grad.",
    section="Non-smooth and undefined points",
)
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("spelling", list(DISTANCES))
def test_hand_written_distance_at_origin_is_nan(spelling, way, device, dtype, check):
    f, expected = DISTANCES[spelling]
    p = tensor([0.0, 0.0], device, dtype)
    d = f(p)
    check.tensor(f"{spelling} at the origin", d, 0.0, dtype=dtype, device=device)
    check.equal(f"gradient of {spelling} at the origin ({way})", as_text(gradient(d, p, way)), expected)


NAN_IN_POW = r"^Function 'PowBackward0' returned nan values in its 0th output\.$"


@claim(
    "KINK-008",
    "torch.autograd.detect_anomaly(check_nan=True) turns the NaN gradient of sqrt(x**2 + y**2) at the origin into "
    "RuntimeError \"Function 'PowBackward0' returned nan values in its 0th output.\" (the node that produced the "
    "NaN, x**2, not the sqrt), after warning 'Error detected in PowBackward0'; without anomaly mode, or with "
    "check_nan=False, the gradient is [nan, nan] and nothing is raised; by backward() and by autograd.grad.",
    section="Non-smooth and undefined points",
)
@pytest.mark.parametrize("way", WAYS)
def test_detect_anomaly_names_the_node_that_made_nan(way, device, dtype, check):
    with tolerating(UserWarning, "Anomaly Detection has been enabled"):
        p = tensor([0.0, 0.0], device, dtype)
        with torch.autograd.detect_anomaly(check_nan=True):
            d = torch.sqrt(p[0] ** 2 + p[1] ** 2)
            with check.warns(f"anomaly mode's forward traceback ({way})", UserWarning, r"Error detected in PowBackward0"):
                with check.raises(f"detect_anomaly(check_nan=True): {way}", RuntimeError, NAN_IN_POW):
                    gradient(d, p, way)

        p = tensor([0.0, 0.0], device, dtype)
        with torch.autograd.detect_anomaly(check_nan=False):
            d = torch.sqrt(p[0] ** 2 + p[1] ** 2)
            g = check.works(f"detect_anomaly(check_nan=False): {way}", lambda: gradient(d, p, way))
        check.equal(f"gradient under detect_anomaly(check_nan=False) ({way})", as_text(g), ["nan", "nan"])

    p = tensor([0.0, 0.0], device, dtype)
    d = torch.sqrt(p[0] ** 2 + p[1] ** 2)
    g = check.works(f"no anomaly mode: {way}", lambda: gradient(d, p, way))
    check.equal(f"gradient without anomaly mode ({way})", as_text(g), ["nan", "nan"])


@claim(
    "KINK-009",
    "Second derivatives at a kink: abs and relu have second derivative 0 at 0, but the Euclidean norm, whose "
    "curvature is unbounded at the zero vector, gives first derivative [0, 0] and second derivative [nan, nan] "
    "there (d/dx of the summed first derivative of vector_norm at [0, 0]): the Laplacian of a PINN ansatz built "
    "on a distance function ||x - x0|| is NaN at x0.",
    section="Non-smooth and undefined points",
)
def test_second_derivative_at_kinks(device, dtype, check):
    for name, f in [("abs", torch.abs), ("relu", torch.relu)]:
        x = tensor(0.0, device, dtype)
        (g,) = torch.autograd.grad(f(x), x, create_graph=True)
        (h,) = torch.autograd.grad(g, x, allow_unused=True)
        check.tensor(f"d2/dx2 {name}(x) at 0", torch.zeros_like(x) if h is None else h + 0, 0.0, dtype=dtype, device=device)
    p = tensor([0.0, 0.0], device, dtype)
    (g,) = torch.autograd.grad(torch.linalg.vector_norm(p), p, create_graph=True)
    check.tensor("d/dp vector_norm(p) at [0, 0]", g, [0.0, 0.0], dtype=dtype, device=device)
    (h,) = torch.autograd.grad(g.sum(), p)
    check.equal("d/dp of the summed first derivative of vector_norm at [0, 0]", as_text(h), ["nan", "nan"])


@claim(
    "KINK-010",
    "Ties in reductions: torch.max(x), torch.amax(x), torch.min(x), torch.amin(x) and torch.median(x) split the "
    "gradient evenly between equal extreme values ([0.5, 0.5, 0] at x = [1, 1, 0], or [1, 1, 2] for min), while "
    "max(x, dim=0), min(x, dim=0) and median(x, dim=0) send it to a single one of them, as the docs of max and "
    "median say.",
    section="Non-smooth and undefined points",
)
@pytest.mark.parametrize(
    "spelling",
    ["torch.max(x)", "torch.amax(x)", "torch.min(x)", "torch.amin(x)", "torch.median(x)",
     "torch.max(x, dim=0)", "torch.min(x, dim=0)", "torch.median(x, dim=0)"],
)
def test_ties_in_reductions(spelling, device, dtype, check):
    ties_low = "min" in spelling
    x = tensor([1.0, 1.0, 2.0] if ties_low else [1.0, 1.0, 0.0], device, dtype)
    name = spelling.split("(")[0].split(".")[1]
    if "dim" in spelling:
        y = getattr(torch, name)(x, dim=0).values
        g = gradient(y, x, "autograd.grad")
        check.tensor(f"{spelling}: gradient of the non-tied element", g[2], 0.0, dtype=dtype, device=device)
        check.equal(f"{spelling}: tied elements that get the gradient", sorted(as_text(g[:2])), ["0.0", "1.0"])
    else:
        g = gradient(getattr(torch, name)(x), x, "autograd.grad")
        check.tensor(f"d/dx {spelling} at {x.tolist()}", g, [0.5, 0.5, 0.0], dtype=dtype, device=device)


@claim(
    "KINK-011",
    "The safe way to mask an undefined branch is to mask its input too: y = where(x > 0, sqrt(where(x > 0, x, 1)), "
    "0) at x = [-1, 0, 4] has gradient [0, 0, 0.25] (the plain where(x > 0, sqrt(x), 0) gives NaN, hazard HZ-006); "
    "by backward() and by autograd.grad.",
    section="Non-smooth and undefined points",
)
@pytest.mark.parametrize("way", WAYS)
def test_double_where_masks_the_undefined_branch(way, device, dtype, check):
    x = tensor([-1.0, 0.0, 4.0], device, dtype)
    y = torch.where(x > 0, torch.sqrt(torch.where(x > 0, x, torch.ones_like(x))), torch.zeros_like(x))
    check.tensor("where(x > 0, sqrt(where(x > 0, x, 1)), 0)", y, [0.0, 0.0, 2.0], dtype=dtype, device=device)
    check.tensor(f"its gradient ({way})", gradient(y.sum(), x, way), [0.0, 0.0, 0.25], dtype=dtype, device=device)


@claim(
    "KINK-012",
    "atan2(y, x) at the origin, where the angle of polar coordinates is undefined, returns 0 and a gradient that "
    "changed: [nan, nan] before torch 2.10, [0, 0] since; by backward() and by autograd.grad.",
    section="Non-smooth and undefined points",
)
@pytest.mark.parametrize("way", WAYS)
def test_atan2_at_origin(way, device, dtype, check):
    p = tensor([0.0, 0.0], device, dtype)
    theta = torch.atan2(p[1], p[0])
    check.tensor("atan2(0, 0)", theta, 0.0, dtype=dtype, device=device)
    check.equal(f"gradient of atan2(y, x) at the origin ({way})", as_text(gradient(theta, p, way)), ATAN2_AT_ORIGIN)


WHERE_SPELLINGS = {
    "where(x > 0, x, zeros_like(x)) at 0": lambda x: torch.where(x > 0, x, zero_like(x)),
    "where(x > 0, x, 0.0) at 0": lambda x: torch.where(x > 0, x, 0.0),
}


@claim(
    "KINK-013",
    "The spelling where(x > 0, x, 0) of max(x, 0), which the chapter-3 inventory lists beside relu, gives the "
    "minimum-norm subgradient 0 at x = 0 (with a zeros tensor or the Python scalar 0.0 as the other branch), by "
    "backward(), autograd.grad and forward mode, and 1 at x = 1.",
    section="Non-smooth and undefined points",
    ref="https://pytorch.org/docs/stable/notes/autograd.html#gradients-for-non-differentiable-functions",
)
@pytest.mark.parametrize("way", HAZARD_WAYS)
@pytest.mark.parametrize("spelling", list(WHERE_SPELLINGS))
def test_where_spelling_of_relu(spelling, way, device, dtype, form, check):
    f = WHERE_SPELLINGS[spelling]
    check.tensor(f"d/dx {spelling} ({way})", derivative(f, 0.0, way, device, dtype, form), 0.0, dtype=dtype,
                 device=device)
    check.tensor(f"d/dx {spelling.replace('at 0', 'at 1')} ({way})", derivative(f, 1.0, way, device, dtype, form),
                 1.0, dtype=dtype, device=device)


#: The kinks of KINK-001, KINK-003 and KINK-004 as forward-mode tangents: (f, points, tangent at each point).
FORWARD_KINKS = {
    "torch.abs at 0": (lambda x: torch.abs(x), [0.0], [0.0]),
    "torch.relu at 0": (lambda x: torch.relu(x), [0.0], [0.0]),
    "F.relu at 0": (lambda x: F.relu(x), [0.0], [0.0]),
    "F.relu6 at 0 and 6": (lambda x: F.relu6(x), [0.0, 6.0], [0.0, 0.0]),
    "F.hardtanh at -1 and 1": (lambda x: F.hardtanh(x), [-1.0, 1.0], [0.0, 0.0]),
    "F.leaky_relu at 0": (lambda x: F.leaky_relu(x), [0.0], [0.01]),
    "torch.sqrt at 0": (lambda x: torch.sqrt(x), [0.0], [float("inf")]),
}


@claim(
    "KINK-014",
    "Forward mode gives the same values at kinks as reverse mode: with tangent 1, abs, relu and F.relu at 0, relu6 "
    "at 0 and 6 and hardtanh at -1 and 1 have tangent 0, leaky_relu at 0 has 0.01 and sqrt at 0 has +inf; and "
    "vector_norm of zeros(2) with tangent [1, 1] has tangent 0 (the minimum-norm subgradient [0, 0] times v).",
    section="Non-smooth and undefined points",
    ref="https://pytorch.org/docs/stable/notes/autograd.html#gradients-for-non-differentiable-functions",
)
@pytest.mark.parametrize("spelling", [*FORWARD_KINKS, "torch.linalg.vector_norm at [0, 0]"])
def test_forward_mode_at_kinks(spelling, device, dtype, check):
    fwAD = torch.autograd.forward_ad
    if spelling in FORWARD_KINKS:
        f, points, expected = FORWARD_KINKS[spelling]
    else:
        f, points, expected = (lambda x: torch.linalg.vector_norm(x)), [0.0, 0.0], 0.0
    with quiet_dynamo(), fwAD.dual_level():
        x0 = tensor(points, device, dtype, requires_grad=False)
        tangent = fwAD.unpack_dual(f(fwAD.make_dual(x0, torch.ones_like(x0)))).tangent
    check.tensor(f"forward-mode tangent of {spelling}", tangent, expected, dtype=dtype, device=device)
