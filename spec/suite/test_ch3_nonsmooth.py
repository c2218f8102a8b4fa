"""Chapter 3, "Non-smooth and undefined points": what autograd returns at kinks (|x|, relu, norms), where the
derivative is infinite (sqrt at 0) and where the function is undefined (sqrt(-1), log(-1)); the points a PINN
hits when it builds hard boundary constraints from abs, clamp and distance functions.

The rule is the autograd note's "Gradients for non-differentiable functions": at a point where the function is
convex but not differentiable, the minimum-norm subgradient; infinity where continuity gives it; an arbitrary
value (most often NaN) where the function is undefined.  The spellings of a kink that break the rule are
hazards: see ``test_ch3_hazards_numeric.py``.
"""

import pytest
import torch

from spec import by_version, claim
from spec.check import tolerating
from spec.suite.support import scalar

F = torch.nn.functional
WAYS = ["backward", "autograd.grad"]

#: atan2's backward divides by y**2 + x**2, which gave 0 * inf = NaN at the origin; the fix returns 0 there.
ATAN2_AT_ORIGIN = by_version(
    "KINK-012/atan2 gradient at the origin",
    {"<2.10": ["nan", "nan"], ">=2.10": ["0.0", "0.0"]},
    ref="https://github.com/pytorch/pytorch/pull/166787",
    note="issue https://github.com/pytorch/pytorch/issues/165427; observed [nan, nan] on 2.0.1, 2.4.1, 2.8.0 and "
    "[0, 0] on 2.13.0, 2.14.1, 2.15.0; the first release with the fix (2.10, the PR opened 2025-11-01) is "
    "unconfirmed",
)


def tensor(values, device, dtype):
    return torch.tensor(values, device=device, dtype=dtype, requires_grad=True)


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
