"""Mutants that kill the claims of the section "Complex autograd": each changes one behaviour a claim states."""

from tests.meta.mutation import (
    leaves_of,
    mutant,
    patch_getter,
    wrap_backward,
    wrap_grad,
)


@mutant("complex-gradients-conjugated", kills=["CPLX-001", "CPLX-003", "CPLX-004"])
def _(torch):
    """Gradients with respect to complex tensors are conjugated (the Wirtinger derivative dL/dz instead of its
    conjugate), by autograd.grad and by backward()."""

    def conj(g):
        return g.conj().resolve_conj() if g is not None and g.is_complex() else g

    def grad(original, a):
        return tuple(conj(g) for g in original(**a))

    def backward(original, a):
        out = original(**a)
        tensors = a["tensors"]
        for t in [tensors] if isinstance(tensors, torch.Tensor) else tensors:
            for leaf in leaves_of(t):
                if leaf.grad is not None and leaf.grad.is_complex():
                    leaf.grad = conj(leaf.grad)
        return out

    wrap_grad(torch, grad)
    wrap_backward(torch, backward)


@mutant("complex-real-part-doubles-the-gradient", kills=["CPLX-002"])
def _(torch):
    """Tensor.real of a complex tensor passes back twice the gradient (a factor-2 Wirtinger convention slip)."""

    def make(get):
        def real(tensor):
            value = get(tensor)
            if tensor.is_complex() and tensor.requires_grad:
                return value + (value - value.detach())
            return value

        return real

    patch_getter(torch, "real", make)
