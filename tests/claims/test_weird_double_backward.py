"""The weird side, "Operators without double backward": a first derivative with a graph, and a second that is refused."""

import pytest
import torch

from spec import by_version, claim, dtypes

CDIST_NO_DOUBLE_BACKWARD = r"the derivative for '_cdist_backward' is not implemented"

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
    "torch.cdist has a first derivative with a graph but no second: differentiating the gradient of "
    "torch.cdist(x, y).sum() raises NotImplementedError \"the derivative for '_cdist_backward' is not implemented\".",
    section="Operators without double backward",
)
@pytest.mark.parametrize("p", [2.0, 1.0], ids=["p=2", "p=1"])
def test_cdist_has_no_double_backward(device, dtype, p, check):
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0]], requires_grad=True, device=device, dtype=dtype)
    y = torch.tensor([[3.0, 4.0]], device=device, dtype=dtype)
    d = torch.cdist(x, y, p=p)

    (g,) = torch.autograd.grad(d.sum(), x, create_graph=True)
    check.flags("the first derivative", g, requires_grad=True, is_leaf=False, grad_fn=True)
    expected = [[-0.6, -0.8], [-2.0 / 13**0.5, -3.0 / 13**0.5]] if p == 2.0 else [[-1.0, -1.0], [-1.0, -1.0]]
    check.close("the first derivative", g, expected, dtype=dtype, device=device)
    with check.raises("the second derivative", NotImplementedError, CDIST_NO_DOUBLE_BACKWARD):
        torch.autograd.grad(g.sum(), x)


@claim(
    "DBL-002",
    "On the CPU, scaled_dot_product_attention on (batch, heads, seq, dim) inputs has no second derivative since "
    "torch 2.1: differentiating the gradient raises 'derivative for aten::_scaled_dot_product_flash_attention..."
    "_backward is not implemented'.",
    section="Operators without double backward",
)
@dtypes("float32")
def test_sdpa_on_cpu_has_no_double_backward(dtype, check):
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 1, 4, 8, generator=generator, dtype=dtype).requires_grad_() for _ in range(3))
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v)

    (g,) = torch.autograd.grad(out.sum(), q, create_graph=True)
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
