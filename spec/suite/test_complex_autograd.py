"""Chapter 3, "Complex autograd": the gradient of a real loss with respect to a complex tensor is the conjugate
Wirtinger derivative, scaled so that gradient descent works (source: docs/source/notes/autograd.rst, "Complex
Autograd")."""

import math

import pytest
import torch

from spec import by_version, claim
from spec.suite.support import outcome

COMPLEX_OF = {torch.float32: torch.complex64, torch.float64: torch.complex128}

#: backward() of a complex output without a seed: accepted (seed 1) before torch 2.1, refused since (NS-003 states
#: it for a real input; here the input is complex too).
COMPLEX_WITHOUT_SEED = by_version(
    "CPLX-003/z**2 backward() without a seed",
    {
        "<2.1": r"^returned$",
        ">=2.1": r"^RuntimeError: grad can be implicitly created only for real scalar outputs but got torch\.complex",
    },
    ref="https://github.com/pytorch/pytorch/pull/92753",
    note="issue https://github.com/pytorch/pytorch/issues/92750",
)


@claim(
    "CPLX-001",
    "The gradient of a real loss with respect to a complex z is the conjugate Wirtinger derivative times 2: for "
    "L = |z|^2 at z = 1+2j, z.grad is 2z = 2+4j, by backward() and by autograd.grad, spelled z.abs()**2 or "
    "(z * z.conj()).real.",
    section="Complex autograd",
    ref="https://pytorch.org/docs/stable/notes/autograd.html#complex-autograd",
)
@pytest.mark.parametrize("spelling", ["z.abs()**2", "(z * z.conj()).real"])
def test_gradient_of_abs_squared(spelling, device, dtype, check):
    cdtype = COMPLEX_OF[dtype]

    def loss(z):
        return z.abs() ** 2 if spelling == "z.abs()**2" else (z * z.conj()).real

    z = torch.tensor(1 + 2j, device=device, dtype=cdtype, requires_grad=True)
    L = loss(z)
    check.false("L.is_complex()", L.is_complex())
    check.close("L", L, 5.0, dtype=dtype, device=device)
    (g,) = torch.autograd.grad(L, z, retain_graph=True)
    check.tensor("autograd.grad(L, z)", g, 2 + 4j, dtype=cdtype, device=device)
    L.backward()
    check.tensor("z.grad after L.backward()", z.grad, 2 + 4j, dtype=cdtype, device=device)


@claim(
    "CPLX-002",
    "A real function computed through complex intermediates gets the ordinary real gradient: d/dx of "
    "Re(exp(ix)) + |exp(ix)|^2 at 0.7 is -sin(0.7), and x -> ifft(fft(x)).real has gradient 2x for the loss "
    "sum(ifft(fft(x)).real**2); both gradients are real tensors.",
    section="Complex autograd",
    ref="https://pytorch.org/docs/stable/notes/autograd.html#complex-autograd",
)
def test_real_function_through_complex_intermediates(device, dtype, check):
    x = torch.tensor(0.7, device=device, dtype=dtype, requires_grad=True)
    w = torch.exp(1j * x)
    f = w.real + (w * w.conj()).real  # cos x + 1
    check.false("f.is_complex()", f.is_complex())
    f.backward()
    check.close("x.grad for cos x + 1 through exp(ix)", x.grad, -math.sin(0.7), dtype=dtype, device=device)

    X = torch.tensor([1.0, -2.0, 3.0, 0.5], device=device, dtype=dtype, requires_grad=True)
    u = torch.fft.ifft(torch.fft.fft(X)).real
    (g,) = torch.autograd.grad((u**2).sum(), X)
    check.close("grad of sum(ifft(fft(x)).real**2)", g, 2 * X.detach(), dtype=dtype, device=device)


@claim(
    "CPLX-003",
    "For a holomorphic f(z) = z**2 the gradient with seed 1 is the conjugate of the complex derivative: at 1+2j, "
    "z.grad = conj(2z) = 2-4j by backward(1+0j) and by autograd.grad; without a seed backward() raises 'grad can "
    "be implicitly created only for real scalar outputs' since torch 2.1.",
    section="Complex autograd",
    ref="https://pytorch.org/docs/stable/notes/autograd.html#complex-autograd",
)
def test_holomorphic_gradient_is_conjugate(device, dtype, check):
    cdtype = COMPLEX_OF[dtype]
    z = torch.tensor(1 + 2j, device=device, dtype=cdtype, requires_grad=True)
    f = z**2
    one = torch.tensor(1 + 0j, device=device, dtype=cdtype)

    check.matches("f.backward() without a seed", outcome(lambda: f.backward(retain_graph=True)),
                  COMPLEX_WITHOUT_SEED)
    z.grad = None
    (g,) = torch.autograd.grad(f, z, grad_outputs=one, retain_graph=True)
    check.tensor("autograd.grad(f, z, grad_outputs=1+0j)", g, 2 - 4j, dtype=cdtype, device=device)
    f.backward(one)
    check.tensor("z.grad after f.backward(1+0j)", z.grad, 2 - 4j, dtype=cdtype, device=device)


@claim(
    "CPLX-004",
    "A complex leaf's gradient is the gradient with respect to its real and imaginary parts as one complex number: "
    "for L = |z|^2 + 3 Re(z) Im(z) at z = 1+2j, z.grad = dL/dx + i dL/dy = 8+7j, the same as from two real leaves "
    "x = 1, y = 2, and from torch.view_as_real(z).",
    section="Complex autograd",
    ref="https://pytorch.org/docs/stable/notes/autograd.html#complex-autograd",
)
def test_complex_gradient_is_the_real_gradient(device, dtype, check):
    cdtype = COMPLEX_OF[dtype]

    def loss(x, y):
        return x * x + y * y + 3 * x * y

    z = torch.tensor(1 + 2j, device=device, dtype=cdtype, requires_grad=True)
    loss(z.real, z.imag).backward()
    check.tensor("z.grad", z.grad, 8 + 7j, dtype=cdtype, device=device)

    x = torch.tensor(1.0, device=device, dtype=dtype, requires_grad=True)
    y = torch.tensor(2.0, device=device, dtype=dtype, requires_grad=True)
    gx, gy = torch.autograd.grad(loss(x, y), (x, y))
    check.tensor("(dL/dx, dL/dy) with real leaves", torch.stack([gx, gy]), [8.0, 7.0], dtype=dtype, device=device)

    w = torch.tensor(1 + 2j, device=device, dtype=cdtype, requires_grad=True)
    r = torch.view_as_real(w)
    (gw,) = torch.autograd.grad(loss(r[0], r[1]), w)
    check.tensor("gradient through torch.view_as_real(z)", gw, 8 + 7j, dtype=cdtype, device=device)
