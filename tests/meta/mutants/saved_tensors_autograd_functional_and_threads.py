"""Mutants that kill the claims of the section "Saved tensors, autograd.functional and threads": each changes one behaviour a claim states."""

from tests.meta.mutants.common import wrap_pack
from tests.meta.mutation import mutant, rewrite_backward, wrap_backward


@mutant("pack-hook-runs-twice", kills=["SAVED-001"])
def _(torch):
    """The pack hook of saved_tensors_hooks runs twice per saved tensor."""
    wrap_pack(torch, lambda pack: lambda t: (pack(t), pack(t))[1])


@mutant("pack-hook-gets-a-copy", kills=["SAVED-002"])
def _(torch):
    """The pack hook receives a copy of the saved tensor, so modifying it in place goes unnoticed."""
    wrap_pack(torch, lambda pack: lambda t: pack(t.detach().clone()))


@mutant("jacobian-ignores-strict", kills=["SAVED-003"])
def _(torch):
    """torch.autograd.functional.jacobian ignores strict=True."""
    functional = torch.autograd.functional
    original = functional.jacobian
    functional.jacobian = lambda func, inputs, create_graph=False, strict=False, **kw: original(
        func, inputs, create_graph=create_graph, strict=False, **kw)


@mutant("jacobian-ignores-create-graph", kills=["SAVED-004"])
def _(torch):
    """torch.autograd.functional.jacobian ignores create_graph=True."""
    functional = torch.autograd.functional
    original = functional.jacobian
    functional.jacobian = lambda func, inputs, create_graph=False, strict=False, **kw: original(
        func, inputs, create_graph=False, strict=strict, **kw)


@mutant("threads-backward-retains-graph", kills=["SAVED-005"])
def _(torch):
    """backward() always keeps the graph, so a second thread's backward on it succeeds."""
    rewrite_backward(torch, lambda gradient, retain_graph, create_graph, inputs: (gradient, True, create_graph, inputs))


@mutant("disable-saved-tensors-hooks-is-a-no-op", kills=["SAVED-006"])
def _(torch):
    """disable_saved_tensors_hooks does nothing: saved_tensors_hooks can be entered inside it."""
    import contextlib

    torch.autograd.graph.disable_saved_tensors_hooks = lambda message: contextlib.nullcontext()


@mutant("saved-tensors-hooks-are-process-wide", kills=["SAVED-007"])
def _(torch):
    """Threads started inside saved_tensors_hooks inherit the hooks (as if they were process-wide)."""
    import threading

    graph = torch.autograd.graph
    active = []
    original_enter, original_exit = graph.saved_tensors_hooks.__enter__, graph.saved_tensors_hooks.__exit__

    def enter(self):
        active.append(self)
        return original_enter(self)

    def exit_(self, *args):
        active.remove(self)
        return original_exit(self, *args)

    original_run = threading.Thread.run

    def run(self):
        if active and threading.current_thread() is not threading.main_thread():
            hooks = active[-1]
            with graph.saved_tensors_hooks(hooks.pack_hook, hooks.unpack_hook):
                return original_run(self)
        return original_run(self)

    graph.saved_tensors_hooks.__enter__ = enter
    graph.saved_tensors_hooks.__exit__ = exit_
    threading.Thread.run = run


@mutant("saved-tensor-register-hooks-skips-unpack", kills=["SAVED-008"])
def _(torch):
    """SavedTensor.register_hooks calls the pack hook but never the unpack hook (the saved tensor is read as is)."""
    x = torch.ones(1, requires_grad=True)
    saved_type = type((x * x).grad_fn._raw_saved_self)
    original = saved_type.register_hooks

    def register_hooks(self, pack_hook, unpack_hook):
        return original(self, pack_hook, lambda packed: packed)

    saved_type.register_hooks = register_hooks


@mutant("increment-version-is-a-no-op", kills=["SAVED-009"])
def _(torch):
    """torch.autograd.graph.increment_version does nothing (the saved-tensor version check never sees it)."""
    graph = torch.autograd.graph
    if hasattr(graph, "increment_version"):
        graph.increment_version = lambda tensor: None


@mutant("deterministic-mode-stops-at-backward", kills=["SAVED-010", "SAVED-011"])
def _(torch):
    """torch.autograd.backward runs with deterministic mode off, whatever the user set."""

    def transform(original, a):
        was, warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
        torch.use_deterministic_algorithms(False)
        try:
            return original(**a)
        finally:
            torch.use_deterministic_algorithms(was, warn_only=warn)

    wrap_backward(torch, transform)


@mutant("deterministic-warn-only-ignored", kills=["SAVED-011"])
def _(torch):
    """torch.use_deterministic_algorithms ignores warn_only=True: nondeterministic operations still raise."""
    original = torch.use_deterministic_algorithms
    state = {"warn_only": False}

    def use_deterministic_algorithms(mode, *, warn_only=False):
        state["warn_only"] = warn_only
        original(mode)

    torch.use_deterministic_algorithms = use_deterministic_algorithms
    torch.is_deterministic_algorithms_warn_only_enabled = lambda: state["warn_only"]
