"""Mutants that kill the claims of the section "Graph construction and constants": each changes one behaviour a claim states."""

import contextlib

from tests.meta.mutation import (
    mutant,
    patch,
    replace,
    rewrite_backward,
    wrap_function,
    wrap_grad,
)


@mutant("backward-inputs-tensor-ignored", kills=["GRAPH-006"])
def _(torch):
    """Tensor.backward(inputs=a) with a tensor (not a list) fills every leaf, as without inputs."""

    def make(original):
        def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
            if isinstance(inputs, torch.Tensor):
                inputs = None
            return original(self, gradient, retain_graph, create_graph, inputs)

        return backward

    patch(torch.Tensor, "backward", make)


@mutant("autograd-grad-refuses-a-second-call", kills=["GRAPH-005"])
def _(torch):
    """torch.autograd.grad refuses a second call through a graph even when nothing was saved (backward() allows it)."""
    seen = []  # the outputs themselves (ids of grad_fn wrappers are reused on torch 2.0)

    def grad(original, a):
        outputs = a["outputs"] if isinstance(a["outputs"], (tuple, list)) else [a["outputs"]]
        if any(o is s for o in outputs for s in seen):
            raise RuntimeError("Trying to backward through the graph a second time (mutant)")
        if not a["retain_graph"] and not a["create_graph"]:
            seen.extend(o for o in outputs if isinstance(o, torch.Tensor) and o.grad_fn is not None)
        return original(**a)

    wrap_grad(torch, grad)


@mutant("no-grad-decorator-does-nothing", kills=["GRAPH-008"])
def _(torch):
    """@torch.no_grad() on a function leaves grad mode on inside it (the with-block stays right)."""
    patch(torch.no_grad, "__call__", lambda original: lambda self, fn: fn)


@mutant("integer-requires-grad-is-dropped", kills=["GRAPH-001"])
def _(torch):
    """Asking an integer tensor to require grad is silently ignored (torch.tensor and requires_grad_)."""

    def make_tensor(orig):
        def tensor(data, *args, requires_grad=False, **kwargs):
            out = orig(data, *args, **kwargs)
            return out.requires_grad_() if requires_grad and out.is_floating_point() else out

        return tensor

    wrap_function(torch, "tensor", make_tensor)

    def make_rg(orig):
        def requires_grad_(self, requires_grad=True):
            if not (self.is_floating_point() or self.is_complex()):
                return self
            return orig(self, requires_grad)

        return requires_grad_

    wrap_function(torch.Tensor, "requires_grad_", make_rg)


@mutant("retain-grad-on-constant-is-a-no-op", kills=["GRAPH-002"])
def _(torch):
    """retain_grad() on a tensor that does not require grad does nothing instead of raising."""
    wrap_function(torch.Tensor, "retain_grad", lambda orig: lambda self: None if not self.requires_grad else orig(self))


@mutant("requires-grad-off-on-non-leaf-is-ignored", kills=["GRAPH-003"])
def _(torch):
    """requires_grad_(False) on a non-leaf silently keeps the tensor as it is."""

    def make(orig):
        def requires_grad_(self, requires_grad=True):
            if not requires_grad and not self.is_leaf:
                return self
            return orig(self, requires_grad)

        return requires_grad_

    wrap_function(torch.Tensor, "requires_grad_", make)


@mutant("grad-wrt-constant-is-zero", kills=["GRAPH-004"])
def _(torch):
    """torch.autograd.grad answers zeros for an input that does not require grad instead of raising."""

    def make(orig):
        def grad(outputs, inputs, *args, **kwargs):
            seq = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
            live = [t for t in seq if t.requires_grad]
            got = iter(orig(outputs, live, *args, **kwargs) if live else ())
            return tuple(next(got) if t.requires_grad else torch.zeros_like(t) for t in seq)

        return grad

    wrap_function(torch.autograd, "grad", make)


@mutant("second-backward-always-refused", kills=["GRAPH-005"])
def _(torch):
    """Any second backward() from the same tensor without retain_graph raises, even when nothing was saved."""

    def make(orig):
        def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
            if getattr(self, "_spec_backwarded", False) and not (retain_graph or create_graph):
                raise RuntimeError("Trying to backward through the graph a second time")
            self._spec_backwarded = True
            return orig(self, gradient, retain_graph, create_graph, inputs)

        return backward

    wrap_function(torch.Tensor, "backward", make)


@mutant("backward-ignores-inputs", kills=["GRAPH-006"])
def _(torch):
    """backward(inputs=...) fills the .grad of every leaf, as if inputs were not given."""
    rewrite_backward(torch, lambda g, retain, create, inputs: (g, retain, create, None))


@mutant("detach-keeps-the-graph", kills=["GRAPH-007"])
def _(torch):
    """detach() returns a view that stays in the graph."""
    replace(torch.Tensor, "detach", lambda self: self.view_as(self))


@mutant("no-grad-does-nothing", kills=["GRAPH-008", "INPLACE-002"])
def _(torch):
    """torch.no_grad() is an empty context manager: operations inside it are recorded."""

    class no_grad(contextlib.ContextDecorator):
        def __enter__(self):
            return None

        def __exit__(self, *exc):
            return False

    replace(torch, "no_grad", no_grad)
