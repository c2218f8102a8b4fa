"""Chapter 3, hazards: places where torch returns a wrong number at a non-smooth or undefined point, without an
error.  Each claim states the true value and the observed one, cites the upstream issue (or the autograd note's
rule when there is none), passes while the hazard is present and reports "hazard fixed" the day a release fixes it.

The truth at a kink is the autograd note's rule "Gradients for non-differentiable functions": where the function
is convex but not differentiable, the minimum-norm subgradient -- 0 for max(x, 0) at 0, as relu gives.
"""

import pytest
import torch

from spec import by_version, claim
from spec.check import tolerating
from spec.suite.support import LAZY_IMPORT, scalar

F = torch.nn.functional
WAYS = ["backward", "autograd.grad", "forward-mode"]
#: The stable part of the version-counter error (the node it names, "output 0 of SigmoidBackward0" on 2.0-2.8 and
#: "output 0 of Sigmoid" on 2.13, is left out).
MODIFIED_INPLACE = r"modified by an inplace operation: .*is at version 1; expected version 0 instead"

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


def derivative(f, point, way, device, dtype, form="0-dim"):
    """d/dx f(x) at ``point``, the way a user gets it: backward(), autograd.grad, or a forward-mode tangent."""
    if way == "forward-mode":
        fwAD = torch.autograd.forward_ad
        with tolerating(Warning, LAZY_IMPORT), fwAD.dual_level():
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
@pytest.mark.parametrize("way", WAYS)
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
@pytest.mark.parametrize("way", WAYS)
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
@pytest.mark.parametrize("way", WAYS)
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
@pytest.mark.parametrize("way", WAYS[:2])
@pytest.mark.parametrize("spelling", list(TENSOR_TIES))
def test_tensor_bound_ties(spelling, way, device, dtype, check):
    g = derivative(TENSOR_TIES[spelling], 0.0, way, device, dtype)
    check.hazard(f"d/dx {spelling} ({way})", g, wrong=TIE_WRONG, truth=0.0, exact=True)


@claim(
    "HZ-005",
    "Hazard: out = a.sigmoid(); out.data.zero_(); out.sum().backward() gives a.grad = [0, 0, 0] at a = [1, 2, 3] "
    "without an error, where the true gradient is sigmoid'(a) = [0.19661, 0.10499, 0.04518]: .data hides the "
    "in-place change from the version counter (out._version stays 0); the same through autograd.grad.",
    section="Writing into inputs and views",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/6990",
)
@pytest.mark.parametrize("way", WAYS[:2])
def test_data_inplace_gives_wrong_gradient(way, device, dtype, check):
    a = tensor([1.0, 2.0, 3.0], device, dtype)
    truth = (torch.sigmoid(a) * (1 - torch.sigmoid(a))).detach()
    out = a.sigmoid()
    out.data.zero_()
    version = out._version

    def grad():
        if way == "backward":
            out.sum().backward()
            return a.grad
        return torch.autograd.grad(out.sum(), a)[0]

    check.hazard(f"a.grad after out.data.zero_() ({way})", grad, wrong=[0.0, 0.0, 0.0], truth=truth,
                 fixed_by_error=MODIFIED_INPLACE)
    check.equal("out._version after out.data.zero_()", version, 0)


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
@pytest.mark.parametrize("way", WAYS[:2])
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
@pytest.mark.parametrize("way", WAYS[:2])
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
@pytest.mark.parametrize("way", WAYS[:2])
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
@pytest.mark.parametrize("way", WAYS[:2])
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
