"""Mutants that kill the claims of the section "torch.func transforms": each changes one behaviour a claim states."""

import functools

from tests.meta.mutants.common import map_tensors
from tests.meta.mutation import mutant, wrap_function


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
                    return map_tensors(torch, g, lambda t: 2 * t), aux
                return map_tensors(torch, out, lambda t: 2 * t)

            return doubled

        return grad

    wrap_function(torch.func, "grad", make)


@mutant("grad-and-value-swaps-its-pair", kills=["TFUNC-010"])
def _(torch):
    """torch.func.grad_and_value returns (value, gradient) instead of (gradient, value)."""

    def make(orig):
        def grad_and_value(*args, **kwargs):
            fn = orig(*args, **kwargs)
            return lambda *a, **k: tuple(reversed(fn(*a, **k)))

        return grad_and_value

    wrap_function(torch.func, "grad_and_value", make)


@mutant("stack-module-state-keeps-the-graph", kills=["TFUNC-011"])
def _(torch):
    """stack_module_state stacks the original parameters with a recorded torch.stack (non-leaves tied to them)."""

    def stack_module_state(models):
        params = {k: torch.stack([dict(m.named_parameters())[k] for m in models]) for k, _ in models[0].named_parameters()}
        buffers = {k: torch.stack([dict(m.named_buffers())[k] for m in models]) for k, _ in models[0].named_buffers()}
        return params, buffers

    wrap_function(torch.func, "stack_module_state", lambda orig: stack_module_state)


@mutant("replace-batch-norm-does-nothing", kills=["TFUNC-012"])
def _(torch):
    """replace_all_batch_norm_modules_ leaves the running statistics in place."""
    wrap_function(torch.func, "replace_all_batch_norm_modules_", lambda orig: lambda root: root)


@mutant("vmap-is-a-python-loop", kills=["TFUNC-013", "TFUNC-014"])
def _(torch):
    """torch.func.vmap (in_dims=0) calls the function once per sample and stacks the results."""

    def vmap(func, in_dims=0, out_dims=0, **kwargs):
        def run(*args):
            return torch.stack([func(*(a[i] for a in args)) for i in range(args[0].shape[0])])

        return run

    torch.func.vmap = vmap
