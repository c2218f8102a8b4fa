"""Mutants that kill the claims of the section "Leaf tensors": each changes one behaviour a claim states."""

from tests.meta.mutation import (
    mutant,
    wrap_function,
    wrap_property,
)


@mutant("user-tensors-are-not-leaves", kills=["LEAF-001"])
def _(torch):
    """A tensor created with requires_grad=True reports is_leaf False."""
    wrap_property(torch, "is_leaf", lambda t, v: False if (t.requires_grad and t.grad_fn is None) else v)


@mutant("op-results-are-leaves", kills=["LEAF-002"])
def _(torch):
    """The result of an operation reports is_leaf True."""
    wrap_property(torch, "is_leaf", lambda t, v: True if t.grad_fn is not None else v)


@mutant("op-results-lose-grad-fn", kills=["LEAF-002"])
def _(torch):
    """Multiplication results are detached: no grad_fn, no requires_grad."""
    wrap_function(torch.Tensor, "__mul__", lambda orig: lambda s, o: orig(s, o).detach())


@mutant("constants-are-not-leaves", kills=["LEAF-003", "LEAF-004"])
def _(torch):
    """A tensor without requires_grad reports is_leaf False."""
    wrap_property(torch, "is_leaf", lambda t, v: False if not t.requires_grad else v)


@mutant("computed-constants-are-not-leaves", kills=["LEAF-004"])
def _(torch):
    """A computed tensor without requires_grad is no leaf (the mathematical view, not torch's convention)."""

    def make(orig_mul):
        def mul(self, other):
            out = orig_mul(self, other)
            out._spec_computed = True
            return out

        return mul

    wrap_function(torch.Tensor, "__mul__", make)
    wrap_property(torch, "is_leaf", lambda t, v: False if getattr(t, "_spec_computed", False) and not t.requires_grad else v)


@mutant("is-leaf-doc-rewritten", kills=["LEAF-005"])
def _(torch):
    """is_leaf keeps its behaviour but its documentation no longer states the convention."""
    wrap_property(torch, "is_leaf", lambda t, v: v, doc="True if the tensor has no grad_fn.")


@mutant("requires-grad-needs-all-inputs", kills=["INHERIT-001"])
def _(torch):
    """An op's result requires grad only if every input does (all instead of any)."""

    def make(orig_mul):
        def mul(self, other):
            out = orig_mul(self, other)
            if isinstance(other, torch.Tensor) and not (self.requires_grad and other.requires_grad):
                return out.detach()
            return out

        return mul

    wrap_function(torch.Tensor, "__mul__", make)
