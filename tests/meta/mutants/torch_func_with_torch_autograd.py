"""Mutants that kill the claims of the section "torch.func with torch.autograd": each changes one behaviour a claim states."""

import contextlib
import functools

from tests.meta.mutants.common import BACKWARD_INSIDE, REQUIRES_GRAD_INSIDE, wrapped
from tests.meta.mutation import (
    mutant,
    torch_release,
    wrap_call,
    wrap_function,
    wrap_grad,
)


@mutant("backward-inside-transform-is-ignored", kills=["FUNC-001"])
def _(torch):
    """Tensor.backward() inside a torch.func transform silently does nothing instead of raising."""

    def make(orig):
        def backward(self, *args, **kwargs):
            try:
                return orig(self, *args, **kwargs)
            except RuntimeError as exc:
                if BACKWARD_INSIDE not in str(exc):
                    raise
                return None

        return backward

    wrap_function(torch.Tensor, "backward", make)


@mutant("requires-grad-inside-transform-is-ignored", kills=["FUNC-002"])
def _(torch):
    """Tensor.requires_grad_() inside a torch.func transform silently returns the tensor instead of raising."""

    def make(orig):
        def requires_grad_(self, *args, **kwargs):
            try:
                return orig(self, *args, **kwargs)
            except RuntimeError as exc:
                if REQUIRES_GRAD_INSIDE not in str(exc):
                    raise
                return self

        return requires_grad_

    wrap_function(torch.Tensor, "requires_grad_", make)


@mutant("vmap-randomness-defaults-to-different", kills=["FUNC-003"])
def _(torch):
    """torch.func.vmap's randomness defaults to 'different' instead of 'error'."""

    def transform(original, a):
        if "randomness" not in a.given:
            a["randomness"] = "different"
        return original(**a)

    wrap_call(torch.func, "vmap", transform)


@mutant("func-grad-obeys-an-outer-no-grad", kills=["FUNC-004"])
def _(torch):
    """torch.func.grad and torch.func.vjp called with grad mode off return zero gradients."""

    def make_grad(orig):
        def grad(func, *args, **kwargs):
            inner = orig(func, *args, **kwargs)

            def call(*xs, **kw):
                enabled = torch.is_grad_enabled()
                out = inner(*xs, **kw)
                return out if enabled else torch.zeros_like(out)

            return call

        return grad

    def make_vjp(orig):
        def vjp(func, *primals, **kwargs):
            enabled = torch.is_grad_enabled()
            out, fn = orig(func, *primals, **kwargs)
            if enabled:
                return out, fn
            return out, lambda *cts: tuple(torch.zeros_like(g) for g in fn(*cts))

        return vjp

    wrap_function(torch.func, "grad", make_grad)
    wrap_function(torch.func, "vjp", make_vjp)


@mutant("func-grad-ignores-an-inner-no-grad", kills=["FUNC-005"])
def _(torch):
    """A torch.no_grad() inside a function transformed by torch.func.grad does nothing."""

    def make(orig):
        def grad(func, *args, **kwargs):
            def without_no_grad(*xs, **kw):
                saved = torch.no_grad
                torch.no_grad = contextlib.nullcontext
                try:
                    return func(*xs, **kw)
                finally:
                    torch.no_grad = saved

            return orig(without_no_grad, *args, **kwargs)

        return grad

    wrap_function(torch.func, "grad", make)


@mutant("vmap-falls-back-to-a-loop", kills=["FUNC-006"])
def _(torch):
    """torch.func.vmap runs the function once per sample (a Python loop) where batching meets control flow."""

    def make(orig):
        def vmap(func, *args, **kwargs):
            batched = orig(func, *args, **kwargs)

            def call(x):
                try:
                    return batched(x)
                except RuntimeError as exc:
                    if "vmap: It looks like you're" not in str(exc):
                        raise
                    return torch.stack([func(row) for row in x])

            return call

        return vmap

    wrap_function(torch.func, "vmap", make)


@mutant("autograd-grad-inside-transform-returns-zeros", kills=["FUNC-007"])
def _(torch):
    """torch.autograd.grad inside a torch.func transform returns zeros where the output has no graph, instead of
    raising 'element 0 of tensors does not require grad'."""

    def transform(original, a):
        try:
            return original(**a)
        except RuntimeError as exc:
            inputs = a["inputs"]
            inputs = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
            if "element 0 of tensors does not require grad" not in str(exc) or not wrapped(torch, inputs):
                raise
            return tuple(torch.zeros_like(t) for t in inputs)

    wrap_grad(torch, transform)


@mutant("autograd-grad-inside-transform-keeps-the-graph", kills=["HZ-020"])
def _(torch):
    """torch.autograd.grad called inside a torch.func transform always builds the graph (create_graph=True), so the
    transform differentiates through it: the hazard fixed."""

    def transform(original, a):
        inputs = a["inputs"]
        inputs = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
        if wrapped(torch, inputs):
            a["create_graph"] = True
        return original(**a)

    wrap_grad(torch, transform)


@mutant("func-transforms-under-inference-mode-flipped", kills=["HZ-021"])
def _(torch):
    """Before torch 2.12: torch.func.grad/vjp/jvp/jacrev leave inference mode for the call (the hazard fixed).
    From 2.12, which fixed it: they return zeros under inference mode again (the hazard back)."""
    fixed_here = torch_release(torch) >= (2, 12)

    def outside_inference(fn):
        @functools.wraps(fn)
        def call(*a, **k):
            with torch.inference_mode(False):
                return fn(*a, **k)

        return call

    def zeros_under_inference(fn, zero):
        @functools.wraps(fn)
        def call(*a, **k):
            out = fn(*a, **k)
            return zero(out) if torch.is_inference_mode_enabled() else out

        return call

    def zeros(tree):
        if isinstance(tree, torch.Tensor):
            return torch.zeros_like(tree)
        return type(tree)(zeros(t) for t in tree)

    def make_transform(orig):  # grad, jacrev: transform(f)(x)
        def transform(func, *args, **kwargs):
            inner = orig(func, *args, **kwargs)
            return zeros_under_inference(inner, zeros) if fixed_here else outside_inference(inner)

        return transform

    def make_vjp(orig):
        def vjp(func, *primals, **kwargs):
            if fixed_here:
                out, fn = orig(func, *primals, **kwargs)
                return out, zeros_under_inference(fn, zeros)
            with torch.inference_mode(False):
                out, fn = orig(func, *primals, **kwargs)
            return out, outside_inference(fn)

        return vjp

    def make_jvp(orig):
        if fixed_here:
            return zeros_under_inference(orig, lambda pair: (pair[0], zeros(pair[1])))
        return outside_inference(orig)

    wrap_function(torch.func, "grad", make_transform)
    wrap_function(torch.func, "jacrev", make_transform)
    wrap_function(torch.func, "vjp", make_vjp)
    wrap_function(torch.func, "jvp", make_jvp)


@mutant("vmap-in-place-broadcasts-silently", kills=["FUNC-008"])
def _(torch):
    """vmap never refuses an in-place write: a refused function is rerun as a per-sample loop."""

    def make(orig):
        def vmap(func, *args, **kwargs):
            batched = orig(func, *args, **kwargs)

            def run(*xs):
                try:
                    return batched(*xs)
                except RuntimeError as exc:
                    if "inplace arithmetic" not in str(exc):
                        raise
                    return torch.stack([func(*(x[i] for x in xs)) for i in range(xs[0].shape[0])])

            return run

        return vmap

    wrap_function(torch.func, "vmap", make)


@mutant("vmap-pads-dynamic-shapes", kills=["FUNC-009"])
def _(torch):
    """vmap(torch.nonzero) returns a zero-padded stack of the samples' results instead of raising."""

    def make(orig):
        def vmap(func, *args, **kwargs):
            if func is not torch.nonzero:
                return orig(func, *args, **kwargs)

            def run(x):
                rows = [torch.nonzero(xi) for xi in x]
                n = max(r.shape[0] for r in rows)
                return torch.stack([torch.cat([r, r.new_zeros(n - r.shape[0], r.shape[1])]) for r in rows])

            return run

        return vmap

    wrap_function(torch.func, "vmap", make)


@mutant("function-vmap-staticmethod-is-ignored", kills=["FUNC-010"])
def _(torch):
    """An overridden vmap staticmethod of an autograd.Function is not seen (vmap raises 'no vmap support')."""
    import torch._functorch.autograd_function as af

    for name in ("has_overridden_vmap_rule", "has_overriden_vmap_rule"):
        if hasattr(af, name):
            wrap_function(af, name, lambda orig: lambda autograd_function: False)
