"""Part 2, "Higher-order derivatives": when a derivative has no graph left, and per-sample Hessians."""

import math

import pytest
import torch

from spec import by_version, claim, dtypes
from spec.suite import pinn
from spec.suite.support import NO_GRAD_FN, UNUSED, quiet_dynamo, scalar

#: the once-per-process burst from torch.func's forward mode (see test_element_wise_derivatives.py)

#: The start of the unused-input message changed in torch 2.13 (see UNUSED-001).
HO_UNUSED_MESSAGE = by_version(
    "HO-003/message",
    {
        "<2.13": r"^One of the differentiated Tensors appears to not have been used in the graph",
        ">=2.13": r"^The differentiated Tensor at index 0 appears to not have been used in the graph",
    },
    ref="https://github.com/pytorch/pytorch/pull/181917",
)


def derivatives(b, a, count, check):
    """The first ``count`` derivatives of ``b`` with respect to ``a``, each with create_graph=True."""
    out = []
    for k in range(1, count + 1):
        (b,) = check.works(f"grad no. {k}", lambda b=b: torch.autograd.grad(b, a, create_graph=True))
        out.append(b)
    return out


def func_derivative(f, k):
    """The k-th derivative of ``f`` by applying torch.func.grad k times (each level sums, as grad wants a scalar)."""
    for _ in range(k):
        f = (lambda g: lambda t: g(t).sum())(torch.func.grad(f))
    return f


@claim(
    "HO-001",
    "A derivative that is a constant has no graph, so the next grad raises even with create_graph=True: for "
    "b = a*a*a at a = 3 the derivatives are 27, 18 and then 6 with no grad_fn, and a 4th grad raises "
    "'does not require grad and does not have a grad_fn'.",
    section="Higher-order derivatives",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_constant_derivative_has_no_graph(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    d1, d2, d3 = derivatives(a * a * a, a, 3, check)
    check.tensor("d/da (a*a*a)", d1, 27.0, dtype=dtype)
    check.flags("d/da", d1, requires_grad=True, grad_fn=True)
    check.tensor("d2/da2 (a*a*a)", d2, 18.0, dtype=dtype)
    check.flags("d2/da2", d2, requires_grad=True, grad_fn=True)
    check.tensor("d3/da3 (a*a*a)", d3, 6.0, dtype=dtype)
    check.flags("d3/da3", d3, requires_grad=False, grad_fn=None)
    with check.raises("4th grad of a*a*a", RuntimeError, NO_GRAD_FN):
        torch.autograd.grad(d3, a, create_graph=True)


@claim(
    "HO-002",
    "Whether a higher derivative raises depends on how each op's backward is written: for b = a**3 at a = 3 the "
    "derivatives 27, 18, 6 all keep a graph, the 4th is 0 with no grad_fn, and only the 5th grad raises; "
    "torch.func.grad applied 1 to 4 times gives the same 27, 18, 6 and 0.",
    section="Higher-order derivatives",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_pow_keeps_graph_one_order_longer(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    ds = derivatives(a**3, a, 4, check)
    for k, (d, want) in enumerate(zip(ds, [27.0, 18.0, 6.0, 0.0]), start=1):
        check.tensor(f"d{k} of a**3", d, want, dtype=dtype)
    for k, d in enumerate(ds[:3], start=1):
        check.flags(f"d{k} of a**3", d, requires_grad=True, grad_fn=True)
    check.flags("d4 of a**3", ds[3], requires_grad=False, grad_fn=None)
    with check.raises("5th grad of a**3", RuntimeError, NO_GRAD_FN):
        torch.autograd.grad(ds[3], a, create_graph=True)
    for k, want in enumerate([27.0, 18.0, 6.0, 0.0], start=1):
        name = f"torch.func.grad applied {k} times to a**3"
        dk = check.works(name, lambda k=k: torch.func.grad(func_derivative(lambda t: (t**3).sum(), k - 1))(a.detach()))
        check.tensor(name, dk, want, dtype=dtype, shape=a.shape)


@claim(
    "HO-003",
    "A linear model's second derivative with respect to its input is 'unused': for u = x @ W + b with W requiring "
    "grad, u_x = grad(u.sum(), x, create_graph=True) depends on W only, and grad(u_x.sum(), x) raises "
    "'appears to not have been used in the graph' (allow_unused=True gives None).",
    section="Higher-order derivatives",
)
def test_linear_model_second_derivative_unused(device, dtype, check):
    W, b = pinn.params((2, 1), dtype=dtype, device=device)
    W.requires_grad_(True)
    b.requires_grad_(True)
    x = pinn.points(5, dtype=dtype, device=device).requires_grad_(True)
    u = x @ W + b
    (u_x,) = check.works("grad(u.sum(), x, create_graph=True)", lambda: torch.autograd.grad(u.sum(), x, create_graph=True))
    check.flags("u_x", u_x, requires_grad=True, grad_fn=True)
    check.tensor("u_x", u_x, W.detach().T.expand(5, 2), dtype=dtype, device=device, shape=(5, 2))
    with check.raises("grad(u_x.sum(), x)", RuntimeError, UNUSED) as box:
        torch.autograd.grad(u_x.sum(), x, retain_graph=True)
    check.matches("the message's start", str(box["exception"]), HO_UNUSED_MESSAGE)
    (u_xx,) = check.works("grad(u_x.sum(), x, allow_unused=True)", lambda: torch.autograd.grad(u_x.sum(), x, allow_unused=True))
    check.none("grad(u_x.sum(), x, allow_unused=True)", u_xx)


@claim(
    "HO-004",
    "A ReLU network's second derivative with respect to its input is silently zero (no error), where the same "
    "network with tanh has a non-zero one: 2-16-16-1 MLP at 8 points, by the sum trick and by "
    "torch.func.vmap(torch.func.hessian(u)).",
    section="Higher-order derivatives",
)
def test_relu_second_derivative_is_zero(device, dtype, check):
    ps = [p.requires_grad_(True) for p in pinn.params(dtype=dtype, device=device)]
    X = pinn.points(8, dtype=dtype, device=device).requires_grad_(True)
    results = {}
    for name, act in [("relu", lambda h: torch.relu(h)), ("tanh", lambda h: torch.tanh(h))]:
        u = pinn.u(ps, X, act=act)
        (du,) = check.works(f"{name}: grad(u.sum(), X)", lambda u=u: torch.autograd.grad(u.sum(), X, create_graph=True))
        (d2,) = check.works(f"{name}: grad(u_x.sum(), X)", lambda du=du: torch.autograd.grad(du[:, 0].sum(), X))
        results[name] = d2
    check.tensor("second derivative of the ReLU net", results["relu"], 0.0, dtype=dtype, device=device, shape=(8, 2))
    check.true("second derivative of the tanh net is not all zero", bool(results["tanh"].abs().max() > 1e-3))
    fixed = [p.detach() for p in ps]
    with quiet_dynamo():
        H = check.works("vmap(hessian(relu net))", lambda: torch.func.vmap(torch.func.hessian(
            pinn.u_one(fixed, act=lambda h: torch.relu(h))))(X.detach()))
    check.tensor("vmap(hessian(relu net))", H, 0.0, dtype=dtype, device=device, shape=(8, 2, 2))


@claim(
    "HO-005",
    "torch.func.vmap(torch.func.hessian(u)) gives one d x d Hessian per sample, equal to a loop of "
    "torch.autograd.functional.hessian over the points (vectorize False or True): 2-16-16-1 tanh MLP at 8 points "
    "gives shape (8, 2, 2).",
    section="Higher-order derivatives",
)
def test_per_sample_hessians(device, dtype, check):
    ps = pinn.params(dtype=dtype, device=device)
    X = pinn.points(8, dtype=dtype, device=device)
    f = pinn.u_one(ps)
    with quiet_dynamo():
        H = check.works("vmap(hessian(u))", lambda: torch.func.vmap(torch.func.hessian(f))(X))
        options = {
            "": {},
            ", vectorize=True": {"vectorize": True},
        }
        for text, kwargs in options.items():
            name = f"loop of autograd.functional.hessian{text}"
            loop = check.works(name, lambda kw=kwargs: torch.stack(
                [torch.autograd.functional.hessian(f, z, **kw) for z in X]))
            check.close(f"vmap(hessian) vs {name}", H, loop, dtype=dtype, device=device, shape=(8, 2, 2))
    check.close("each Hessian is symmetric", H, H.transpose(1, 2), dtype=dtype)


@claim(
    "HO-006",
    "The element-wise derivatives of sin of orders 2, 3 and 4 are -sin, -cos and sin: vmap(hessian(torch.sin)) "
    "(then jacfwd and jacrev of it), vmap(grad(grad(torch.sin))) (then grad again) and the sum trick applied 2, 3 "
    "and 4 times all give them at x = [0.1, 0.5, 1, 2].",
    section="Higher-order derivatives",
)
@pytest.mark.parametrize("route", ["vmap(hessian)", "vmap(grad(grad))", "sum trick twice"])
def test_second_derivative_of_sin(route, device, dtype, check):
    points = [0.1, 0.5, 1.0, 2.0]
    x = torch.tensor(points, device=device, dtype=dtype)
    truth = {  # plain Python, not torch
        2: [-math.sin(p) for p in points], 3: [-math.cos(p) for p in points], 4: [math.sin(p) for p in points],
    }
    if route == "vmap(hessian)":
        second = torch.func.hessian(torch.sin)
        fns = {2: second, 3: torch.func.jacfwd(second), 4: torch.func.jacrev(torch.func.jacfwd(second))}
        with quiet_dynamo():
            ds = {k: check.works(f"order {k}", lambda fn=fn: torch.func.vmap(fn)(x)) for k, fn in fns.items()}
    elif route == "vmap(grad(grad))":
        g = torch.func.grad
        fns = {2: g(g(torch.sin)), 3: g(g(g(torch.sin))), 4: g(g(g(g(torch.sin))))}
        ds = {k: check.works(f"order {k}", lambda fn=fn: torch.func.vmap(fn)(x)) for k, fn in fns.items()}
    else:
        xr = x.clone().requires_grad_(True)
        d, ds = torch.sin(xr), {}
        for k in range(1, 5):
            (d,) = check.works(f"order {k}", lambda d=d, k=k: torch.autograd.grad(d.sum(), xr, create_graph=k < 4))
            ds[k] = d
    for k in (2, 3, 4):
        check.close(f"{route}: order {k} of sin", ds[k], truth[k], dtype=dtype, device=device, shape=(4,))
