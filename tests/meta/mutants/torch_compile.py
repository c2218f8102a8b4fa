"""Mutants that kill the claims of the section "torch.compile": each changes one behaviour a claim states."""

import functools

from tests.meta.mutants.common import (
    CONSTANT_INPUT_GRADIENT,
    DOUBLE_BACKWARD,
    DROPPED_MUTATION,
    FUNC_FULLGRAPH,
    SILENT_UXX,
    TRACE_AUTOGRAD_OPS,
    ZERO_HESSIAN,
    compile_is_eager,
    hazard_present,
    map_tensors,
    when,
    wrap_compiled,
)
from tests.meta.mutation import mutant, wrap_backward, wrap_function

#: The Compiled backward section's recorded changes that these mutants' kills depend on.
CBWD_DONATED_REFUSES = "CBWD-001/a later backward(retain_graph=True) through a donated-buffer backward"
CBWD_DONATED_DEFAULT = "CBWD-002/torch._functorch.config.donated_buffer"
CBWD_PINN_LOSS = "CBWD-006/compiled PINN loss (residual and boundary term) backward"


@mutant("compile-runs-eagerly", kills=["COMP-002", "COMP-005", "COMP-009", "COMP-010", "COMP-011", "COMP-012",
                                      *when(FUNC_FULLGRAPH, lambda v: v["outcome"] != "returned", "COMP-015"),
                                      # Compiled backward: eager's backward is differentiable, without donated buffers
                                      "CBWD-004", "CBWD-005",
                                      *when(CBWD_DONATED_REFUSES, lambda v: v["outcome"] == "raised", "CBWD-001"),
                                      *when(CBWD_PINN_LOSS, lambda v: v["outcome"] == "raised", "CBWD-006")],
        modes=("aot_eager",))
def _(torch):
    """torch.compile returns the function uncompiled: one node per operation, a differentiable backward, graphs
    freed as eager frees them, retain_grad() and in-place errors as in eager (and before torch 2.5 a torch.func
    PINN loss under fullgraph=True compiles)."""
    compile_is_eager(torch)


@mutant("compiled-results-off-by-a-thousandth",
        kills=["COMP-001", "COMP-016", *when(TRACE_AUTOGRAD_OPS, bool, "COMP-013"),
               *when(FUNC_FULLGRAPH, lambda v: v["outcome"] == "returned", "COMP-015")],
        modes=("aot_eager",))
def _(torch):
    """Every floating-point tensor a compiled function returns is 1.001 times the true one."""

    def wrap(compiled, _fn):
        @functools.wraps(compiled)
        def call(*args, **kwargs):
            out = compiled(*args, **kwargs)
            return map_tensors(torch, out, lambda t: t * 1.001 if t.is_floating_point() else t)

        return call

    wrap_compiled(torch, wrap)


@mutant("compiled-backward-doubles",
        kills=["COMP-003", "COMP-007", "COMP-008", *when(TRACE_AUTOGRAD_OPS, bool, "COMP-014"),
               "CBWD-001", "CBWD-003", "CBWD-004", *when(CBWD_DONATED_DEFAULT, lambda v: v != "absent", "CBWD-002"),
               *when(CBWD_PINN_LOSS, lambda v: v["outcome"] == "returned", "CBWD-006")], modes=("aot_eager",))
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
            return map_tensors(torch, out, lambda t: Twice.apply(t) if t.requires_grad else t)

        return call

    wrap_compiled(torch, wrap)


@mutant("compiled-ignores-no-grad", kills=["COMP-006"], modes=("aot_eager",))
def _(torch):
    """A compiled function records a graph even when it is called under torch.no_grad()."""

    def wrap(compiled, _fn):
        @functools.wraps(compiled)
        def call(*args, **kwargs):
            with torch.enable_grad():
                return compiled(*args, **kwargs)

        return call

    wrap_compiled(torch, wrap)


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


@mutant("compiled-uxx-silent-flipped", kills=["HZ-040", "HZ-041"], modes=("aot_eager",))
def _(torch):
    """Where u_xx through a compiled network is silently zero/None (torch 2.8 to 2.13): compiling runs the network
    eagerly, and u_xx is right (the hazards fixed).  Elsewhere: the error of the second autograd.grad becomes
    zeros with materialize_grads=True and None with allow_unused=True (the hazards back)."""
    if hazard_present(SILENT_UXX):
        compile_is_eager(torch)
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
    if hazard_present(ZERO_HESSIAN):
        compile_is_eager(torch)
        return

    def wrap(compiled, fn):
        @functools.wraps(compiled)
        def call(*args, **kwargs):
            try:
                return compiled(*args, **kwargs)
            except RuntimeError as exc:
                if DOUBLE_BACKWARD not in str(exc):
                    raise
                return map_tensors(torch, fn(*args, **kwargs), torch.zeros_like)

        return call

    wrap_compiled(torch, wrap)


@mutant("compiled-0dim-mutation-flipped", kills=["HZ-043"], modes=("aot_eager",))
def _(torch):
    """Where the in-place update of a 0-dim float64 input is dropped (torch 2.7 to 2.13): compiling runs the
    function eagerly (the hazard fixed).  Elsewhere: a compiled function puts back the values its 0-dim float64
    inputs had before the call (the hazard back)."""
    if hazard_present(DROPPED_MUTATION):
        compile_is_eager(torch)
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

    wrap_compiled(torch, wrap)


@mutant("compiled-input-gradient-constant-flipped", kills=["HZ-044"], modes=("aot_eager",))
def _(torch):
    """Before torch 2.8, where u_x from a compiled autograd.grad(create_graph=True) is a constant: compiling runs
    the function eagerly (the hazard fixed).  From 2.8: a compiled function's outputs come back detached, so u_x is a
    constant again (the hazard back)."""
    if hazard_present(CONSTANT_INPUT_GRADIENT):
        compile_is_eager(torch)
        return

    def wrap(compiled, _fn):
        @functools.wraps(compiled)
        def call(*args, **kwargs):
            return map_tensors(torch, compiled(*args, **kwargs), lambda t: t.detach())

        return call

    wrap_compiled(torch, wrap)
