"""Mutants that kill the claims of the section ".grad lifecycle and layouts": each changes one behaviour a claim states."""

from tests.meta.mutation import leaves_of, mutant


@mutant("zero-grad-default-zeroes", kills=["LIFE-001"])
def _(torch):
    """optimizer.zero_grad() and net.zero_grad() default to set_to_none=False (the torch 1.x default)."""
    for owner in (torch.optim.Optimizer, torch.nn.Module):
        original = owner.zero_grad

        def zero_grad(self, set_to_none: bool = False, _original=original) -> None:
            return _original(self, set_to_none)

        owner.zero_grad = zero_grad


@mutant("zero-grad-false-makes-new-zeros", kills=["LIFE-002"])
def _(torch):
    """zero_grad(set_to_none=False) gives every parameter a new zero tensor, also those whose .grad was None."""

    def clear(params):
        for p in params:
            p.grad = torch.zeros_like(p)

    for owner, params in ((torch.optim.Optimizer, lambda self: [p for g in self.param_groups for p in g["params"]]),
                          (torch.nn.Module, lambda self: list(self.parameters()))):
        original = owner.zero_grad

        def zero_grad(self, set_to_none: bool = True, _original=original, _params=params) -> None:
            if set_to_none:
                return _original(self, True)
            return clear(_params(self))

        owner.zero_grad = zero_grad


@mutant("accumulation-out-of-place", kills=["LIFE-003"])
def _(torch):
    """backward() always accumulates out of place: every existing .grad is replaced by a new tensor."""
    original = torch.Tensor.backward

    def backward(self, *args, **kwargs):
        for leaf in leaves_of(self):
            if leaf.grad is not None:
                leaf.grad = leaf.grad.clone()
        return original(self, *args, **kwargs)

    torch.Tensor.backward = backward


@mutant("grad-made-contiguous", kills=["LIFE-004", "LIFE-005"])
def _(torch):
    """After backward(), every leaf's .grad is made contiguous, whatever the parameter's or the old .grad's strides."""
    original = torch.Tensor.backward

    def backward(self, *args, **kwargs):
        leaves = leaves_of(self)
        out = original(self, *args, **kwargs)
        for leaf in leaves:
            if leaf.grad is not None and not leaf.grad.is_contiguous():
                leaf.grad = leaf.grad.contiguous()
        return out

    torch.Tensor.backward = backward
