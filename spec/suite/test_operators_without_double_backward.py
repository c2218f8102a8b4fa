"""The weird side, "Operators without double backward": a first derivative with a graph, and a second that is refused."""

import pytest
import torch

from spec import by_version, claim

CDIST_NO_DOUBLE_BACKWARD = r"the derivative for '_cdist_backward' is not implemented"
#: torch 2.14 added an analytic double backward for cdist and pdist.
CDIST_SECOND_DERIVATIVE = by_version(
    "DBL-001/second derivative",
    {"<2.14": "NotImplementedError", ">=2.14": "computed"},
    ref="https://github.com/pytorch/pytorch/pull/188901",
)

#: On the CPU, torch 2.0 ran scaled_dot_product_attention with the composite math kernel, which
#: autograd differentiates any number of times; torch 2.1 added a fused flash-attention kernel for
#: the CPU, chosen for (batch, heads, seq, dim) inputs, whose backward has no derivative.
SDPA_SECOND_DERIVATIVE = by_version(
    "DBL-002/second derivative",
    {"<2.1": "computed", ">=2.1": "RuntimeError"},
    ref="https://github.com/pytorch/pytorch/pull/103826",
)
#: The kernel's name changed in 2.3 (_scaled_dot_product_flash_attention_backward, then
#: _scaled_dot_product_flash_attention_for_cpu_backward); the fragment covers both.
SDPA_NO_DOUBLE_BACKWARD = r"derivative for aten::_scaled_dot_product_flash_attention\w*_backward is not implemented"


@claim(
    "DBL-001",
    "torch.cdist's first derivative has a graph, but differentiating it again raised NotImplementedError "
    "\"the derivative for '_cdist_backward' is not implemented\" before torch 2.14; from 2.14 on it gives the "
    "analytic second derivative.",
    section="Operators without double backward",
)
@pytest.mark.parametrize("p", [2.0, 1.0], ids=["p=2", "p=1"])
def test_cdist_double_backward(device, dtype, p, check):
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0]], requires_grad=True, device=device, dtype=dtype)
    y = torch.tensor([[3.0, 4.0]], device=device, dtype=dtype)
    d = torch.cdist(x, y, p=p)

    (g,) = check.works("grad(d.sum(), x, create_graph=True)", lambda: torch.autograd.grad(d.sum(), x, create_graph=True))
    check.flags("the first derivative", g, requires_grad=True, is_leaf=False, grad_fn=True)
    # d/dx |x - y|_2 = (x - y) / |x - y|_2 (|(-3, -4)| = 5, |(-2, -3)| = sqrt(13)); for p = 1 it is sign(x - y).
    first = [[-0.6, -0.8], [-2 / 13**0.5, -3 / 13**0.5]] if p == 2.0 else [[-1.0, -1.0], [-1.0, -1.0]]
    check.close("the first derivative", g, first, dtype=dtype, device=device)
    try:
        (h,) = torch.autograd.grad(g.sum(), x)
    except NotImplementedError as exc:
        outcome, message = type(exc).__name__, str(exc)
    else:
        outcome, message = "computed", None
    check.equal("the second derivative", outcome, CDIST_SECOND_DERIVATIVE)
    if outcome == "computed":
        # The row sums of the Hessian of |x - y|_2: 1/d - (x_l - y_l) * sum_k (x_k - y_k) / d**3; zero for p = 1.
        second = [[0.032, -0.024], [3 / 13**1.5, -2 / 13**1.5]] if p == 2.0 else [[0.0, 0.0], [0.0, 0.0]]
        check.close("the second derivative", h, second, dtype=dtype, device=device)
    else:
        check.matches("the second derivative's message", message, CDIST_NO_DOUBLE_BACKWARD)


@claim(
    "DBL-002",
    "On the CPU, scaled_dot_product_attention on (batch, heads, seq, dim) inputs has no second derivative since "
    "torch 2.1: differentiating the gradient raises 'derivative for aten::_scaled_dot_product_flash_attention..."
    "_backward is not implemented'.",
    section="Operators without double backward",
)
def test_sdpa_on_cpu_has_no_double_backward(dtype, check):
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 1, 4, 8, generator=generator, dtype=dtype).requires_grad_() for _ in range(3))
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v)

    (g,) = check.works("grad(out.sum(), q, create_graph=True)", lambda: torch.autograd.grad(out.sum(), q, create_graph=True))
    check.flags("the first derivative", g, requires_grad=True, is_leaf=False, grad_fn=True)
    try:
        (h,) = torch.autograd.grad(g.sum(), q)
    except RuntimeError as exc:
        outcome, message = type(exc).__name__, str(exc)
    else:
        outcome, message = "computed", None
    check.equal("the second derivative", outcome, SDPA_SECOND_DERIVATIVE)
    if outcome == "computed":
        check.equal("the second derivative's shape", tuple(h.shape), (1, 1, 4, 8))
    else:
        check.matches("the second derivative's message", message, SDPA_NO_DOUBLE_BACKWARD)
