"""Mutants that kill the claims of the section "Forward-mode tangents": each changes one behaviour a claim states."""

import weakref

from tests.meta.mutation import (
    mutant,
    wrap_function,
    wrap_grad,
)


@mutant("unpack-dual-negates-the-tangent", kills=["TAN-001"])
def _(torch):
    """forward_ad.unpack_dual returns minus the tangent."""
    fwad = torch.autograd.forward_ad

    def make(orig):
        def unpack_dual(tensor, *, level=None):
            primal, tangent = orig(tensor, level=level)
            return fwad.UnpackedDualTensor(primal, None if tangent is None else -tangent)

        return unpack_dual

    wrap_function(fwad, "unpack_dual", make)


@mutant("func-jvp-tangent-doubled", kills=["TAN-002", "TAN-005", "TFUNC-004"])
def _(torch):
    """torch.func.jvp returns twice the Jacobian-vector product."""

    def make(orig):
        def jvp(*args, **kwargs):
            out, tangent = orig(*args, **kwargs)[:2]
            return out, tangent * 2

        return jvp

    wrap_function(torch.func, "jvp", make)


@mutant("no-grad-drops-tangents", kills=["TAN-003"])
def _(torch):
    """torch.no_grad() and set_grad_enabled(False) also turn forward-mode AD off."""

    class NoGrad:
        def __init__(self, mode=False):
            self.mode = mode

        def __enter__(self):
            self.prev = (torch.is_grad_enabled(), torch._C._is_fwd_grad_enabled())
            torch._C._set_grad_enabled(self.mode)
            torch._C._set_fwd_grad_enabled(self.mode)

        def __exit__(self, *exc):
            torch._C._set_grad_enabled(self.prev[0])
            torch._C._set_fwd_grad_enabled(self.prev[1])

    torch.no_grad = NoGrad
    torch.set_grad_enabled = NoGrad


@mutant("tangents-outlive-their-dual-level", kills=["TAN-004"])
def _(torch):
    """unpack_dual outside any dual level still returns the tangent a tensor had inside its level."""
    fwad = torch.autograd.forward_ad
    seen = {}  # id(tensor) -> (weak reference to it, its tangent); tensors compare element-wise, so no dict of them

    def make(orig):
        def unpack_dual(tensor, *, level=None):
            primal, tangent = orig(tensor, level=level)
            if tangent is not None:
                seen[id(tensor)] = (weakref.ref(tensor), tangent)
            elif fwad._current_level < 0 and id(tensor) in seen and seen[id(tensor)][0]() is tensor:
                tangent = seen[id(tensor)][1]
            return fwad.UnpackedDualTensor(primal, tangent)

        return unpack_dual

    wrap_function(fwad, "unpack_dual", make)


@mutant("autograd-grad-drops-tangents", kills=["TAN-006"])
def _(torch):
    """torch.autograd.grad returns the primal of a dual gradient: forward-over-reverse loses its tangent."""
    fwad = torch.autograd.forward_ad

    def transform(original, a):
        out = original(**a)
        if fwad._current_level < 0:
            return out
        return tuple(None if g is None else fwad.unpack_dual(g).primal.clone() for g in out)

    wrap_grad(torch, transform)


@mutant("detach-keeps-the-tangent", kills=["TAN-007"])
def _(torch):
    """detach() keeps a dual tensor's forward-mode tangent (only the backward graph is cut)."""

    def make(orig):
        def detach(self):
            out = orig(self)
            tangent = torch.autograd.forward_ad.unpack_dual(self).tangent
            return out if tangent is None else torch.autograd.forward_ad.make_dual(out, tangent)

        return detach

    wrap_function(torch.Tensor, "detach", make)
