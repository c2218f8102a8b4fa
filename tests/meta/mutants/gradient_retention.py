"""Mutants that kill the claims of the section "Gradient retention": each changes one behaviour a claim states."""

import functools
import warnings

from tests.meta.mutants.common import scaled
from tests.meta.mutation import (
    mutant,
    patch_getter,
    replace,
    wrap_function,
    wrap_grad,
    wrap_property,
)


@mutant("backward-seed-is-two", kills=["RET-001", "RET-003", "BWD-002", "CG-001", "CG-003"])
def _(torch):
    """backward() without a gradient seeds with 2 instead of 1."""

    def make(orig):
        @functools.wraps(orig)
        def backward(self, gradient=None, *args, **kwargs):
            if gradient is None:
                gradient = torch.full_like(self, 2.0)
            return orig(self, gradient, *args, **kwargs)

        return backward

    wrap_function(torch.Tensor, "backward", make)


@mutant("non-leaf-grad-is-zeros", kills=["RET-002"])
def _(torch):
    """Reading .grad of a non-leaf gives zeros (as if every tensor retained grad)."""

    def getter(t, v):
        if v is None and t.grad_fn is not None:
            return torch.zeros_like(t)
        return v

    wrap_property(torch, "grad", getter)


@mutant("non-leaf-grad-read-is-silent", kills=["RET-002"])
def _(torch):
    """Reading .grad of a non-leaf no longer warns."""

    def make(get):
        def fget(self):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return get(self)

        return fget

    patch_getter(torch, "grad", make)


@mutant("non-leaf-grad-warns-once", kills=["RET-002"])
def _(torch):
    """The non-leaf .grad warning fires only on the first read of each tensor."""

    def make(get):
        def fget(self):
            if getattr(self, "_spec_warned", False):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return get(self)
            if self.grad_fn is not None and not self.retains_grad:
                self._spec_warned = True
            return get(self)

        return fget

    patch_getter(torch, "grad", make)


@mutant("retain-grad-is-a-no-op", kills=["RET-003", "GRAD-001", "BWD-002"])
def _(torch):
    """retain_grad() does nothing."""
    replace(torch.Tensor, "retain_grad", lambda self: None)


@mutant("autograd-grad-first-derivative-doubled", kills=["RET-001"])
def _(torch):
    """torch.autograd.grad without create_graph returns twice the gradient (backward() stays right)."""

    def grad(original, a):
        result = original(**a)
        return result if a["create_graph"] else scaled(torch, result, 2)

    wrap_grad(torch, grad)


@mutant("leaf-retain-grad-is-recorded", kills=["RET-004"])
def _(torch):
    """retains_grad reports True for a leaf that requires grad (as if retain_grad() applied to leaves)."""
    wrap_property(torch, "retains_grad", lambda t, value: value or (t.is_leaf and t.requires_grad))
