"""Chapter 3, "Forward-mode tangents": dual tensors (torch.autograd.forward_ad), torch.func.jvp and
torch.autograd.functional.jvp compute the same Jacobian-vector product J v, which reverse mode gets one row at a time
(source: docs/source/autograd.rst "Forward-mode Automatic Differentiation", the forward-mode AD tutorial)."""

import math

import pytest
import torch

from spec import claim
from spec.suite.support import quiet_dynamo

X = [0.5, 1.0]
V = [1.0, 0.0]
JV = [math.cos(0.5), 0.0]  # J = diag(cos x), so J v = [cos 0.5, 0]


@pytest.fixture(autouse=True)
def _quiet_lazy_import():
    """torch.func's first transform in a process may warn about torch.jit.script (no claim here is about it)."""
    with quiet_dynamo():
        yield


@claim(
    "TAN-001",
    "A dual tensor carries a tangent through the forward pass: with x = make_dual([0.5, 1], v=[1, 0]), "
    "unpack_dual(sin(x)) gives the primal sin(x) and the tangent J v = [cos(0.5), 0] = [0.87758, 0].",
    section="Forward-mode tangents",
    ref="https://pytorch.org/docs/stable/autograd.html#forward-mode-automatic-differentiation",
)
def test_dual_tensor_tangent(device, dtype, check):
    x = torch.tensor(X, device=device, dtype=dtype)
    v = torch.tensor(V, device=device, dtype=dtype)
    with torch.autograd.forward_ad.dual_level():
        y = torch.sin(torch.autograd.forward_ad.make_dual(x, v))
        primal, tangent = torch.autograd.forward_ad.unpack_dual(y)
        check.close("unpack_dual(sin(x)).primal", primal, torch.sin(x), dtype=dtype, device=device)
        check.close("unpack_dual(sin(x)).tangent", tangent, JV, dtype=dtype, device=device)


@claim(
    "TAN-002",
    "Every way to compute J v agrees: for sin at [0.5, 1] and v = [1, 0], dual tensors, torch.func.jvp, "
    "torch.autograd.functional.jvp and reverse mode (the Jacobian built row by row with autograd.grad, times v) "
    "all give [cos(0.5), 0], and both jvp functions also return f(x).",
    section="Forward-mode tangents",
    ref="https://pytorch.org/docs/stable/generated/torch.func.jvp.html",
)
def test_every_way_to_jvp_agrees(device, dtype, check):
    x = torch.tensor(X, device=device, dtype=dtype)
    v = torch.tensor(V, device=device, dtype=dtype)

    with torch.autograd.forward_ad.dual_level():
        dual = torch.autograd.forward_ad.unpack_dual(torch.sin(torch.autograd.forward_ad.make_dual(x, v))).tangent
    out, func_jv = torch.func.jvp(torch.sin, (x,), (v,))
    out2, functional_jv = torch.autograd.functional.jvp(torch.sin, x, v)
    xr = x.clone().requires_grad_(True)
    y = torch.sin(xr)
    rows = [torch.autograd.grad(y, xr, grad_outputs=e, retain_graph=True)[0]
            for e in torch.eye(2, device=device, dtype=dtype)]  # row i of J is e_i^T J
    reverse_jv = torch.stack(rows) @ v

    for name, jv in [("dual tensors", dual), ("torch.func.jvp", func_jv),
                     ("torch.autograd.functional.jvp", functional_jv), ("reverse mode J @ v", reverse_jv)]:
        check.close(f"J v by {name}", jv, JV, dtype=dtype, device=device)
    check.close("torch.func.jvp's f(x)", out, torch.sin(x), dtype=dtype, device=device)
    check.close("torch.autograd.functional.jvp's f(x)", out2, torch.sin(x), dtype=dtype, device=device)


@claim(
    "TAN-003",
    "Grad modes do not apply to forward mode: under torch.no_grad() (and set_grad_enabled(False)) sin of a dual "
    "tensor still has the tangent [cos(0.5), 0]; torch.inference_mode() does drop it (tangent None).",
    section="Forward-mode tangents",
    ref="https://pytorch.org/docs/stable/notes/autograd.html#grad-modes",
)
def test_tangent_survives_no_grad(device, dtype, check):
    x = torch.tensor(X, device=device, dtype=dtype)
    v = torch.tensor(V, device=device, dtype=dtype)
    with torch.autograd.forward_ad.dual_level():
        d = torch.autograd.forward_ad.make_dual(x, v)
        with torch.no_grad():
            under_no_grad = torch.autograd.forward_ad.unpack_dual(torch.sin(d)).tangent
        with torch.set_grad_enabled(False):
            under_disabled = torch.autograd.forward_ad.unpack_dual(torch.sin(d)).tangent
        with torch.inference_mode():
            under_inference = torch.autograd.forward_ad.unpack_dual(torch.sin(d)).tangent
    check.close("tangent of sin(x) under no_grad", under_no_grad, JV, dtype=dtype, device=device)
    check.close("tangent of sin(x) under set_grad_enabled(False)", under_disabled, JV, dtype=dtype, device=device)
    check.none("tangent of sin(x) under inference_mode", under_inference)


@claim(
    "TAN-004",
    "A tangent lives only inside its dual level: after leaving dual_level(), unpack_dual of the result gives the "
    "primal sin(x) and tangent None, and so does a tensor that was never made dual inside the level.",
    section="Forward-mode tangents",
    ref="https://pytorch.org/docs/stable/autograd.html#forward-mode-automatic-differentiation",
)
def test_tangent_is_gone_after_the_level(device, dtype, check):
    x = torch.tensor(X, device=device, dtype=dtype)
    v = torch.tensor(V, device=device, dtype=dtype)
    with torch.autograd.forward_ad.dual_level():
        y = torch.sin(torch.autograd.forward_ad.make_dual(x, v))
        plain = torch.sin(x)
        check.close("the tangent inside the level", torch.autograd.forward_ad.unpack_dual(y).tangent, JV,
                    dtype=dtype, device=device)
        check.none("tangent of a tensor that was never dual", torch.autograd.forward_ad.unpack_dual(plain).tangent)
    after = torch.autograd.forward_ad.unpack_dual(y)
    check.none("unpack_dual(y).tangent after leaving the level", after.tangent)
    check.close("unpack_dual(y).primal after leaving the level", after.primal, torch.sin(x), dtype=dtype, device=device)


@claim(
    "TAN-005",
    "torch.func.jvp returns (f(x), J v) and nests for higher orders: for f = x**3 at 3, jvp gives (27, 27), and "
    "nesting it gives the derivatives 27, 18, 6 and 0, as repeated autograd.grad with create_graph=True does.",
    section="Forward-mode tangents",
    ref="https://pytorch.org/docs/stable/generated/torch.func.jvp.html",
)
def test_nested_jvp_gives_higher_derivatives(device, dtype, form, check):
    x = torch.tensor(3.0 if form == "0-dim" else [3.0], device=device, dtype=dtype)
    one = torch.ones_like(x)

    def cube(t):
        return t**3

    value, jv = torch.func.jvp(cube, (x,), (one,))
    check.tensor("torch.func.jvp(x**3) value", value, 27.0, dtype=dtype, device=device, shape=x.shape)
    check.tensor("torch.func.jvp(x**3) tangent", jv, 27.0, dtype=dtype, device=device, shape=x.shape)

    derivatives, f = [], cube
    for _ in range(4):
        f = (lambda g: lambda t: torch.func.jvp(g, (t,), (torch.ones_like(t),))[1])(f)
        derivatives.append(f(x))
    for k, (d, want) in enumerate(zip(derivatives, [27.0, 18.0, 6.0, 0.0]), start=1):
        check.tensor(f"derivative {k} by nested torch.func.jvp", d, want, dtype=dtype, device=device, shape=x.shape)

    xr = x.clone().requires_grad_(True)
    y = cube(xr)
    for k, want in enumerate([27.0, 18.0, 6.0], start=1):
        (y,) = torch.autograd.grad(y.sum(), xr, create_graph=True)
        check.tensor(f"derivative {k} by autograd.grad", y, want, dtype=dtype, device=device, shape=x.shape)


@claim(
    "TAN-006",
    "Forward-over-reverse with dual tensors gives Hessian-vector products: for a dual input make_dual(x, v), "
    "the tangent of autograd.grad(f(x), x, create_graph=True) is H v, equal to reverse-over-reverse "
    "grad(grad(f, x, create_graph=True), x, grad_outputs=v): for f = (sin(x) * sum(x)**2).sum() at [0.5, 1, 2].",
    section="Forward-mode tangents",
    ref="https://pytorch.org/tutorials/intermediate/forward_ad_usage.html",
)
def test_forward_over_reverse_hvp(device, dtype, check):
    x = torch.tensor([0.5, 1.0, 2.0], device=device, dtype=dtype, requires_grad=True)
    v = torch.tensor([1.0, 2.0, 3.0], device=device, dtype=dtype)

    def f(t):
        return (torch.sin(t) * t.sum() ** 2).sum()

    with torch.autograd.forward_ad.dual_level():
        d = torch.autograd.forward_ad.make_dual(x, v)
        (g,) = torch.autograd.grad(f(d), x, create_graph=True)
        primal, hv_forward = torch.autograd.forward_ad.unpack_dual(g)

    (g2,) = torch.autograd.grad(f(x), x, create_graph=True)
    (hv_reverse,) = torch.autograd.grad(g2, x, grad_outputs=v)
    H = torch.autograd.functional.hessian(f, x.detach())
    check.close("the gradient (primal of the dual gradient)", primal, g2, dtype=dtype, device=device)
    check.close("H v: forward-over-reverse vs reverse-over-reverse", hv_forward, hv_reverse, dtype=dtype, device=device)
    check.close("H v: forward-over-reverse vs the full Hessian times v", hv_forward, H @ v, dtype=dtype, device=device)


@claim(
    "TAN-007",
    "detach() and detach_() drop forward-mode tangents too, as the Tensor.detach documentation says: for a dual "
    "x = make_dual([0.5, 1], v=[1, 0]), unpack_dual(x.detach()) and unpack_dual(sin(x).detach()) have tangent None "
    "(the primal kept), and y = sin(x); y.detach_() leaves y without a tangent, while sin(x) itself has J v.",
    section="Forward-mode tangents",
    ref="https://pytorch.org/docs/stable/generated/torch.Tensor.detach.html",
)
def test_detach_drops_the_tangent(device, dtype, check):
    fwAD = torch.autograd.forward_ad
    x0 = torch.tensor(X, device=device, dtype=dtype)
    v = torch.tensor(V, device=device, dtype=dtype)
    with fwAD.dual_level():
        x = fwAD.make_dual(x0, v)
        y = torch.sin(x)
        check.close("tangent of sin(x)", fwAD.unpack_dual(y).tangent, JV, dtype=dtype, device=device)
        primal, tangent = fwAD.unpack_dual(x.detach())
        check.none("tangent of x.detach()", tangent)
        check.tensor("primal of x.detach()", primal, X, dtype=dtype, device=device)
        check.none("tangent of sin(x).detach()", fwAD.unpack_dual(y.detach()).tangent)
        z = torch.sin(x)
        z.detach_()
        check.none("tangent of sin(x) after detach_()", fwAD.unpack_dual(z).tangent)
        check.close("sin(x) after detach_()", z, torch.sin(x0), dtype=dtype, device=device)
