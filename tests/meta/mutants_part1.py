"""Mutants that kill the Part 1 claims: each changes one behaviour the article states."""

import functools
import warnings

from tests.meta.mutation import (
    leaves_of,
    mutant,
    patch_getter,
    replace,
    rewrite_backward,
    rewrite_grad,
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


@mutant("backward-always-creates-graph", kills=["GRAD-001"])
def _(torch):
    """backward() behaves as if create_graph=True were always given: gradients require grad."""
    rewrite_backward(torch, lambda g, retain, create, inputs: (g, retain, True, inputs), quiet=True)


@mutant("backward-always-retains-graph", kills=["BWD-001", "BWD-003"])
def _(torch):
    """backward() keeps the graph alive even when retain_graph is not asked for."""
    rewrite_backward(torch, lambda g, retain, create, inputs: (g, True, create, inputs))


@mutant("retain-graph-false-is-ignored", kills=["BWD-003"])
def _(torch):
    """An explicit retain_graph=False keeps the graph all the same."""
    rewrite_backward(torch, lambda g, retain, create, inputs: (g, True if retain is False else retain, create, inputs))


@mutant("backward-overwrites-grad", kills=["BWD-002", "CG-003", "LAW-003"])
def _(torch):
    """backward() replaces .grad instead of accumulating into it."""

    def make(orig):
        def backward(self, *args, **kwargs):
            for leaf in leaves_of(self):
                leaf.grad = None
            return orig(self, *args, **kwargs)

        return backward

    wrap_function(torch.Tensor, "backward", make)


@mutant("backward-ignores-create-graph", kills=["CG-001", "CG-003"])
def _(torch):
    """backward(create_graph=True) behaves like a plain backward()."""
    rewrite_backward(torch, lambda g, retain, create, inputs: (g, retain, False, inputs))


@mutant("backward-detaches-seed", kills=["CG-002"])
def _(torch):
    """backward() detaches the gradient it is seeded with."""

    def make(orig):
        def backward(self, gradient=None, *args, **kwargs):
            if isinstance(gradient, torch.Tensor):
                gradient = gradient.detach()
            return orig(self, gradient, *args, **kwargs)

        return backward

    wrap_function(torch.Tensor, "backward", make)


@mutant("create-graph-does-not-retain", kills=["CG-003"])
def _(torch):
    """create_graph=True no longer implies retain_graph=True."""
    rewrite_backward(
        torch, lambda g, retain, create, inputs: (g, False if retain is None else retain, create, inputs), quiet=True
    )


@mutant("reference-cycle-warning-always", kills=["CG-004"])
def _(torch):
    """The reference-cycle warning fires on every call (as with torch.set_warn_always(True))."""
    torch.set_warn_always(True)


@mutant("reference-cycle-warning-silenced", kills=["CG-004"])
def _(torch):
    """backward(create_graph=True) no longer warns of the reference cycle."""

    def make(orig):
        def backward(self, *args, **kwargs):
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*reference cycle")
                return orig(self, *args, **kwargs)

        return backward

    wrap_function(torch.Tensor, "backward", make)


@mutant("autograd-grad-warns-of-reference-cycle", kills=["CG-004"])
def _(torch):
    """torch.autograd.grad(create_graph=True) emits the reference-cycle warning too."""

    def make(orig):
        def grad(*args, **kwargs):
            if kwargs.get("create_graph"):
                warnings.warn(
                    "Using backward() with create_graph=True will create a reference cycle between the parameter "
                    "and its gradient. We recommend using autograd.grad when creating the graph to avoid this.",
                    UserWarning,
                    stacklevel=2,
                )
            return orig(*args, **kwargs)

        return grad

    wrap_function(torch.autograd, "grad", make)


@mutant("autograd-grad-returns-list", kills=["AG-001"])
def _(torch):
    """torch.autograd.grad returns a list instead of a tuple."""
    wrap_function(torch.autograd, "grad", lambda orig: lambda *a, **k: list(orig(*a, **k)))


@mutant("autograd-grad-ignores-create-graph", kills=["AG-001", "AG-002"])
def _(torch):
    """torch.autograd.grad drops create_graph (but keeps the graph alive)."""
    rewrite_grad(torch, lambda kw: {**kw, "retain_graph": kw["retain_graph"] or kw["create_graph"], "create_graph": False})


@mutant("autograd-grad-accumulates", kills=["AG-003"])
def _(torch):
    """torch.autograd.grad also accumulates its result into .grad, like backward()."""

    def make(orig):
        def grad(outputs, inputs, *args, **kwargs):
            result = orig(outputs, inputs, *args, **kwargs)
            seq = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
            for inp, g in zip(seq, result):
                if g is not None and inp.is_leaf:
                    inp.grad = g.detach() if inp.grad is None else inp.grad + g.detach()
            return result

        return grad

    wrap_function(torch.autograd, "grad", make)


@mutant("autograd-grad-always-creates-graph", kills=["AG-004"])
def _(torch):
    """torch.autograd.grad behaves as if create_graph=True were always given."""
    rewrite_grad(torch, lambda kw: {**kw, "create_graph": True})


@mutant("autograd-grad-always-retains-graph", kills=["AG-005"])
def _(torch):
    """torch.autograd.grad keeps the graph alive even when retain_graph is not asked for."""
    rewrite_grad(torch, lambda kw: {**kw, "retain_graph": True})
