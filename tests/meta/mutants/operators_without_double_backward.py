"""Mutants that kill the claims of the section "Operators without double backward": each changes one behaviour a claim states."""

from tests.meta.mutation import (
    mutant,
    once_differentiable,
    replace,
    torch_release,
    wrap_function,
)


@mutant("cdist-double-backward-flipped", kills=["DBL-001"])
def _(torch):
    """torch.cdist's second derivative flips: composite (twice differentiable) before torch 2.14, where it had
    none; once differentiable from 2.14, where it has one."""
    if torch_release(torch) < (2, 14):

        def cdist(x1, x2, p=2.0, **kwargs):
            diff = (x1.unsqueeze(-2) - x2.unsqueeze(-3)).abs()
            return diff.pow(p).sum(-1).pow(1.0 / p)

        replace(torch, "cdist", cdist)
        return

    def make(original):
        apply = once_differentiable(
            torch,
            lambda x1, x2, p: original(x1, x2, p=p),
            lambda: NotImplementedError("the derivative for '_cdist_backward' is not implemented."),
        )
        return lambda x1, x2, p=2.0, **kwargs: apply(x1, x2, p)

    wrap_function(torch, "cdist", make)


@mutant("sdpa-double-backward-flipped", kills=["DBL-002"])
def _(torch):
    """scaled_dot_product_attention's second derivative on the CPU flips: softmax(q k^T / sqrt(d)) v (twice
    differentiable) from torch 2.1, where it had none; once differentiable before 2.1, where it had one."""

    def composite(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, **kwargs):
        scale = scale if scale is not None else q.size(-1) ** -0.5
        return torch.softmax(q @ k.transpose(-2, -1) * scale, dim=-1) @ v

    if torch_release(torch) >= (2, 1):
        replace(torch.nn.functional, "scaled_dot_product_attention", composite)
        return

    def make(original):
        apply = once_differentiable(
            torch,
            lambda q, k, v: original(q, k, v),
            lambda: RuntimeError("derivative for aten::_scaled_dot_product_flash_attention_backward is not implemented"),
        )
        return lambda q, k, v, *args, **kwargs: apply(q, k, v)

    wrap_function(torch.nn.functional, "scaled_dot_product_attention", make)
