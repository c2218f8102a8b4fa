"""Mutants that kill the claims of the section "Activation checkpointing": each changes one behaviour a claim states."""

import contextlib
import functools

from tests.meta.mutation import mutant, torch_release, wrap_function


def _wrap_checkpoint(torch, change):
    """Replace torch.utils.checkpoint.checkpoint (also what checkpoint_sequential calls) with
    ``change(original, function, args, kwargs)``."""
    import torch.utils.checkpoint  # noqa: F401 - torch 2.0 does not import it with torch

    def make(orig):
        @functools.wraps(orig)
        def checkpoint(function, *args, **kwargs):
            return change(orig, function, args, kwargs)

        return checkpoint

    wrap_function(torch.utils.checkpoint, "checkpoint", make)


def _counting(function, on_call):
    calls = [0]

    def run(*args, **kwargs):
        calls[0] += 1
        return on_call(calls[0], function, args, kwargs)

    return run


@mutant("checkpoint-recomputation-sees-perturbed-inputs", kills=["CKPT-001", "CKPT-009"])
def _(torch):
    """The recomputation in the backward runs the function on inputs scaled by 1.001, not on the saved inputs."""

    def on_call(n, function, args, kwargs):
        if n > 1:
            args = tuple(a * 1.001 if isinstance(a, torch.Tensor) else a for a in args)
        return function(*args, **kwargs)

    _wrap_checkpoint(torch, lambda orig, f, args, kw: orig(_counting(f, on_call), *args, **kw))


@mutant("checkpoint-is-always-non-reentrant",
        kills=["CKPT-002", "CKPT-003", "CKPT-004", "CKPT-005", "CKPT-011"])
def _(torch):
    """checkpoint ignores use_reentrant (and its absence) and always runs the non-reentrant variant."""

    def change(orig, function, args, kwargs):
        kwargs["use_reentrant"] = False
        return orig(function, *args, **kwargs)

    _wrap_checkpoint(torch, change)


@mutant("checkpoint-runs-the-function-three-times", kills=["CKPT-006", "CKPT-007"])
def _(torch):
    """checkpoint runs the function once more (without grad) before its forward."""

    def change(orig, function, args, kwargs):
        with torch.no_grad():
            function(*args)
        return orig(function, *args, **kwargs)

    _wrap_checkpoint(torch, change)


@mutant("checkpoint-early-stop-is-off", kills=["CKPT-007", "CKPT-013"])
def _(torch):
    """Non-reentrant checkpoint always recomputes the whole function (torch 2.1+); on 2.0, where it always did, rrelu's
    gradient gets 0.5 added instead (so the RReLU claim sees a wrong gradient where it demands the right one)."""
    if torch_release(torch) < (2, 1):

        def make(orig):
            def rrelu(x, *args, **kwargs):
                return orig(x, *args, **kwargs) + (x * 0.5 - (x * 0.5).detach())

            return rrelu

        wrap_function(torch.nn.functional, "rrelu", make)
        return

    def change(orig, function, args, kwargs):
        with torch.utils.checkpoint.set_checkpoint_early_stop(False):
            return orig(function, *args, **kwargs)

    _wrap_checkpoint(torch, change)


@mutant("checkpoint-ignores-preserve-rng-state", kills=["CKPT-008"])
def _(torch):
    """checkpoint never stashes the RNG state (preserve_rng_state=False whatever the caller says)."""

    def change(orig, function, args, kwargs):
        kwargs["preserve_rng_state"] = False
        return orig(function, *args, **kwargs)

    _wrap_checkpoint(torch, change)


@mutant("checkpoint-determinism-check-off", kills=["CKPT-010"])
def _(torch):
    """Non-reentrant checkpoint never compares the recomputed tensors' metadata (determinism_check='none')."""

    def change(orig, function, args, kwargs):
        if kwargs.get("use_reentrant") is False and torch_release(torch) >= (2, 1):
            kwargs["determinism_check"] = "none"
        return orig(function, *args, **kwargs)

    _wrap_checkpoint(torch, change)


@mutant("checkpoint-doubles-autograd-grad-inside", kills=["CKPT-012"])
def _(torch):
    """torch.autograd.grad called inside a checkpointed function returns twice the gradient."""

    def on_call(n, function, args, kwargs):
        original = torch.autograd.grad

        def grad(*a, **k):
            return tuple(None if g is None else g * 2 for g in original(*a, **k))

        torch.autograd.grad = grad
        try:
            return function(*args, **kwargs)
        finally:
            torch.autograd.grad = original

    _wrap_checkpoint(torch, lambda orig, f, args, kw: orig(_counting(f, on_call), *args, **kw))


@mutant("checkpoint-recomputation-leaves-batchnorm-statistics", kills=["CKPT-014"])
def _(torch):
    """batch_norm called during a checkpoint's recomputation does not update the running statistics."""
    state = {"recomputing": False}

    def on_call(n, function, args, kwargs):
        with contextlib.ExitStack() as stack:
            if n > 1:
                state["recomputing"] = True
                stack.callback(state.update, recomputing=False)
            return function(*args, **kwargs)

    def make(orig):
        def batch_norm(input, running_mean, running_var, *args, **kwargs):
            if state["recomputing"]:
                running_mean, running_var = running_mean.clone(), running_var.clone()
            return orig(input, running_mean, running_var, *args, **kwargs)

        return batch_norm

    wrap_function(torch.nn.functional, "batch_norm", make)
    _wrap_checkpoint(torch, lambda orig, f, args, kw: orig(_counting(f, on_call), *args, **kw))


@mutant("checkpoint-unpacks-dict-arguments", kills=["CKPT-015"])
def _(torch):
    """checkpoint passes the tensors inside a dict argument as inputs of the reentrant variant too."""

    def change(orig, function, args, kwargs):
        if args and isinstance(args[0], dict) and kwargs.get("use_reentrant"):
            keys = list(args[0])
            return orig(lambda *vals: function(dict(zip(keys, vals))), *args[0].values(), **kwargs)
        return orig(function, *args, **kwargs)

    _wrap_checkpoint(torch, change)


@mutant("checkpoint-reentrant-outputs-keep-flags", kills=["CKPT-016"])
def _(torch):
    """The reentrant variant returns its later tuple outputs as constants, as if they kept the eager flags."""

    def change(orig, function, args, kwargs):
        out = orig(function, *args, **kwargs)
        if kwargs.get("use_reentrant") and isinstance(out, tuple):
            return (out[0], *(o.detach() for o in out[1:]))
        return out

    _wrap_checkpoint(torch, change)
