"""Part 2, "General laws": rules that hold for every graph, checked on graphs that hypothesis draws.

The examples are deterministic (profile ``ci`` in ``spec/suite/hypothesis_profiles.py``).
Each example records one observable, so the results file shows what was compared
without growing with every intermediate tensor.
"""

import math
import re
from functools import reduce

import torch
from hypothesis import given
from hypothesis import strategies as st

from spec import claim
from spec.suite import hypothesis_profiles  # noqa: F401  (registers the profiles)
from spec.suite.support import NO_GRAD_FN

# ------------------------------------------------------------------ LAW-001: requires_grad inheritance

UNARY = {
    "sin": lambda x: torch.sin(x),
    "neg": lambda x: -x,
    "twice": lambda x: x * 2,
    "tanh": lambda x: torch.tanh(x),
}
BINARY = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
}

chains = st.tuples(
    st.lists(st.booleans(), min_size=1, max_size=4),  # requires_grad of each user tensor
    st.lists(  # each step: an op and the indices of its operands among the tensors so far
        st.tuples(st.sampled_from(sorted(UNARY) + sorted(BINARY)), st.integers(0, 63), st.integers(0, 63)),
        min_size=1,
        max_size=8,
    ),
)


@claim(
    "LAW-001",
    "In any chain of operations on user-created tensors with any requires_grad flags, a result requires grad "
    "if and only if a user tensor it depends on does, and a tensor is a leaf if and only if it does not "
    "require grad or the user created it.",
    section="General laws",
)
@given(chain=chains)
def test_requires_grad_inheritance_over_random_chains(device, dtype, check, chain):
    flags, steps = chain
    tensors = [torch.tensor([0.5, -1.5], requires_grad=f, device=device, dtype=dtype) for f in flags]
    needs = list(flags)  # the rule: does a user tensor on its path require grad?
    user_made = [True] * len(flags)
    for op, i, j in steps:
        i, j = i % len(tensors), j % len(tensors)
        if op in UNARY:
            tensors.append(UNARY[op](tensors[i]))
            needs.append(needs[i])
        else:
            tensors.append(BINARY[op](tensors[i], tensors[j]))
            needs.append(needs[i] or needs[j])
        user_made.append(False)

    observed = [[t.requires_grad, t.is_leaf, t.grad_fn is not None] for t in tensors]
    expected = [[n, (not n) or u, n and not u] for n, u in zip(needs, user_made, strict=True)]
    check.equal(f"[requires_grad, is_leaf, has grad_fn] for {flags} then {steps}", observed, expected)


# ------------------------------------------------------------------ LAW-002: k-th derivatives of polynomials

polynomials = st.tuples(
    st.lists(st.integers(-3, 3), min_size=2, max_size=5),  # c0 .. c_deg, degree 1 to 4
    st.integers(-3, 3),  # the point
    st.integers(1, 4),  # k
    st.sampled_from(["product", "power"]),  # x*x*x or x**3
)


def analytic_derivative(coeffs, k, point):
    """The k-th derivative of sum(c_i x^i) at the point, in exact integers."""
    return sum(c * math.perm(i, k) * point ** (i - k) for i, c in enumerate(coeffs) if i >= k)


def build(coeffs, x, style):
    terms = [c * (reduce(lambda acc, _: acc * x, range(i - 1), x) if style == "product" else x**i)
             for i, c in enumerate(coeffs) if i >= 1]
    return coeffs[0] + reduce(lambda acc, t: acc + t, terms)


@claim(
    "LAW-002",
    "The k-th derivative of a polynomial with small integer coefficients, taken by applying torch.autograd.grad "
    "k times with create_graph=True, equals the analytic one exactly at small integer points (for k up to 4, "
    "written as x*x*x or as x**3); a derivative that has no graph is constant, and differentiating it again "
    "raises the 'does not require grad' error; torch.func.grad applied k times gives the analytic value at every order.",
    section="General laws",
)
@given(poly=polynomials)
def test_kth_derivative_of_random_polynomial(device, dtype, check, poly):
    coeffs, point, k, style = poly
    x = torch.tensor(float(point), requires_grad=True, device=device, dtype=dtype)
    y = build(coeffs, x, style)

    observed, expected = [], []
    for order in range(1, k + 1):
        if y.requires_grad:
            (y,) = torch.autograd.grad(y, x, create_graph=True)
            observed.append(y.item())
            expected.append(float(analytic_derivative(coeffs, order, point)))
            continue
        # The previous derivative has no graph: it must be a constant (no term of degree >= order),
        # and torch refuses to differentiate it, as it refuses any tensor without a grad_fn.
        try:
            torch.autograd.grad(y, x, create_graph=True)
        except RuntimeError as exc:
            observed.append("refused" if re.search(NO_GRAD_FN, str(exc)) else f"RuntimeError: {exc}")
        else:
            observed.append("computed without a graph")
        constant = all(c == 0 for c in coeffs[order:])
        expected.append("refused" if constant else float(analytic_derivative(coeffs, order, point)))
        break
    check.equal(f"derivatives 1..{k} of {style} {coeffs} at {point}", observed, expected)

    def by_func():
        fn, out = (lambda t: build(coeffs, t, style)), []
        for _ in range(k):
            fn = torch.func.grad(fn)
            out.append(fn(x.detach()).item())
        return out

    check.equal(f"torch.func.grad 1..{k} times: {style} {coeffs} at {point}", check.works("torch.func.grad", by_func),
                [float(analytic_derivative(coeffs, order, point)) for order in range(1, k + 1)])


# ------------------------------------------------------------------ LAW-003: accumulation over n backward calls

accumulations = st.tuples(
    st.lists(st.integers(-3, 3), min_size=1, max_size=4),  # the values of a
    st.lists(st.integers(-3, 3), min_size=3, max_size=3),  # f(a) = sum(c1*a + c2*a*a + c3*a*a*a)
    st.integers(1, 6),  # the number of backward calls
)


@claim(
    "LAW-003",
    "Gradients accumulate: after n calls of f.backward(retain_graph=True), a.grad equals n times the gradient "
    "of one call, exactly where the arithmetic is exact (integer values and coefficients).",
    section="General laws",
)
@given(case=accumulations)
def test_gradient_accumulates_over_n_backward_calls(device, dtype, check, case):
    values, (c1, c2, c3), n = case
    a = torch.tensor([float(v) for v in values], requires_grad=True, device=device, dtype=dtype)
    f = (c1 * a + c2 * a * a + c3 * a * a * a).sum()
    single = torch.tensor([float(c1 + 2 * c2 * v + 3 * c3 * v * v) for v in values], device=device, dtype=dtype)

    def calls():
        for _ in range(n):
            f.backward(retain_graph=True)

    check.works(f"{n} calls of f.backward(retain_graph=True)", calls)

    check.tensor(f"a.grad after {n} backward calls at {values}", a.grad, n * single, dtype=dtype, device=device)


# ------------------------------------------------------------------ LAW-004: VJP = v @ J

small = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def vjp_cases(draw):
    n, m = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x = draw(st.lists(small, min_size=n, max_size=n))
    w = draw(st.lists(st.lists(small, min_size=n, max_size=n), min_size=m, max_size=m))
    v = draw(st.lists(small, min_size=m, max_size=m))
    act = draw(st.sampled_from(["sin", "tanh", "square"]))
    return x, w, v, act


ACTIVATIONS = {"sin": lambda z: torch.sin(z), "tanh": lambda z: torch.tanh(z), "square": lambda z: z * z}


@claim(
    "LAW-004",
    "For any grad_outputs v, torch.autograd.grad(f(x), x, grad_outputs=v) and f(x).backward(v) give the "
    "vector-Jacobian product v @ J, with J the full Jacobian, which torch.autograd.functional.jacobian returns "
    "(all within the dtype's tolerance of a float64 closed form).",
    section="General laws",
)
@given(case=vjp_cases())
def test_vjp_equals_v_times_full_jacobian(device, dtype, check, case):
    xs, ws, vs, act = case
    x = torch.tensor(xs, requires_grad=True, device=device, dtype=dtype)
    w = torch.tensor(ws, device=device, dtype=dtype)
    v = torch.tensor(vs, device=device, dtype=dtype)

    def f(x):  # R^n -> R^m, the outputs coupled through w and through x.sum()
        return ACTIVATIONS[act](w @ x) * (1 + x.sum())

    # J in plain Python float64 at the dtype's values: J_ij = act'(w_i . x) w_ij (1 + sum(x)) + act(w_i . x).
    xs, ws, vs = x.tolist(), w.tolist(), v.tolist()
    act_math, dact = {"sin": (math.sin, math.cos), "tanh": (math.tanh, lambda z: 1 - math.tanh(z) ** 2),
                      "square": (lambda z: z * z, lambda z: 2 * z)}[act]
    pre = [sum(wij * xj for wij, xj in zip(row, xs)) for row in ws]
    J = [[dact(p) * wij * (1 + sum(xs)) + act_math(p) for wij in row] for p, row in zip(pre, ws)]
    vJ = [sum(vi * J[i][j] for i, vi in enumerate(vs)) for j in range(len(xs))]
    # Rounding grows with the size of the products that are summed, not with their (maybe cancelling) sum.
    scale = 1 + max(sum(abs(vi * J[i][j]) for i, vi in enumerate(vs)) for j in range(len(xs)))
    truth = [t / scale for t in vJ] * 3

    def routes():
        (by_grad,) = torch.autograd.grad(f(x), x, grad_outputs=v)
        f(x).backward(v)
        jacobian = torch.autograd.functional.jacobian(f, x)
        return torch.cat([by_grad, x.grad, v @ jacobian]) / scale

    check.close(f"[grad(grad_outputs=v), x.grad after backward(v), v @ jacobian] / scale for {act}, w={ws}, x={xs}, "
                f"v={vs}", check.works("the three routes to v @ J", routes), truth, dtype=dtype, device=device)
