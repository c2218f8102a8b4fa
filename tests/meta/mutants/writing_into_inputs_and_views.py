"""Mutants that kill the claims of the section "Writing into inputs and views": each changes one behaviour a claim states."""

import contextlib

from tests.meta.mutation import (
    mutant,
    wrap_function,
    wrap_property,
)


@mutant("view-of-leaf-write-is-allowed", kills=["VIEW-001"])
def _(torch):
    """Writing through a slice of a leaf that requires grad runs as if under no_grad instead of raising."""

    def leafy(t):
        return (t.is_leaf and t.requires_grad) or (t._base is not None and t._base.is_leaf and t._base.requires_grad)

    def make(orig):
        def write(self, *args, **kwargs):
            if leafy(self):
                with torch.no_grad():
                    return orig(self, *args, **kwargs)
            return orig(self, *args, **kwargs)

        return write

    for name in ("__setitem__", "zero_", "fill_"):
        wrap_function(torch.Tensor, name, make)


@mutant("slice-write-bypasses-autograd", kills=["VIEW-002"])
def _(torch):
    """Writing through a slice of a non-leaf goes through .data: no CopySlices, the old history stays."""

    def make_setitem(orig):
        def __setitem__(self, key, value):
            if self.requires_grad and not self.is_leaf:
                return orig(self.data, key, value)
            return orig(self, key, value)

        return __setitem__

    def make_zero(orig):
        def zero_(self):
            if self.requires_grad and self._base is not None and not self._base.is_leaf:
                orig(self.data)
                return self
            return orig(self)

        return zero_

    wrap_function(torch.Tensor, "__setitem__", make_setitem)
    wrap_function(torch.Tensor, "zero_", make_zero)


@mutant("detach-has-its-own-version-counter", kills=["VIEW-003"])
def _(torch):
    """detach() returns an alias with its own version counter (like .data), so in-place writes through it go unseen."""
    wrap_function(torch.Tensor, "detach", lambda orig: lambda self: self.data)


@mutant("allow-mutation-on-saved-tensors-does-nothing", kills=["VIEW-004"])
def _(torch):
    """torch.autograd.graph.allow_mutation_on_saved_tensors() is a context that does nothing."""
    wrap_function(torch.autograd.graph, "allow_mutation_on_saved_tensors", lambda orig: contextlib.nullcontext)


@mutant("no-grad-slice-write-freezes-the-leaf", kills=["VIEW-005"])
def _(torch):
    """Writing into a slice of a leaf under no_grad turns its requires_grad off."""

    def make(orig):
        def __setitem__(self, key, value):
            out = orig(self, key, value)
            if self.is_leaf and self.requires_grad and not torch.is_grad_enabled():
                self.requires_grad_(False)
            return out

        return __setitem__

    wrap_function(torch.Tensor, "__setitem__", make)


@mutant("data-is-detach", kills=["HZ-005"])
def _(torch):
    """Fixes HZ-005: Tensor.data returns detach(), whose in-place changes the version counter sees (backward raises)."""
    wrap_property(torch, "data", lambda tensor, value: tensor.detach())
