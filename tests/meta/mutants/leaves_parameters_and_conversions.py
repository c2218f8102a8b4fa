"""Mutants that kill the claims of the section "Leaves, Parameters and conversions": each changes one behaviour a claim states."""

from tests.meta.mutation import mutant, wrap_function


@mutant("to-returns-a-leaf", kills=["PARAM-001"])
def _(torch):
    """Tensor.to() of a tensor that requires grad returns a new leaf cut off from the original."""

    def make(orig):
        def to(self, *args, **kwargs):
            out = orig(self, *args, **kwargs)
            if out is not self and self.requires_grad:
                return out.detach().requires_grad_()
            return out

        return to

    wrap_function(torch.Tensor, "to", make)


@mutant("requires-grad-factories-make-non-leaves", kills=["PARAM-002"])
def _(torch):
    """torch.rand(..., requires_grad=True) and requires_grad_() return a non-leaf (a recorded copy)."""

    def make_rand(orig):
        def rand(*args, requires_grad=False, **kwargs):
            out = orig(*args, **kwargs)
            return out.requires_grad_() * 1 if requires_grad else out

        return rand

    wrap_function(torch, "rand", make_rand)

    def make_rg(orig):
        def requires_grad_(self, requires_grad=True):
            out = orig(self, requires_grad)
            return out * 1 if requires_grad and out.is_leaf else out

        return requires_grad_

    wrap_function(torch.Tensor, "requires_grad_", make_rg)


@mutant("numpy-detaches-silently", kills=["PARAM-003"])
def _(torch):
    """numpy() of a tensor that requires grad detaches it instead of raising."""
    wrap_function(torch.Tensor, "numpy", lambda orig: lambda self, *, force=False: orig(self.detach(), force=force))


@mutant("numpy-always-refuses", kills=["PARAM-004"])
def _(torch):
    """numpy() refuses any tensor that requires grad, whatever force= or the grad mode says."""

    def make(orig):
        def numpy(self, *, force=False):
            if self.requires_grad:
                raise RuntimeError("Can't call numpy() on Tensor that requires grad.")
            return orig(self, force=force)

        return numpy

    wrap_function(torch.Tensor, "numpy", make)


@mutant("numpy-returns-a-copy", kills=["HZ-060"])
def _(torch):
    """numpy() returns a copy, so writing into the array cannot reach a tensor autograd saved (the hazard's fix)."""
    wrap_function(torch.Tensor, "numpy", lambda orig: lambda self, *, force=False: orig(self, force=force).copy())


@mutant("to-always-copies", kills=["PARAM-006"])
def _(torch):
    """Tensor.to() returns a recorded copy even when the dtype and device already match."""

    def make(orig):
        def to(self, *args, **kwargs):
            out = orig(self, *args, **kwargs)
            return out.clone() if out is self else out

        return to

    wrap_function(torch.Tensor, "to", make)


@mutant("deepcopy-detaches-non-leaves", kills=["PARAM-007"])
def _(torch):
    """copy.deepcopy of a non-leaf silently returns a detached copy instead of raising."""

    def make(orig):
        def deepcopy(self, memo):
            if not self.is_leaf:
                return self.detach().clone()
            return orig(self, memo)

        return deepcopy

    wrap_function(torch.Tensor, "__deepcopy__", make)


@mutant("detach-in-place-returns-a-copy", kills=["PARAM-008"])
def _(torch):
    """detach_() returns a detached copy and leaves the tensor (and a view) as it was."""
    wrap_function(torch.Tensor, "detach_", lambda orig: lambda self: self.detach())


@mutant("item-returns-a-tensor", kills=["PARAM-009"])
def _(torch):
    """item() returns a 0-dim tensor that keeps the graph instead of a Python number."""
    wrap_function(torch.Tensor, "item", lambda orig: lambda self: self.reshape(()))


@mutant("requires-grad-in-place-returns-a-new-leaf", kills=["PARAM-010"])
def _(torch):
    """requires_grad_() returns a new detached leaf with the flag set and leaves the tensor unchanged."""
    wrap_function(torch.Tensor, "requires_grad_",
                  lambda orig: lambda self, requires_grad=True: orig(self.detach(), requires_grad))
