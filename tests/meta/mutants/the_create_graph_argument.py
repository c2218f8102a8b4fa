"""Mutants that kill the claims of the section "The create_graph argument": each changes one behaviour a claim states."""

import warnings

from tests.meta.mutants.common import scaled
from tests.meta.mutation import (
    mutant,
    patch,
    rewrite_backward,
    rewrite_grad,
    wrap_function,
    wrap_grad,
)


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


@mutant("autograd-grad-list-inputs-doubled", kills=["AG-001"])
def _(torch):
    """torch.autograd.grad doubles the gradients when inputs is given as a list (a tensor stays right)."""

    def grad(original, a):
        result = original(**a)
        return scaled(torch, result, 2) if isinstance(a["inputs"], list) else result

    wrap_grad(torch, grad)


@mutant("autograd-grad-create-graph-does-not-retain", kills=["CG-003"])
def _(torch):
    """torch.autograd.grad(create_graph=True) frees the graph when retain_graph is not given (backward() keeps it)."""

    def grad(original, a):
        if a["retain_graph"] is None:
            a["retain_graph"] = False
        return original(**a)

    wrap_grad(torch, grad)


@mutant("autograd-grad-explicit-retain-graph-false-retains", kills=["AG-005"])
def _(torch):
    """torch.autograd.grad(retain_graph=False) keeps the graph (retain_graph not given still frees it)."""

    def grad(original, a):
        if a["retain_graph"] is False:
            a["retain_graph"] = True
        return original(**a)

    wrap_grad(torch, grad)


@mutant("backward-of-a-constant-is-silent", kills=["AG-004"])
def _(torch):
    """Tensor.backward() on a tensor without a graph returns quietly (torch.autograd.grad still raises)."""

    def make(original):
        def backward(self, *args, **kwargs):
            if not self.requires_grad and self.grad_fn is None:
                return None
            return original(self, *args, **kwargs)

        return backward

    patch(torch.Tensor, "backward", make)


@mutant("func-grad-of-a-grad-doubled", kills=["AG-002", "HO-002", "HO-006", "LAW-002"])
def _(torch):
    """torch.func.grad called inside another torch.func.grad doubles its result: orders >= 2 by torch.func are wrong."""
    depth = [0]

    def make(original):
        def grad(func, *args, **kwargs):
            inner = original(func, *args, **kwargs)

            def call(*xs, **kws):
                nested = depth[0] > 0
                depth[0] += 1
                try:
                    result = inner(*xs, **kws)
                finally:
                    depth[0] -= 1
                return scaled(torch, result, 2) if nested else result

            return call

        return grad

    patch(torch.func, "grad", make)
