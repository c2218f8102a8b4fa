"""Part 2, "Hessians and Hessian-vector products": n^2 numbers versus n, and the three ways to an HVP."""

import math

import torch

from spec import claim
from spec.suite.support import quiet_dynamo

N = 32
#: the once-per-process burst from torch.func's forward mode (see test_element_wise_derivatives.py)


def f(x):
    """A scalar function of n inputs with a dense Hessian (the squared norm couples every pair)."""
    return (torch.sin(x) * x.roll(1)).sum() + (x**2).sum() ** 2 / 10


def hessian_in_python(xs):
    """The Hessian of f at the point ``xs`` in plain Python float64 (a reference no change to torch can reach).

    f = sum_i sin(x_i) x_(i-1) + r^2 / 10 with r = sum_i x_i^2 (indices mod n), so
    H = [k == l] (-sin(x_k) x_(k-1)) + [l == k-1] cos(x_k) + [l == k+1] cos(x_l) + (8 x_k x_l + 4 r [k == l]) / 10.
    """
    n, r = len(xs), sum(v * v for v in xs)
    H = [[(8 * xs[k] * xs[j] + (4 * r if k == j else 0.0)) / 10 for j in range(n)] for k in range(n)]
    for k in range(n):
        H[k][k] += -math.sin(xs[k]) * xs[k - 1]
        H[k][(k - 1) % n] += math.cos(xs[k])
        H[k][(k + 1) % n] += math.cos(xs[(k + 1) % n])
    return H


def point_in_python():
    """The point and the vector of :func:`point` in plain Python float64."""
    return [-1.0 + 2.0 * i / (N - 1) for i in range(N)], [math.cos(i) for i in range(N)]


def point(device, dtype):
    x = torch.linspace(-1.0, 1.0, N, dtype=torch.float64)
    v = torch.cos(torch.arange(N, dtype=torch.float64))
    return x.to(device=device, dtype=dtype), v.to(device=device, dtype=dtype)


def hvp_double_grad(x, v):
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(xr), xr, create_graph=True)
    (hv,) = torch.autograd.grad(g, xr, grad_outputs=v)
    return hv


def largest_tensor_created(fn):
    """Run ``fn`` and return the element count of the largest tensor any aten op produced meanwhile."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class Largest(TorchDispatchMode):
        largest = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor):
                    Largest.largest = max(Largest.largest, t.numel())
            return out

    with Largest():
        fn()
    return Largest.largest


@claim(
    "HESS-001",
    "The full Hessian of f: R^n -> R costs n^2 numbers, a Hessian-vector product n: for n = 32, "
    "torch.func.hessian and torch.autograd.functional.hessian return 1024 elements (1024 * itemsize bytes) while an "
    "HVP by double backward, autograd.functional.hvp or torch.func.jvp(torch.func.grad(f)) returns 32, and no "
    "intermediate of the double-backward HVP has more than 32 elements.",
    section="Hessians and Hessian-vector products",
)
def test_hessian_is_n_squared_hvp_is_n(device, dtype, check):
    x, v = point(device, dtype)
    item = torch.empty((), dtype=dtype).element_size()
    with quiet_dynamo():
        full = {
            "torch.func.hessian": check.works("torch.func.hessian", lambda: torch.func.hessian(f)(x)),
            "torch.autograd.functional.hessian": check.works(
                "torch.autograd.functional.hessian", lambda: torch.autograd.functional.hessian(f, x)),
        }
        hvps = {
            "double backward": check.works("double backward", lambda: hvp_double_grad(x, v)),
            "torch.autograd.functional.hvp": check.works(
                "torch.autograd.functional.hvp", lambda: torch.autograd.functional.hvp(f, x, v)[1]),
            "torch.func.jvp(torch.func.grad(f))": check.works(
                "torch.func.jvp(torch.func.grad(f))", lambda: torch.func.jvp(torch.func.grad(f), (x,), (v,))[1]),
        }
    for name, H in full.items():
        check.equal(f"{name}: numel", H.numel(), N * N)
        check.equal(f"{name}: nbytes", H.numel() * H.element_size(), N * N * item)
    for name, hv in hvps.items():
        check.equal(f"{name}: numel", hv.numel(), N)
        check.equal(f"{name}: nbytes", hv.numel() * hv.element_size(), N * item)


@claim("HESS-001")
def test_hvp_never_materializes_n_squared(device, dtype, check):
    """Not only the result: no intermediate of the double-backward HVP has more than n elements."""
    x, v = point(device, dtype)
    check.equal("largest tensor while computing an HVP by double backward", largest_tensor_created(lambda: hvp_double_grad(x, v)), N)
    check.equal(
        "largest tensor while computing torch.autograd.functional.hessian",
        largest_tensor_created(lambda: torch.autograd.functional.hessian(f, x)),
        N * N,
    )


@claim(
    "HESS-002",
    "The same Hessian-vector product H @ v comes from double backward grad(grad(f(x), x, create_graph=True)[0], x, "
    "grad_outputs=v), from torch.autograd.functional.hvp(f, x, v) and vhp(f, x, v) (v^T H = H v, H being symmetric), "
    "from torch.func.jvp(torch.func.grad(f), (x,), (v,)) (forward over reverse) and torch.func.vjp(torch.func.grad(f), "
    "x) (reverse over reverse), equal to H @ v from a float64 closed form within the dtype's tolerance.",
    section="Hessians and Hessian-vector products",
)
def test_three_routes_to_hvp(device, dtype, check):
    x, v = point(device, dtype)
    xs, vs = point_in_python()
    Hv = [sum(h * w for h, w in zip(row, vs)) for row in hessian_in_python(xs)]
    routes = {
        "double backward": lambda: hvp_double_grad(x, v),
        "torch.autograd.functional.hvp": lambda: torch.autograd.functional.hvp(f, x, v)[1],
        "torch.autograd.functional.vhp": lambda: torch.autograd.functional.vhp(f, x, v)[1],
        "torch.func.jvp(torch.func.grad(f))": lambda: torch.func.jvp(torch.func.grad(f), (x,), (v,))[1],
        "torch.func.vjp(torch.func.grad(f))": lambda: torch.func.vjp(torch.func.grad(f), x)[1](v)[0],
    }
    with quiet_dynamo():
        for name, route in routes.items():
            check.close(f"{name} vs H @ v", check.works(name, route), Hv, dtype=dtype, device=device, shape=(N,))


@claim(
    "HESS-003",
    "The Hessian diagonal taken from the full Hessian equals the one assembled from n Hessian-vector products with "
    "the unit vectors e_i (entry i of H e_i), by a loop over i or by one grad call with is_grads_batched=True, "
    "for n = 32.",
    section="Hessians and Hessian-vector products",
)
def test_diagonal_from_n_hvps(device, dtype, check):
    x, _ = point(device, dtype)
    xs, _ = point_in_python()
    truth = [row[i] for i, row in enumerate(hessian_in_python(xs))]  # float64, plain Python
    with quiet_dynamo():
        H = check.works("torch.func.hessian(f)", lambda: torch.func.hessian(f)(x))
    check.close("torch.diagonal(H) vs float64 closed form", torch.diagonal(H), truth, dtype=dtype, device=device)
    xr = x.clone().requires_grad_(True)
    (g,) = check.works("grad(f(x), x, create_graph=True)", lambda: torch.autograd.grad(f(xr), xr, create_graph=True))
    eye = torch.eye(N, device=device, dtype=dtype)
    diag = check.works("n HVPs in a loop", lambda: torch.stack(
        [torch.autograd.grad(g, xr, grad_outputs=eye[i], retain_graph=True)[0][i] for i in range(N)]))
    check.close("diagonal from n HVPs vs torch.diagonal(H)", diag, torch.diagonal(H), dtype=dtype, device=device, shape=(N,))
    check.close("diagonal from n HVPs vs float64 closed form", diag, truth, dtype=dtype, device=device)
    (batched,) = check.works("grad(g, x, grad_outputs=eye, is_grads_batched=True)", lambda: torch.autograd.grad(
        g, xr, grad_outputs=eye, retain_graph=True, is_grads_batched=True))
    check.close("diagonal from is_grads_batched=True vs float64 closed form", torch.diagonal(batched), truth,
                dtype=dtype, device=device, shape=(N,))


FORWARD_NEEDS_VECTORIZE = r"only\s?implemented for `vectorize=True`"


@claim(
    "HESS-004",
    "torch.autograd.functional.jacobian with strategy='forward-mode' and vectorize=True gives the reverse-mode "
    "Jacobian (diag(3, 12) for x**3 at [1, 2]), and strategy='forward-mode' without vectorize=True raises "
    "NotImplementedError '... only implemented for `vectorize=True`'.",
    section="Hessians and Hessian-vector products",
)
def test_jacobian_forward_mode_strategy(device, dtype, check):
    functional = torch.autograd.functional
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
    expected = [[3.0, 0.0], [0.0, 12.0]]

    def cube(t):
        return t**3

    check.tensor("jacobian(reverse-mode)", functional.jacobian(cube, x), expected, dtype=dtype, device=device)
    check.tensor("jacobian(vectorize=True, strategy='forward-mode')",
                 functional.jacobian(cube, x, vectorize=True, strategy="forward-mode"), expected, dtype=dtype,
                 device=device)
    with check.raises("jacobian(strategy='forward-mode') without vectorize", NotImplementedError,
                      FORWARD_NEEDS_VECTORIZE):
        functional.jacobian(cube, x, strategy="forward-mode")


@claim(
    "HESS-005",
    "torch.autograd.functional.vjp, vhp and hvp return the pair (f(x), product): for f = sum(x**3) at [1, 2], "
    "vjp gives (9, [3, 12]) and vhp and hvp with v = [1, 1] both give (9, [6, 12]) (the Hessian is symmetric).",
    section="Hessians and Hessian-vector products",
)
def test_functional_products_return_the_output_too(device, dtype, check):
    functional = torch.autograd.functional
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
    v = torch.ones_like(x)

    def f(t):
        return (t**3).sum()

    for name, call, product in (("vjp", lambda: functional.vjp(f, x), [3.0, 12.0]),
                                ("vhp", lambda: functional.vhp(f, x, v), [6.0, 12.0]),
                                ("hvp", lambda: functional.hvp(f, x, v), [6.0, 12.0])):
        out = call()
        check.equal(f"{name} returns a pair", len(out), 2)
        check.tensor(f"{name}(...)[0], the output f(x)", out[0], 9.0, dtype=dtype, device=device)
        check.tensor(f"{name}(...)[1], the product", out[1], product, dtype=dtype, device=device)
