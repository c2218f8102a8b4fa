"""Mutants for the execution-mode claims: "torch.compile" (COMP-*, HZ-040..044) and "torch.func transforms" (TFUNC-*).

Mutants of plain autograd and torch.func kill the eager and func rows, which the default run (``--mode``
not given) has.  Mutants of ``torch.compile`` change what the compiled rows observe, so they declare
``modes=("aot_eager",)``: the proof runs their claims with ``--mode aot_eager`` (and skips them where
torch.compile is not available, e.g. torch 2.0 on Python 3.11).  The compile mutants wrap
``torch.compile``; ``spec.modes.compiled`` calls it at call time, so every compiled row goes through them.

A hazard claim is killed by a mutant that *fixes* it (the test ends "fixed"): on a torch where HZ-040..044 are
present, compiling is replaced by running the function eagerly, which gives the true value.  On a torch where a
hazard is absent (it raises, or updates the input; each hazard's range is the by_version data beside its claim)
the same mutant brings the wrong value back instead, and the hazard test fails its check.
"""

import functools

from tests.meta.mutation import mutant, wrap_backward, wrap_function

DOUBLE_BACKWARD = "does not currently support double backward"


#: The recorded behaviour changes (the registry's by_version data beside the claims) that decide what a mutant kills.
FUNC_FULLGRAPH = "COMP-015/torch.func PINN loss under fullgraph=True"
TRACE_AUTOGRAD_OPS = "COMP-013/torch._dynamo.config.trace_autograd_ops exists"
SILENT_UXX = "HZ-040/u_xx through a compiled network is silently zero"
ZERO_HESSIAN = "HZ-042/autograd.functional.hessian inside a compiled function is zero"
DROPPED_MUTATION = "HZ-043/in-place update of a 0-dim float64 input is dropped"
CONSTANT_INPUT_GRADIENT = "HZ-044/u_x from a compiled autograd.grad is a constant"


def _recorded(key: str):
    """The registry's recorded behaviour change ``key`` (read from the claims' source: no torch import)."""
    from spec.claims import recorded_change

    return recorded_change(key)


def _hazard_present(key: str) -> bool:
    """Whether the hazard whose presence is recorded as ``key`` is present in the running torch."""
    return bool(_recorded(key).current())


def _when(key: str, holds, *claims: str) -> list[str]:
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
    return list(claims) if holds(_recorded(key).for_version(version("torch"))) else []


def _wrap_compiled(torch, wrap):
    """``torch.compile(fn, ...)`` returns ``wrap(compiled_fn, fn)`` (also as a decorator)."""

    def make(original):
        @functools.wraps(original)
        def compile_(model=None, **kwargs):
            if model is None:
                return lambda fn: compile_(fn, **kwargs)
            return wrap(original(model, **kwargs), model)

        return compile_

    wrap_function(torch, "compile", make)


def _map_tensors(torch, value, fn):
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_map_tensors(torch, v, fn) for v in value)
    if isinstance(value, dict):
        return {k: _map_tensors(torch, v, fn) for k, v in value.items()}
    return value


def _compile_is_eager(torch):
    """``torch.compile(fn, ...)`` returns ``fn`` itself: every compiled row runs eagerly."""

    def make(original):
        @functools.wraps(original)
        def compile_(model=None, **kwargs):
            if model is None:
                return lambda fn: fn
            return model

        return compile_

    wrap_function(torch, "compile", make)


# ------------------------------------------------------------------------------ torch.compile: rules


@mutant("compile-runs-eagerly", kills=["COMP-002", "COMP-005", "COMP-009", "COMP-010", "COMP-011", "COMP-012",
                                      *_when(FUNC_FULLGRAPH, lambda v: v["outcome"] != "returned", "COMP-015")],
        modes=("aot_eager",))
def _(torch):
    """torch.compile returns the function uncompiled: one node per operation, a differentiable backward, graphs
    freed as eager frees them, retain_grad() and in-place errors as in eager (and before torch 2.5 a torch.func
    PINN loss under fullgraph=True compiles)."""
    _compile_is_eager(torch)


@mutant("compiled-results-off-by-a-thousandth",
        kills=["COMP-001", "COMP-016", *_when(TRACE_AUTOGRAD_OPS, bool, "COMP-013"),
               *_when(FUNC_FULLGRAPH, lambda v: v["outcome"] == "returned", "COMP-015")],
        modes=("aot_eager",))
def _(torch):
    """Every floating-point tensor a compiled function returns is 1.001 times the true one."""

    def wrap(compiled, _fn):
        @functools.wraps(compiled)
        def call(*args, **kwargs):
            out = compiled(*args, **kwargs)
            return _map_tensors(torch, out, lambda t: t * 1.001 if t.is_floating_point() else t)

        return call

    _wrap_compiled(torch, wrap)


@mutant("compiled-backward-doubles",
        kills=["COMP-003", "COMP-007", "COMP-008", *_when(TRACE_AUTOGRAD_OPS, bool, "COMP-014")], modes=("aot_eager",))
def _(torch):
    """The gradient that flows back into a compiled function's outputs is doubled (its forward is unchanged)."""

    class Twice(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t.clone()

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    def wrap(compiled, _fn):
        @functools.wraps(compiled)
        def call(*args, **kwargs):
            out = compiled(*args, **kwargs)
            return _map_tensors(torch, out, lambda t: Twice.apply(t) if t.requires_grad else t)

        return call

    _wrap_compiled(torch, wrap)


@mutant("compiled-ignores-no-grad", kills=["COMP-006"], modes=("aot_eager",))
def _(torch):
    """A compiled function records a graph even when it is called under torch.no_grad()."""

    def wrap(compiled, _fn):
        @functools.wraps(compiled)
        def call(*args, **kwargs):
            with torch.enable_grad():
                return compiled(*args, **kwargs)

        return call

    _wrap_compiled(torch, wrap)


@mutant("trace-autograd-ops-ignored", kills=["COMP-013"], modes=("aot_eager",))
def _(torch):
    """torch._dynamo.config.patch(trace_autograd_ops=True) leaves the option off (Dynamo breaks the graph at
    autograd.grad, and fullgraph=True fails)."""
    import torch._dynamo

    config = torch._dynamo.config

    def make(original):
        @functools.wraps(original)
        def patch(self, arg1=None, arg2=None, **kwargs):
            if self is config:
                kwargs.pop("trace_autograd_ops", None)
                if isinstance(arg1, dict):
                    arg1 = {k: v for k, v in arg1.items() if k != "trace_autograd_ops"}
                if arg1 == "trace_autograd_ops":
                    arg1, arg2 = None, None
            return original(self, arg1, arg2, **kwargs)

        return patch

    # The config module refuses new attributes: patch the method of its class (only this module's calls change).
    wrap_function(type(config), "patch", make)


# ------------------------------------------------------------------------------ eager rows of the compile claims


@mutant("modes-backward-seeds-two", kills=["COMP-001", "COMP-003", "COMP-004", "COMP-005", "COMP-007", "COMP-008"])
def _(torch):
    """backward() of a scalar without an explicit gradient seeds with 2 instead of 1."""

    def transform(original, arguments):
        tensors = arguments["tensors"]
        if arguments["grad_tensors"] is None:
            single = isinstance(tensors, torch.Tensor)
            outs = [tensors] if single else list(tensors)
            arguments["grad_tensors"] = [2 * torch.ones_like(t) for t in outs]
        return original(**arguments)

    wrap_backward(torch, transform)


@mutant("modes-backward-always-retains-graph", kills=["COMP-004"])
def _(torch):
    """backward() keeps the graph even without retain_graph=True, so a second backward runs."""

    def transform(original, arguments):
        arguments["retain_graph"] = True
        return original(**arguments)

    wrap_backward(torch, transform)


# ------------------------------------------------------------------------------ torch.compile: hazards


@mutant("compiled-uxx-silent-flipped", kills=["HZ-040", "HZ-041"], modes=("aot_eager",))
def _(torch):
    """Where u_xx through a compiled network is silently zero/None (torch 2.8 to 2.13): compiling runs the network
    eagerly, and u_xx is right (the hazards fixed).  Elsewhere: the error of the second autograd.grad becomes
    zeros with materialize_grads=True and None with allow_unused=True (the hazards back)."""
    if _hazard_present(SILENT_UXX):
        _compile_is_eager(torch)
        return

    def make(original):
        @functools.wraps(original)
        def grad(outputs, inputs, *args, **kwargs):
            try:
                return original(outputs, inputs, *args, **kwargs)
            except RuntimeError as exc:
                if DOUBLE_BACKWARD not in str(exc) and "does not require grad" not in str(exc):
                    raise
                inputs = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
                if kwargs.get("materialize_grads"):
                    return tuple(torch.zeros_like(i) for i in inputs)
                if kwargs.get("allow_unused"):
                    return (None,) * len(inputs)
                raise

        return grad

    wrap_function(torch.autograd, "grad", make)


@mutant("compiled-hessian-zero-flipped", kills=["HZ-042"], modes=("aot_eager",))
def _(torch):
    """Before torch 2.14, where autograd.functional.hessian inside a compiled function is zero: compiling runs the
    function eagerly (the hazard fixed).  From 2.14: a compiled function whose trace raises the double-backward
    error returns zeros of the eager result's shape (the hazard back)."""
    if _hazard_present(ZERO_HESSIAN):
        _compile_is_eager(torch)
        return

    def wrap(compiled, fn):
        @functools.wraps(compiled)
        def call(*args, **kwargs):
            try:
                return compiled(*args, **kwargs)
            except RuntimeError as exc:
                if DOUBLE_BACKWARD not in str(exc):
                    raise
                return _map_tensors(torch, fn(*args, **kwargs), torch.zeros_like)

        return call

    _wrap_compiled(torch, wrap)


@mutant("compiled-0dim-mutation-flipped", kills=["HZ-043"], modes=("aot_eager",))
def _(torch):
    """Where the in-place update of a 0-dim float64 input is dropped (torch 2.7 to 2.13): compiling runs the
    function eagerly (the hazard fixed).  Elsewhere: a compiled function puts back the values its 0-dim float64
    inputs had before the call (the hazard back)."""
    if _hazard_present(DROPPED_MUTATION):
        _compile_is_eager(torch)
        return

    def wrap(compiled, _fn):
        @functools.wraps(compiled)
        def call(*args, **kwargs):
            saved = [(a, a.detach().clone()) for a in args
                     if isinstance(a, torch.Tensor) and a.dim() == 0 and a.dtype == torch.float64]
            out = compiled(*args, **kwargs)
            with torch.no_grad():
                for a, before in saved:
                    a.copy_(before)
            return out

        return call

    _wrap_compiled(torch, wrap)


# ------------------------------------------------------------------------------ torch.func transforms


@mutant("func-grad-doubled", kills=["TFUNC-001", "TFUNC-002", "TFUNC-003", "TFUNC-005", "TFUNC-006", "TFUNC-007",
                                    "TFUNC-008", "TFUNC-009", "COMP-013", "COMP-014", "COMP-015"])
def _(torch):
    """torch.func.grad returns twice the gradient (the auxiliary output of has_aux=True is unchanged).

    It also kills the eager rows of COMP-013..015, which check torch.autograd against torch.func (and the other
    way round) before the compiled rows check torch.compile against the same reference."""

    def make(original):
        @functools.wraps(original)
        def grad(func, argnums=0, has_aux=False, **kwargs):
            inner = original(func, argnums=argnums, has_aux=has_aux, **kwargs)

            def doubled(*args, **kw):
                out = inner(*args, **kw)
                if has_aux:
                    g, aux = out
                    return _map_tensors(torch, g, lambda t: 2 * t), aux
                return _map_tensors(torch, out, lambda t: 2 * t)

            return doubled

        return grad

    wrap_function(torch.func, "grad", make)


@mutant("compiled-input-gradient-constant-flipped", kills=["HZ-044"], modes=("aot_eager",))
def _(torch):
    """Before torch 2.8, where u_x from a compiled autograd.grad(create_graph=True) is a constant: compiling runs
    the function eagerly (the hazard fixed).  From 2.8: a compiled function's outputs come back detached, so u_x is a
    constant again (the hazard back)."""
    if _hazard_present(CONSTANT_INPUT_GRADIENT):
        _compile_is_eager(torch)
        return

    def wrap(compiled, _fn):
        @functools.wraps(compiled)
        def call(*args, **kwargs):
            return _map_tensors(torch, compiled(*args, **kwargs), lambda t: t.detach())

        return call

    _wrap_compiled(torch, wrap)
