"""Helpers shared by the mutants of several sections: named errors, patched backward calls, compiled wrappers."""

import functools
import inspect
import sys

from tests.meta.mutation import (
    patch,
    replace,
    wrap_function,
)

BACKWARD_INSIDE = "backward() called inside a functorch transform"


REQUIRES_GRAD_INSIDE = "You are attempting to call Tensor.requires_grad_()"


def wrapped(torch, tensors):
    """Whether any tensor is a torch.func wrapper (the function is being transformed)."""
    return any(isinstance(t, torch.Tensor) and torch._C._functorch.maybe_get_level(t) >= 0 for t in tensors)


TWICE = "trying to differentiate twice a function that was marked with @once_differentiable"


def once_differentiable_code(torch):
    """The code object of once_differentiable's wrapper: how a decorated backward is recognised."""
    return torch.autograd.function.once_differentiable(lambda ctx: None).__code__


def patch_backward_call(torch, call):
    """Replace BackwardCFunction.apply (which calls a custom Function's backward) with
    ``call(original_apply, node, backward_fn, *grads)``."""
    cls = torch.autograd.function.BackwardCFunction
    original = cls.apply

    def apply(self, *args):
        return call(original, self, self._forward_cls.backward, *args)

    cls.apply = apply


def original_apply(torch):
    """``Function.apply`` as a plain ``(cls, *args)`` callable: a Python classmethod up to torch 2.14, a C
    classmethod descriptor in 2.15."""
    descriptor = torch.autograd.Function.__dict__["apply"]
    return lambda cls, *args, **kwargs: descriptor.__get__(None, cls)(*args, **kwargs)


def wrap_pack(torch, wrap):
    graph = torch.autograd.graph
    base = graph.saved_tensors_hooks

    class saved_tensors_hooks(base):
        def __init__(self, pack_hook, unpack_hook):
            super().__init__(wrap(pack_hook), unpack_hook)

    graph.saved_tensors_hooks = saved_tensors_hooks


def zero_times_inf_is_zero(torch, fn, local):
    """``fn`` whose backward multiplies the incoming gradient by ``local(x, result)`` but returns 0 where it is 0."""

    class Op(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            result = fn(x)
            ctx.save_for_backward(x, result)
            return result

        @staticmethod
        def backward(ctx, g):
            x, result = ctx.saved_tensors
            return torch.where(g == 0, torch.zeros_like(g), g * local(x, result))

    return Op.apply


def with_backward(torch, fn, derivative):
    """``fn`` whose derivative is ``derivative(x)`` (first order only)."""

    class Op(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return fn(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * derivative(x)

    return Op.apply


def right_kink(torch, x, lo, hi, clamp=None):
    """clamp(x, lo, hi) with derivative 1 on the closed interval [lo, hi] (so 1 at both bounds); ``clamp``: torch's."""
    inside = torch.ones_like(x, dtype=torch.bool)
    if lo is not None:
        inside = inside & (x >= lo)
    if hi is not None:
        inside = inside & (x <= hi)
    return torch.where(inside, x, (clamp or torch.clamp)(x.detach(), lo, hi))


def min_norm_clamp(torch, x, lo=None, hi=None):
    """clamp whose derivative in x is 0 at the bounds (the bound, a constant, is selected at a tie)."""
    out = x
    if lo is not None:
        lo_t = lo if isinstance(lo, torch.Tensor) else torch.full_like(x, float(lo))
        out = torch.where(out > lo_t, out, lo_t.detach())
    if hi is not None:
        hi_t = hi if isinstance(hi, torch.Tensor) else torch.full_like(x, float(hi))
        out = torch.where(out < hi_t, out, hi_t.detach())
    return out


DOUBLE_BACKWARD = "does not currently support double backward"


#: The recorded behaviour changes (the registry's by_version data beside the claims) that decide what a mutant kills.
FUNC_FULLGRAPH = "COMP-015/torch.func PINN loss under fullgraph=True"


TRACE_AUTOGRAD_OPS = "COMP-013/torch._dynamo.config.trace_autograd_ops exists"


SILENT_UXX = "HZ-040/u_xx through a compiled network is silently zero"


ZERO_HESSIAN = "HZ-042/autograd.functional.hessian inside a compiled function is zero"


DROPPED_MUTATION = "HZ-043/in-place update of a 0-dim float64 input is dropped"


CONSTANT_INPUT_GRADIENT = "HZ-044/u_x from a compiled autograd.grad is a constant"


def recorded(key: str):
    """The registry's recorded behaviour change ``key`` (read from the claims' source: no torch import)."""
    from spec.claims import recorded_change

    return recorded_change(key)


def hazard_present(key: str) -> bool:
    """Whether the hazard whose presence is recorded as ``key`` is present in the running torch."""
    return bool(recorded(key).current())


def when(key: str, holds, *claims: str) -> list[str]:
    """``claims`` if ``holds(value)`` for the value that the recorded change ``key`` has on the installed torch,
    else nothing.

    Some compiled rows verify a value only on some releases (before torch 2.11 COMP-013/014 are n/a, before 2.5
    COMP-015 only records Unsupported): a mutant of that value kills them there only.  Mutants are loaded before
    torch is imported, so the version is that of the installed distribution.
    """
    import os
    from importlib.metadata import version

    if os.environ.get("SPEC_MUTANTS_ALL_RELEASES"):
        return list(claims)  # the mutants index: what a mutant kills on some release
    return list(claims) if holds(recorded(key).for_version(version("torch"))) else []


def wrap_compiled(torch, wrap):
    """``torch.compile(fn, ...)`` returns ``wrap(compiled_fn, fn)`` (also as a decorator)."""

    def make(original):
        @functools.wraps(original)
        def compile_(model=None, **kwargs):
            if model is None:
                return lambda fn: compile_(fn, **kwargs)
            return wrap(original(model, **kwargs), model)

        return compile_

    wrap_function(torch, "compile", make)


def map_tensors(torch, value, fn):
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, (tuple, list)):
        return type(value)(map_tensors(torch, v, fn) for v in value)
    if isinstance(value, dict):
        return {k: map_tensors(torch, v, fn) for k, v in value.items()}
    return value


def compile_is_eager(torch):
    """``torch.compile(fn, ...)`` returns ``fn`` itself: every compiled row runs eagerly."""

    def make(original):
        @functools.wraps(original)
        def compile_(model=None, **kwargs):
            if model is None:
                return lambda fn: fn
            return model

        return compile_

    wrap_function(torch, "compile", make)


def seq(x):
    return [x] if not isinstance(x, (list, tuple)) else list(x)


def seeds(torch, outputs, given, make):
    """grad_outputs with each missing (None) seed replaced by ``make(output)``."""
    outs = seq(outputs)
    given = [None] * len(outs) if given is None else seq(given)
    return [make(o) if g is None else g for o, g in zip(outs, given)]


def with_materialize_grads(torch):
    """Before torch 2.1 grad() has no materialize_grads: give it one that works as in 2.1, so that the
    materialize_grads mutants below also flip its absence (which the claims record on those versions)."""
    original = torch.autograd.grad
    if "materialize_grads" in inspect.signature(original).parameters:
        return

    def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
             allow_unused=None, is_grads_batched=False, materialize_grads=False):
        if materialize_grads and allow_unused is False:
            raise ValueError(
                "Expected allow_unused to be True or not passed when materialize_grads=True, but got: allow_unused=False."
            )
        result = original(outputs, inputs, grad_outputs, retain_graph, create_graph, only_inputs,
                          bool(allow_unused) or materialize_grads, is_grads_batched)
        if materialize_grads:
            result = tuple(torch.zeros_like(i) if r is None else r for r, i in zip(result, seq(inputs)))
        return result

    replace(torch.autograd, "grad", grad)


def scaled(torch, value, factor):
    """``value`` (a tensor, or a tuple/list of tensors and None) times ``factor``."""
    if isinstance(value, torch.Tensor):
        return value * factor
    if isinstance(value, (tuple, list)):
        return type(value)(scaled(torch, v, factor) for v in value)
    return value


def from_user_code(depth=2):
    """Whether the caller of the patched function is not torch itself (torch.func calls torch.autograd inside)."""
    name = sys._getframe(depth).f_globals.get("__name__", "")
    return not (name == "torch" or name.startswith("torch."))


def plain(original):
    """The callable behind what :func:`tests.meta.mutation.patch` hands over (staticmethods unwrapped)."""
    return original.__func__ if isinstance(original, (staticmethod, classmethod)) else original


def wrong_at_order(torch, name, order, size=0.25):
    """``torch.<name>`` plus size * (x - x.detach())**order: the same value and derivatives, but the one of
    ``order`` shifted by size * order!, by every API (autograd, torch.func, forward mode)."""

    def make(original):
        def fn(x, *args, **kwargs):
            out = original(x, *args, **kwargs)
            if isinstance(x, torch.Tensor) and x.is_floating_point():
                out = out + size * (x - x.detach()) ** order
            return out

        return fn

    patch(torch, name, make)
