"""Part 2, "Slicing the input": taking u_x of a network fed with X = [x, t]."""

import torch

from spec import by_version, claim
from spec.suite import pinn
from spec.suite.support import UNUSED

#: The start of the unused-input message changed in torch 2.13 (see UNUSED-001).
SLICE_UNUSED_MESSAGE = by_version(
    "SLICE-001/message",
    {
        "<2.13": r"^One of the differentiated Tensors appears to not have been used in the graph",
        ">=2.13": r"^The differentiated Tensor at index 0 appears to not have been used in the graph",
    },
    ref="https://github.com/pytorch/pytorch/pull/181917",
)


@claim(
    "SLICE-001",
    "A column X[:, 0] sliced after the forward pass u = net(X) is a new tensor that u does not depend on: "
    "grad(u.sum(), X[:, 0]) raises 'appears to not have been used in the graph'.",
    section="Slicing the input",
)
def test_slice_after_forward_is_not_in_graph(device, dtype, check):
    ps = pinn.params(dtype=dtype, device=device)
    X = pinn.points(8, dtype=dtype, device=device).requires_grad_(True)
    u = pinn.u(ps, X)
    x = X[:, 0]
    check.flags("X[:, 0]", x, requires_grad=True, is_leaf=False, grad_fn=True)
    with check.raises("grad(u.sum(), X[:, 0])", RuntimeError, UNUSED) as box:
        torch.autograd.grad(u.sum(), x)
    check.matches("the message's start", str(box["exception"]), SLICE_UNUSED_MESSAGE)


@claim(
    "SLICE-002",
    "Splitting the columns before the forward pass works: with leaves x, t = X[:, :1], X[:, 1:] and "
    "u = net(torch.cat([x, t], 1)), grad(u.sum(), x) is u_x, the first column of grad(u.sum(), X) and of a float64 "
    "closed-form reference.",
    section="Slicing the input",
)
def test_split_before_forward(device, dtype, check):
    ps = pinn.params(dtype=dtype, device=device)
    X = pinn.points(8, dtype=dtype, device=device)
    x = X[:, :1].clone().requires_grad_(True)
    t = X[:, 1:].clone().requires_grad_(True)
    u = pinn.u(ps, torch.cat([x, t], 1))
    u_x, u_t = check.works("grad(u.sum(), [x, t])", lambda: torch.autograd.grad(u.sum(), [x, t]))
    check.flags("x", x, is_leaf=True, requires_grad=True)

    Xg = X.clone().requires_grad_(True)
    (full,) = check.works("grad(net(X).sum(), X)", lambda: torch.autograd.grad(pinn.u(ps, Xg).sum(), Xg))
    check.close("u_x from the split leaf", u_x, full[:, :1], dtype=dtype, device=device, shape=(8, 1))
    check.close("u_t from the split leaf", u_t, full[:, 1:], dtype=dtype, device=device, shape=(8, 1))
    reference = pinn.axis_derivatives(ps, X, axis=0, order=1)  # float64, plain Python
    check.close("u_x vs float64 closed form", u_x[:, 0], [r[1] for r in reference], dtype=dtype, device=device)
