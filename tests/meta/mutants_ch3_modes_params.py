"""Mutants that kill the chapter 3 claims on grad modes, leaves/parameters/conversions and the .grad lifecycle."""

import threading

from tests.meta.mutation import mutant, wrap_function


def leaves_of(tensor) -> list:
    """The leaves a backward() from ``tensor`` accumulates into.

    Unlike ``mutation.leaves_of`` it keeps every visited node object alive: torch 2.0 makes a new
    Python wrapper per access, so an ``id()`` of a dropped wrapper can come back for another node.
    """
    keep, nodes, seen, leaves, stack = [], set(), set(), [], [tensor.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in nodes:
            continue
        keep.append(fn)  # alive until the walk ends, so no other node can get its id
        nodes.add(id(fn))
        var = getattr(fn, "variable", None)
        if var is not None and id(var) not in seen:
            seen.add(id(var))
            leaves.append(var)
        stack.extend(next_fn for next_fn, _ in fn.next_functions)
    return leaves

# ------------------------------------------------------------------ grad modes


@mutant("inference-mode-is-no-grad", kills=["GM-001", "GM-002"])
def _(torch):
    """torch.inference_mode() behaves like torch.no_grad(): it makes no inference tensors."""

    class inference_mode(torch.no_grad):
        def __new__(cls, mode=True):
            return object.__new__(cls)

        def __init__(self, mode=True):
            super().__init__()

    torch.inference_mode = inference_mode
    torch.autograd.inference_mode = inference_mode


@mutant("clone-keeps-inference", kills=["GM-003"])
def _(torch):
    """clone() of an inference tensor outside inference mode returns the inference tensor itself."""

    def make(orig):
        def clone(self, *args, **kwargs):
            if self.is_inference() and not torch.is_inference_mode_enabled():
                return self
            return orig(self, *args, **kwargs)

        return clone

    wrap_function(torch.Tensor, "clone", make)


@mutant("enable-grad-leaves-inference-mode", kills=["GM-004"])
def _(torch):
    """torch.enable_grad() also switches inference mode off for its block (so it records inside inference_mode)."""
    base = torch.enable_grad

    class enable_grad(base):
        def __enter__(self):
            self._leave = torch.autograd.grad_mode.inference_mode(False)
            self._leave.__enter__()
            return super().__enter__()

        def __exit__(self, *exc):
            super().__exit__(*exc)
            self._leave.__exit__(*exc)

    torch.enable_grad = enable_grad


@mutant("inference-mode-false-is-ignored", kills=["GM-005"])
def _(torch):
    """torch.inference_mode(False) keeps inference mode on."""
    cls = torch.autograd.grad_mode.inference_mode
    original = cls.__init__

    def __init__(self, mode=True):
        original(self, True)

    cls.__init__ = __init__


@mutant("no-grad-is-ignored", kills=["GM-006"])
def _(torch):
    """torch.no_grad() records anyway (its block changes nothing)."""

    class no_grad(torch.enable_grad):
        pass

    torch.no_grad = no_grad
    torch.autograd.no_grad = no_grad


@mutant("detach-returns-the-tensor-itself", kills=["GM-006"])
def _(torch):
    """detach() returns the tensor itself, still attached to its graph."""
    torch.Tensor.detach = lambda self: self


@mutant("module-requires-grad-is-a-no-op", kills=["GM-006", "PARAM-005"])
def _(torch):
    """nn.Module.requires_grad_(False) leaves the parameters as they were (the network is never frozen)."""
    torch.nn.Module.requires_grad_ = lambda self, requires_grad=True: self


@mutant("enable-grad-is-a-no-op", kills=["GM-007"])
def _(torch):
    """torch.enable_grad() (context manager and decorator) changes nothing: under no_grad it stays off."""

    class enable_grad(torch.enable_grad):
        def __enter__(self):
            return None

        def __exit__(self, *exc):
            return None

    torch.enable_grad = enable_grad


@mutant("set-grad-enabled-context-does-not-restore", kills=["GM-008"])
def _(torch):
    """The set_grad_enabled context manager leaves the mode it set in place after its block."""
    torch.set_grad_enabled.__exit__ = lambda self, *exc: None


@mutant("no-grad-drops-requires-grad-of-new-tensors", kills=["GM-009"])
def _(torch):
    """Under no_grad, factory functions and nn.Parameter ignore requires_grad=True."""

    def make(orig):
        def factory(*args, requires_grad=False, **kwargs):
            return orig(*args, requires_grad=requires_grad and torch.is_grad_enabled(), **kwargs)

        return factory

    for name in ("tensor", "rand"):
        wrap_function(torch, name, make)
    param_new = torch.nn.Parameter.__new__

    def __new__(cls, data=None, requires_grad=True):
        return param_new(cls, data, requires_grad and torch.is_grad_enabled())

    torch.nn.Parameter.__new__ = __new__


@mutant("eval-turns-grad-off", kills=["GM-010"])
def _(torch):
    """net.eval() also calls torch.set_grad_enabled(False), as if eval mode were a grad mode."""

    def make(orig):
        def eval(self):
            torch.set_grad_enabled(False)
            return orig(self)

        return eval

    wrap_function(torch.nn.Module, "eval", make)


@mutant("threads-inherit-grad-mode", kills=["GM-011"])
def _(torch):
    """A new thread starts in the grad mode of the thread that started it (as if the mode were not thread-local)."""
    start, run = threading.Thread.start, threading.Thread.run

    def patched_start(self):
        self._spec_grad_mode = torch.is_grad_enabled()
        return start(self)

    def patched_run(self):
        torch.set_grad_enabled(getattr(self, "_spec_grad_mode", True))
        return run(self)

    threading.Thread.start = patched_start
    threading.Thread.run = patched_run


# ------------------------------------------------------------------ leaves, parameters and conversions


@mutant("to-returns-a-leaf", kills=["PARAM-001"])
def _(torch):
    """Tensor.to() of a tensor that requires grad returns a new leaf cut off from the original."""

    def make(orig):
        def to(self, *args, **kwargs):
            out = orig(self, *args, **kwargs)
            if out is not self and self.requires_grad:
                return out.detach().requires_grad_()
            return out

        return to

    wrap_function(torch.Tensor, "to", make)


@mutant("requires-grad-factories-make-non-leaves", kills=["PARAM-002"])
def _(torch):
    """torch.rand(..., requires_grad=True) and requires_grad_() return a non-leaf (a recorded copy)."""

    def make_rand(orig):
        def rand(*args, requires_grad=False, **kwargs):
            out = orig(*args, **kwargs)
            return out.requires_grad_() * 1 if requires_grad else out

        return rand

    wrap_function(torch, "rand", make_rand)

    def make_rg(orig):
        def requires_grad_(self, requires_grad=True):
            out = orig(self, requires_grad)
            return out * 1 if requires_grad and out.is_leaf else out

        return requires_grad_

    wrap_function(torch.Tensor, "requires_grad_", make_rg)


@mutant("numpy-detaches-silently", kills=["PARAM-003"])
def _(torch):
    """numpy() of a tensor that requires grad detaches it instead of raising."""
    wrap_function(torch.Tensor, "numpy", lambda orig: lambda self, *, force=False: orig(self.detach(), force=force))


@mutant("numpy-always-refuses", kills=["PARAM-004"])
def _(torch):
    """numpy() refuses any tensor that requires grad, whatever force= or the grad mode says."""

    def make(orig):
        def numpy(self, *, force=False):
            if self.requires_grad:
                raise RuntimeError("Can't call numpy() on Tensor that requires grad.")
            return orig(self, force=force)

        return numpy

    wrap_function(torch.Tensor, "numpy", make)


@mutant("numpy-returns-a-copy", kills=["HZ-060"])
def _(torch):
    """numpy() returns a copy, so writing into the array cannot reach a tensor autograd saved (the hazard's fix)."""
    wrap_function(torch.Tensor, "numpy", lambda orig: lambda self, *, force=False: orig(self, force=force).copy())


# ------------------------------------------------------------------ .grad lifecycle and layouts


@mutant("zero-grad-default-zeroes", kills=["LIFE-001"])
def _(torch):
    """optimizer.zero_grad() and net.zero_grad() default to set_to_none=False (the torch 1.x default)."""
    for owner in (torch.optim.Optimizer, torch.nn.Module):
        original = owner.zero_grad

        def zero_grad(self, set_to_none: bool = False, _original=original) -> None:
            return _original(self, set_to_none)

        owner.zero_grad = zero_grad


@mutant("zero-grad-false-makes-new-zeros", kills=["LIFE-002"])
def _(torch):
    """zero_grad(set_to_none=False) gives every parameter a new zero tensor, also those whose .grad was None."""

    def clear(params):
        for p in params:
            p.grad = torch.zeros_like(p)

    for owner, params in ((torch.optim.Optimizer, lambda self: [p for g in self.param_groups for p in g["params"]]),
                          (torch.nn.Module, lambda self: list(self.parameters()))):
        original = owner.zero_grad

        def zero_grad(self, set_to_none: bool = True, _original=original, _params=params) -> None:
            if set_to_none:
                return _original(self, True)
            return clear(_params(self))

        owner.zero_grad = zero_grad


@mutant("accumulation-out-of-place", kills=["LIFE-003"])
def _(torch):
    """backward() always accumulates out of place: every existing .grad is replaced by a new tensor."""
    original = torch.Tensor.backward

    def backward(self, *args, **kwargs):
        for leaf in leaves_of(self):
            if leaf.grad is not None:
                leaf.grad = leaf.grad.clone()
        return original(self, *args, **kwargs)

    torch.Tensor.backward = backward


@mutant("grad-made-contiguous", kills=["LIFE-004", "LIFE-005"])
def _(torch):
    """After backward(), every leaf's .grad is made contiguous, whatever the parameter's or the old .grad's strides."""
    original = torch.Tensor.backward

    def backward(self, *args, **kwargs):
        leaves = leaves_of(self)
        out = original(self, *args, **kwargs)
        for leaf in leaves:
            if leaf.grad is not None and not leaf.grad.is_contiguous():
                leaf.grad = leaf.grad.contiguous()
        return out

    torch.Tensor.backward = backward
