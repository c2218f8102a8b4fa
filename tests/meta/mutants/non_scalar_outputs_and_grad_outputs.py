"""Mutants that kill the claims of the section "Non-scalar outputs and grad_outputs": each changes one behaviour a claim states."""

from tests.meta.mutants.common import scaled, seeds, seq
from tests.meta.mutation import (
    mutant,
    patch,
    torch_release,
    wrap_backward,
    wrap_call,
    wrap_grad,
)


@mutant("implicit-seed-for-any-output", kills=["NS-001"])
def _(torch):
    """backward()/grad() seed every output with ones when no grad_outputs is given (non-scalar and complex too)."""

    def on_grad(orig, a):
        a["grad_outputs"] = seeds(torch, a["outputs"], a["grad_outputs"], torch.ones_like)
        return orig(**a)

    def on_backward(orig, a):
        a["grad_tensors"] = seeds(torch, a["tensors"], a["grad_tensors"], torch.ones_like)
        return orig(**a)

    wrap_grad(torch, on_grad)
    wrap_backward(torch, on_backward)


@mutant("complex-implicit-seed-flipped", kills=["NS-003"])
def _(torch):
    """A complex scalar output without grad_outputs flips: seeded with 1 from torch 2.1 (where it raises), refused
    before 2.1 (where it was seeded, pytorch#92753)."""
    refuse = torch_release(torch) < (2, 1)

    def seeds(outputs, given):
        outs = seq(outputs)
        given = [None] * len(outs) if given is None else seq(given)
        if refuse and any(g is None and o.is_complex() for o, g in zip(outs, given)):
            raise RuntimeError("grad can be implicitly created only for real scalar outputs but got torch.complex64")
        return [torch.ones_like(o) if g is None and o.is_complex() else g for o, g in zip(outs, given)]

    def on_grad(orig, a):
        a["grad_outputs"] = seeds(a["outputs"], a["grad_outputs"])
        return orig(**a)

    def on_backward(orig, a):
        a["grad_tensors"] = seeds(a["tensors"], a["grad_tensors"])
        return orig(**a)

    wrap_grad(torch, on_grad)
    wrap_backward(torch, on_backward)


@mutant("one-element-outputs-need-grad-outputs", kills=["NS-002"])
def _(torch):
    """Only a 0-dim output may omit grad_outputs; shape (1,) is treated as non-scalar."""

    def refuse(outputs, given):
        given = [None] * len(seq(outputs)) if given is None else seq(given)
        if any(g is None and o.dim() > 0 for o, g in zip(seq(outputs), given)):
            raise RuntimeError("grad can be implicitly created only for scalar outputs")

    def on_grad(orig, a):
        refuse(a["outputs"], a["grad_outputs"])
        return orig(**a)

    def on_backward(orig, a):
        refuse(a["tensors"], a["grad_tensors"])
        return orig(**a)

    wrap_grad(torch, on_grad)
    wrap_backward(torch, on_backward)


@mutant("grad-outputs-replaced-by-ones", kills=["NS-004", "HESS-002", "HESS-003", "LAW-004"])
def _(torch):
    """autograd.grad ignores the grad_outputs it is given and seeds with ones (the sum trick, always)."""

    def on_grad(orig, a):
        if a["grad_outputs"] is not None and not a["is_grads_batched"]:
            a["grad_outputs"] = [torch.ones_like(o) for o in seq(a["outputs"])]
        return orig(**a)

    wrap_grad(torch, on_grad)


@mutant("ones-seed-gives-jacobian-diagonal", kills=["NS-005", "NS-006"])
def _(torch):
    """grad(y, x, grad_outputs=ones) returns dy_i/dx_i (the Jacobian's diagonal) instead of the column sums."""

    def on_grad(orig, a):
        outs, ins, seeds = seq(a["outputs"]), seq(a["inputs"]), a["grad_outputs"]
        if (
            seeds is not None
            and not a["is_grads_batched"]
            and len(outs) == 1
            and len(ins) == 1
            and outs[0].numel() > 1
            and outs[0].numel() == ins[0].numel()
            and torch.equal(seq(seeds)[0], torch.ones_like(outs[0]))
        ):
            y, x = outs[0], ins[0]
            eye = torch.eye(y.numel(), dtype=y.dtype, device=y.device).reshape(y.numel(), *y.shape)
            b = dict(a, grad_outputs=[eye], is_grads_batched=True)
            (jac,) = orig(**b)
            return (torch.diagonal(jac.reshape(y.numel(), x.numel())).reshape(x.shape),)
        return orig(**a)

    wrap_grad(torch, on_grad)


@mutant("mismatched-grad-outputs-replaced-by-ones", kills=["NS-007"])
def _(torch):
    """A grad_outputs of the wrong shape is silently replaced by ones instead of raising."""

    def fix(outputs, seeds):
        if seeds is None:
            return seeds
        return [
            torch.ones_like(o) if isinstance(g, torch.Tensor) and g.shape != o.shape else g
            for o, g in zip(seq(outputs), seq(seeds))
        ]

    def on_grad(orig, a):
        if not a["is_grads_batched"]:
            a["grad_outputs"] = fix(a["outputs"], a["grad_outputs"])
        return orig(**a)

    def on_backward(orig, a):
        a["grad_tensors"] = fix(a["tensors"], a["grad_tensors"])
        return orig(**a)

    wrap_grad(torch, on_grad)
    wrap_backward(torch, on_backward)


@mutant("backward-gradient-replaced-by-ones", kills=["NS-004", "LAW-004"])
def _(torch):
    """Tensor.backward(v) of a non-scalar output seeds with ones instead of v (grad_outputs=v stays right)."""

    def make(original):
        def backward(self, gradient=None, *args, **kwargs):
            if isinstance(gradient, torch.Tensor) and gradient.numel() > 1:
                gradient = torch.ones_like(gradient)
            return original(self, gradient, *args, **kwargs)

        return backward

    patch(torch.Tensor, "backward", make)


@mutant("backward-ones-seed-doubled", kills=["NS-005"])
def _(torch):
    """Tensor.backward(torch.ones_like(y)) of a non-scalar output seeds with twos (y.sum().backward() stays right)."""

    def make(original):
        def backward(self, gradient=None, *args, **kwargs):
            if isinstance(gradient, torch.Tensor) and gradient.numel() > 1 and bool((gradient == 1).all()):
                gradient = gradient * 2
            return original(self, gradient, *args, **kwargs)

        return backward

    patch(torch.Tensor, "backward", make)


@mutant("backward-complex-seed-doubled", kills=["NS-003"])
def _(torch):
    """Tensor.backward(g) with a complex seed g uses 2g (autograd.grad(grad_outputs=g) stays right)."""

    def make(original):
        def backward(self, gradient=None, *args, **kwargs):
            if isinstance(gradient, torch.Tensor) and gradient.is_complex():
                gradient = gradient * 2
            return original(self, gradient, *args, **kwargs)

        return backward

    patch(torch.Tensor, "backward", make)


@mutant("functional-vjp-doubled", kills=["NS-004"])
def _(torch):
    """torch.autograd.functional.vjp returns twice the vector-Jacobian product."""

    def vjp(original, a):
        out, result = original(**a)
        return out, scaled(torch, result, 2)

    wrap_call(torch.autograd.functional, "vjp", vjp)


@mutant("func-vjp-doubled", kills=["NS-004", "HESS-002"])
def _(torch):
    """The function torch.func.vjp returns gives twice the vector-Jacobian product."""

    def make(original):
        def vjp(func, *primals, **kwargs):
            out, fn, *rest = original(func, *primals, **kwargs)
            return (out, lambda *ct, **kws: scaled(torch, fn(*ct, **kws), 2), *rest)

        return vjp

    patch(torch.func, "vjp", make)
