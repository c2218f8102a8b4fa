"""Mutants that kill the claims of the section "Grad modes": each changes one behaviour a claim states."""

import threading

from tests.meta.mutation import mutant, wrap_function


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


@mutant("is-inference-mode-enabled-ignores-nesting", kills=["GM-012"])
def _(torch):
    """torch.is_inference_mode_enabled() stays True inside inference_mode(False) nested in inference_mode()."""
    depth = threading.local()
    original = torch.inference_mode

    class inference_mode(original):
        def __enter__(self):
            depth.n = getattr(depth, "n", 0) + 1
            return super().__enter__()

        def __exit__(self, *exc):
            depth.n -= 1
            return super().__exit__(*exc)

    is_enabled = torch.is_inference_mode_enabled
    torch.inference_mode = inference_mode
    torch.is_inference_mode_enabled = lambda: is_enabled() or getattr(depth, "n", 0) > 0
