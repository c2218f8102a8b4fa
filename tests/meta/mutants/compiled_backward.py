"""Mutants that kill the claims of the section "Compiled backward": each changes one behaviour a claim states."""


from tests.meta.mutants.common import when
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
