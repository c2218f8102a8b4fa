"""Part 2, "Non-scalar outputs and grad_outputs": backward() and autograd.grad of a non-scalar output, and what
grad_outputs means (a vector-Jacobian product)."""

import math

import pytest
import torch

from spec import by_version, claim, dtypes
from spec.suite.support import outcome

IMPLICIT_SCALAR = r"grad can be implicitly created only for scalar outputs"

#: torch 2.0 seeded a complex scalar output with 1 and silently returned a gradient;
#: since 2.1 an implicit seed needs a *real* scalar output.
COMPLEX_IMPLICIT = by_version(
    "NS-003/complex scalar output without grad_outputs",
    {
        "<2.1": r"^returned$",
        ">=2.1": r"^RuntimeError: grad can be implicitly created only for real scalar outputs but got torch\.complex",
    },
    ref="https://github.com/pytorch/pytorch/pull/92753",
    note="issue https://github.com/pytorch/pytorch/issues/92750: backward() should not be allowed for complex scalar output",
)




@claim(
    "NS-001",
    "backward() and autograd.grad() of an output with more than one element, without grad_outputs, raise "
    "RuntimeError 'grad can be implicitly created only for scalar outputs': for y = x*x with x of 3 elements.",
    section="Non-scalar outputs and grad_outputs",
)
@pytest.mark.parametrize("api", ["backward", "autograd.grad"])
def test_non_scalar_output_needs_grad_outputs(api, device, dtype, check):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device, dtype=dtype)
    y = x * x
    with check.raises(f"{api} of a 3-element output", RuntimeError, IMPLICIT_SCALAR):
        if api == "backward":
            y.backward()
        else:
            torch.autograd.grad(y, x)
    check.none("x.grad after the failed call", x.grad)


@claim(
    "NS-002",
    "'Scalar' means one element: an output of shape (1,), (1, 1) or (1, 1, 1) needs no grad_outputs, and the "
    "gradient of y = x*x at 3 is 6 in the input's shape.",
    section="Non-scalar outputs and grad_outputs",
)
@dtypes("float32", "float64", "float16", "bfloat16")
@pytest.mark.parametrize("shape", [(), (1,), (1, 1), (1, 1, 1)], ids=lambda s: f"shape{s}")
def test_one_element_output_is_scalar(shape, device, dtype, check):
    x = torch.full(shape, 3.0, requires_grad=True, device=device, dtype=dtype)
    (g,) = check.works("torch.autograd.grad(x * x, x)", lambda: torch.autograd.grad(x * x, x))
    check.tensor("dy/dx", g, 6.0, dtype=dtype, device=device, shape=shape)
    y = x * x
    check.works("y.backward()", lambda: y.backward())
    check.tensor("x.grad", x.grad, 6.0, dtype=dtype, device=device, shape=shape)


@claim(
    "NS-003",
    "A complex scalar output also needs grad_outputs (since torch 2.1): z = (x*(1+1j)).sum() raises 'grad can be "
    "implicitly created only for real scalar outputs', and with grad_outputs=1+0j the gradient is [1, 1] "
    "(from torch.autograd.grad and from z.backward(1+0j)).",
    section="Non-scalar outputs and grad_outputs",
)
@pytest.mark.parametrize("api", ["backward", "autograd.grad"])
def test_complex_output_needs_grad_outputs(api, device, dtype, check):
    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    z = (x * (1 + 1j)).sum()
    check.true("z.is_complex()", z.is_complex())
    call = (lambda: z.backward(retain_graph=True)) if api == "backward" else (lambda: torch.autograd.grad(z, x, retain_graph=True))
    check.matches(f"{api} of a complex scalar, no grad_outputs", outcome(call), COMPLEX_IMPLICIT)

    one = torch.tensor(1 + 0j, dtype=z.dtype, device=device)
    if api == "backward":
        fresh = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
        check.works("(fresh * (1+1j)).sum().backward(1+0j)", lambda: (fresh * (1 + 1j)).sum().backward(one))
        check.tensor("x.grad after backward(1+0j)", fresh.grad, [1.0, 1.0], dtype=dtype, device=device)
    else:
        (g,) = check.works("grad(z, x, grad_outputs=1+0j)", lambda: torch.autograd.grad(z, x, grad_outputs=one))
        check.tensor("grad with grad_outputs=1+0j", g, [1.0, 1.0], dtype=dtype, device=device)


@claim(
    "NS-004",
    "grad_outputs=v computes the vector-Jacobian product v^T J: for y = x**2 at x = [1, 2, 3] and "
    "v = [1, 0.5, 0.25] the gradient is [2, 2, 1.5], from torch.autograd.grad, from y.backward(v), from "
    "torch.autograd.functional.vjp and from torch.func.vjp.",
    section="Non-scalar outputs and grad_outputs",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_grad_outputs_is_vjp(device, dtype, check):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device, dtype=dtype)
    v = torch.tensor([1.0, 0.5, 0.25], device=device, dtype=dtype)
    (g,) = check.works("grad(y, x, grad_outputs=v)", lambda: torch.autograd.grad(x**2, x, grad_outputs=v))
    check.tensor("grad(y, x, grad_outputs=v)", g, [2.0, 2.0, 1.5], dtype=dtype, device=device)
    check.works("y.backward(v)", lambda: (x**2).backward(v))
    check.tensor("x.grad after y.backward(v)", x.grad, [2.0, 2.0, 1.5], dtype=dtype, device=device)
    _, by_functional = check.works("torch.autograd.functional.vjp", lambda: torch.autograd.functional.vjp(
        lambda t: t**2, x.detach(), v))
    check.tensor("torch.autograd.functional.vjp(f, x, v)", by_functional, [2.0, 2.0, 1.5], dtype=dtype, device=device)


@claim("NS-004")
def test_grad_outputs_is_vjp_of_coupled_function(device, dtype, check):
    # A coupled function: the result is v @ J for the full Jacobian, not an element-wise product.
    def f(x):
        return torch.sin(x) * x.sum()

    xs, vs = [0.5, -1.0, 2.0], [1.0, 0.5, 0.25]
    x = torch.tensor(xs, requires_grad=True, device=device, dtype=dtype)
    v = torch.tensor(vs, device=device, dtype=dtype)
    # v @ J in plain Python: J_ij = [i == j] cos(x_i) sum(x) + sin(x_i).
    ref = [vs[j] * math.cos(xs[j]) * sum(xs) + sum(vi * math.sin(xi) for vi, xi in zip(vs, xs)) for j in range(3)]
    (g,) = check.works("grad(f(x), x, grad_outputs=v)", lambda: torch.autograd.grad(f(x), x, grad_outputs=v))
    check.close("grad(sin(x) * x.sum(), x, grad_outputs=v) = v @ J", g, ref, dtype=dtype, device=device)
    jac = check.works("torch.autograd.functional.jacobian(f, x)", lambda: torch.autograd.functional.jacobian(f, x.detach()))
    check.close("v @ torch.autograd.functional.jacobian(f, x)", v @ jac, ref, dtype=dtype, device=device)
    check.works("f(x).backward(v)", lambda: f(x).backward(v))
    check.close("x.grad after f(x).backward(v)", x.grad, ref, dtype=dtype, device=device)
    (by_func,) = check.works("torch.func.vjp(f, x)[1](v)", lambda: torch.func.vjp(f, x.detach())[1](v))
    check.close("torch.func.vjp(f, x)[1](v)", by_func, ref, dtype=dtype, device=device)


@claim(
    "NS-005",
    "grad_outputs=torch.ones_like(y) gives exactly the 'sum trick' grad(y.sum(), x): for y = sin(x) * x.sum(), and "
    "y.backward(torch.ones_like(y)) leaves exactly what y.sum().backward() leaves in x.grad.",
    section="Non-scalar outputs and grad_outputs",
)
def test_ones_equals_sum_trick(device, dtype, check):
    x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    y = torch.sin(x) * x.sum()
    (g_ones,) = torch.autograd.grad(y, x, grad_outputs=torch.ones_like(y), retain_graph=True)
    (g_sum,) = torch.autograd.grad(y.sum(), x, retain_graph=True)
    check.tensor("grad with ones == grad of y.sum()", g_ones, g_sum, dtype=dtype, device=device)

    check.works("y.backward(torch.ones_like(y))", lambda: y.backward(torch.ones_like(y), retain_graph=True))
    by_ones, x.grad = x.grad, None
    check.works("y.sum().backward()", lambda: y.sum().backward())
    check.tensor("x.grad: backward(ones) == y.sum().backward()", by_ones, x.grad, dtype=dtype, device=device)


@claim(
    "NS-006",
    "With coupled outputs grad_outputs=ones gives the Jacobian's column sums, not its diagonal: for "
    "y = x * x.sum() at x = [1, 2, 3] it is [12, 12, 12] while dy_i/dx_i is [7, 8, 9].",
    section="Non-scalar outputs and grad_outputs",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_ones_is_not_the_diagonal(device, dtype, check):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device, dtype=dtype)
    y = x * x.sum()
    (g,) = torch.autograd.grad(y, x, grad_outputs=torch.ones_like(y))
    check.tensor("grad(x * x.sum(), x, grad_outputs=ones)", g, [12.0, 12.0, 12.0], dtype=dtype, device=device)
    jac = torch.autograd.functional.jacobian(lambda t: t * t.sum(), x.detach())
    check.tensor("diagonal of the Jacobian", torch.diagonal(jac), [7.0, 8.0, 9.0], dtype=dtype)
    check.tensor("column sums of the Jacobian", jac.sum(0), [12.0, 12.0, 12.0], dtype=dtype)


@claim(
    "NS-007",
    "A grad_outputs whose shape differs from the output's raises RuntimeError 'Mismatch in shape', even when it "
    "would broadcast: shapes (2,), (1, 3) and () against an output of shape (3,).",
    section="Non-scalar outputs and grad_outputs",
)
@pytest.mark.parametrize("api", ["backward", "autograd.grad"])
@pytest.mark.parametrize("bad_shape", [(2,), (1, 3), ()], ids=lambda s: f"grad_output{s}")
def test_grad_outputs_shape_mismatch(api, bad_shape, device, dtype, check):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device, dtype=dtype)
    y = x * x
    v = torch.ones(bad_shape, device=device, dtype=dtype)
    size = ", ".join(map(str, bad_shape))
    fragment = (
        rf"Mismatch in shape: grad_output\[0\] has a shape of torch\.Size\(\[{size}\]\) "
        r"and output\[0\] has a shape of torch\.Size\(\[3\]\)"
    )
    with check.raises(f"{api} with grad_outputs of shape {bad_shape}", RuntimeError, fragment):
        if api == "backward":
            y.backward(v)
        else:
            torch.autograd.grad(y, x, grad_outputs=v)
