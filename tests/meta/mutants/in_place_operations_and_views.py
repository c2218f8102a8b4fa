"""Mutants that kill the claims of the section "In-place operations and views": each changes one behaviour a claim states."""

from tests.meta.mutants.common import from_user_code, scaled
from tests.meta.mutation import mutant, patch, wrap_function, wrap_grad


@mutant("autograd-grad-skips-the-version-check", kills=["INPLACE-003"])
def _(torch):
    """torch.autograd.grad returns zeros where a saved tensor was modified in place (backward() still raises)."""

    def grad(original, a):
        try:
            return original(**a)
        except RuntimeError as exc:
            if "modified by an inplace operation" not in str(exc):
                raise
            inputs = a["inputs"] if isinstance(a["inputs"], (tuple, list)) else [a["inputs"]]
            return tuple(torch.zeros_like(i) for i in inputs)

    wrap_grad(torch, grad)


@mutant("autograd-grad-through-a-view-is-zero", kills=["INPLACE-004"])
def _(torch):
    """torch.autograd.grad returns zeros when the graph goes through a view (backward() fills .grad right)."""

    def through_view(t):
        stack, seen = [t.grad_fn], {}  # seen keeps the wrappers alive: their ids are not reused
        while stack:
            fn = stack.pop()
            if fn is None or id(fn) in seen:
                continue
            seen[id(fn)] = fn
            if type(fn).__name__.startswith("View"):
                return True
            stack.extend(f for f, _ in fn.next_functions)
        return False

    def grad(original, a):
        result = original(**a)
        outputs = a["outputs"] if isinstance(a["outputs"], (tuple, list)) else [a["outputs"]]
        if any(isinstance(o, torch.Tensor) and through_view(o) for o in outputs):
            return scaled(torch, result, 0)
        return result

    wrap_grad(torch, grad)


@mutant("set-grad-enabled-false-is-ignored", kills=["INPLACE-002"])
def _(torch):
    """torch.set_grad_enabled(False) leaves grad mode on (torch.no_grad() stays right)."""

    def make(original):
        class set_grad_enabled(original):
            def __init__(self, mode):
                super().__init__(mode or from_user_code())  # torch.no_grad() calls it too: left as it is

        return set_grad_enabled

    patch(torch, "set_grad_enabled", make)


@mutant("inplace-on-leaf-is-allowed", kills=["INPLACE-001"])
def _(torch):
    """An in-place add_ on a leaf that requires grad runs as if under no_grad instead of raising."""

    def make(orig):
        def add_(self, *args, **kwargs):
            if self.is_leaf and self.requires_grad:
                with torch.no_grad():
                    return orig(self, *args, **kwargs)
            return orig(self, *args, **kwargs)

        return add_

    wrap_function(torch.Tensor, "add_", make)


@mutant("inplace-on-leaf-refused-under-no-grad", kills=["INPLACE-002"])
def _(torch):
    """add_ refuses a leaf that requires grad even under torch.no_grad()."""

    def make(orig):
        def add_(self, *args, **kwargs):
            if self.is_leaf and self.requires_grad:
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
            return orig(self, *args, **kwargs)

        return add_

    wrap_function(torch.Tensor, "add_", make)


@mutant("inplace-skips-version-counter", kills=["INPLACE-003"])
def _(torch):
    """mul_ writes through .data, so autograd never learns that a saved tensor changed (a wrong gradient, silently)."""

    def make(original):
        def mul_(self, other):
            original(self.data, other)
            return self

        return mul_

    wrap_function(torch.Tensor, "mul_", make)


@mutant("view-of-leaf-is-a-leaf", kills=["INPLACE-004"])
def _(torch):
    """view() of a tensor that requires grad returns a fresh leaf cut off from the original."""
    wrap_function(torch.Tensor, "view", lambda orig: lambda self, *a: orig(self, *a).detach().requires_grad_(self.requires_grad))


@mutant("double-keeps-the-leaf", kills=["INPLACE-005"])
def _(torch):
    """double() of a leaf that requires grad returns a new leaf that requires grad (and so gets a .grad)."""

    def make(orig):
        def double(self, *args, **kwargs):
            out = orig(self, *args, **kwargs)
            if self.is_leaf and self.requires_grad and out is not self:
                return out.detach().requires_grad_()
            return out

        return double

    wrap_function(torch.Tensor, "double", make)


@mutant("unbind-returns-single-views", kills=["INPLACE-006"])
def _(torch):
    """unbind returns separate select() views, which autograd lets the user modify in place."""

    def unbind(self, dim=0):
        return tuple(self.select(dim, i) for i in range(self.shape[dim]))

    wrap_function(torch.Tensor, "unbind", lambda orig: unbind)
    wrap_function(torch, "unbind", lambda orig: unbind)
