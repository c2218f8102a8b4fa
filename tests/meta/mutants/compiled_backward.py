"""Mutants that kill the claims of the section "Compiled backward": each changes one behaviour a claim states."""

import functools

from tests.meta.mutants.common import compile_is_eager, map_tensors, when, wrap_compiled
from tests.meta.mutation import mutant, wrap_backward

DONATED_REFUSES = "CBWD-001/a later backward(retain_graph=True) through a donated-buffer backward"
DONATED_DEFAULT = "CBWD-002/torch._functorch.config.donated_buffer"
COMPILED_PINN_LOSS = "CBWD-006/compiled PINN loss (residual and boundary term) backward"
COMPILED_AUTOGRAD = "CBWD-007/torch._dynamo.config.compiled_autograd exists"


@mutant("donated-buffers-off-by-default",
        kills=[*when(DONATED_REFUSES, lambda v: v["outcome"] == "raised", "CBWD-001"),
               *when(DONATED_DEFAULT, lambda v: v is True, "CBWD-002")],
        modes=("aot_eager",))
def _(torch):
    """torch._functorch.config.donated_buffer defaults to False: a compiled backward never donates its buffers."""
    import torch._functorch.config as config

    if hasattr(config, "donated_buffer"):
        config.donated_buffer = False


@mutant("compiled-backward-runs-eagerly",
        kills=["CBWD-004", "CBWD-005", *when(DONATED_REFUSES, lambda v: v["outcome"] == "raised", "CBWD-001"),
               *when(COMPILED_PINN_LOSS, lambda v: v["outcome"] == "raised", "CBWD-006")],
        modes=("aot_eager",))
def _(torch):
    """torch.compile returns the function uncompiled: its backward is eager's (differentiable, no donated buffers)."""
    compile_is_eager(torch)


@mutant("compiled-gradients-doubled",
        kills=["CBWD-001", "CBWD-003", "CBWD-004",
               *when(DONATED_DEFAULT, lambda v: v != "absent", "CBWD-002"),
               *when(COMPILED_PINN_LOSS, lambda v: v["outcome"] == "returned", "CBWD-006")],
        modes=("aot_eager",))
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


@mutant("compiled-autograd-seeds-two", kills=[*when(COMPILED_AUTOGRAD, bool, "CBWD-007", "CBWD-008")],
        modes=("aot_eager",))
def _(torch):
    """Under torch._dynamo.config.compiled_autograd = True, backward() without a gradient seeds with 2 instead of 1."""

    def transform(original, arguments):
        config = torch._dynamo.config if hasattr(torch, "_dynamo") else None
        if config is not None and getattr(config, "compiled_autograd", False) and arguments["grad_tensors"] is None:
            tensors = arguments["tensors"]
            outs = [tensors] if isinstance(tensors, torch.Tensor) else list(tensors)
            arguments["grad_tensors"] = [2 * torch.ones_like(t) for t in outs]
        return original(**arguments)

    wrap_backward(torch, transform)
