"""Mutants that kill the chapter 3 claims on custom autograd.Function, hooks, saved tensors and threads,
and mutants that fix their hazards (the hazard tests then report "hazard fixed").

Every patch acts at call time (a method or module attribute looked up when the claim runs), so it
works whether the claims' modules were imported before the mutant (the forked proof) or after it
(a fresh interpreter with the generated ``sitecustomize``).
"""

import threading

from tests.meta.mutation import mutant, rewrite_backward, wrap_function, wrap_property

TWICE = "trying to differentiate twice a function that was marked with @once_differentiable"


def _once_differentiable_code(torch):
    """The code object of once_differentiable's wrapper: how a decorated backward is recognised."""
    return torch.autograd.function.once_differentiable(lambda ctx: None).__code__


def _patch_backward_call(torch, call):
    """Replace BackwardCFunction.apply (which calls a custom Function's backward) with
    ``call(original_apply, node, backward_fn, *grads)``."""
    cls = torch.autograd.function.BackwardCFunction
    original = cls.apply

    def apply(self, *args):
        return call(original, self, self._forward_cls.backward, *args)

    cls.apply = apply


def _original_apply(torch):
    """``Function.apply`` as a plain ``(cls, *args)`` callable: a Python classmethod up to torch 2.14, a C
    classmethod descriptor in 2.15."""
    descriptor = torch.autograd.Function.__dict__["apply"]
    return lambda cls, *args, **kwargs: descriptor.__get__(None, cls)(*args, **kwargs)


# ------------------------------------------------------------------ custom autograd.Function


@mutant("save-for-backward-saves-copies", kills=["FN-001"])
def _(torch):
    """ctx.save_for_backward saves detached copies, so an in-place change after forward goes unnoticed."""
    ctx_cls = torch.autograd.function.FunctionCtx
    original = ctx_cls.save_for_backward

    def save_for_backward(self, *tensors):
        return original(self, *(t.detach().clone() if isinstance(t, torch.Tensor) else t for t in tensors))

    ctx_cls.save_for_backward = save_for_backward


@mutant("mark-dirty-is-ignored", kills=["FN-002"])
def _(torch):
    """ctx.mark_dirty does nothing."""
    torch.autograd.function.FunctionCtx.mark_dirty = lambda self, *args: None


@mutant("undeclared-inplace-on-leaf-raises", kills=["FN-003"])
def _(torch):
    """A custom Function that changes a leaf that requires grad in place raises even without ctx.mark_dirty."""
    original = _original_apply(torch)

    def apply(cls, *args, **kwargs):
        before = [(a, a._version) for a in args if isinstance(a, torch.Tensor)]
        out = original(cls, *args, **kwargs)
        for a, version in before:
            if a._version != version and a.is_leaf and a.requires_grad:
                raise RuntimeError("a leaf Variable that requires grad has been used in an in-place operation.")
        return out

    torch.autograd.Function.apply = classmethod(apply)


@mutant("mark-non-differentiable-is-ignored", kills=["FN-004"])
def _(torch):
    """ctx.mark_non_differentiable does nothing (the output requires grad like the others)."""
    torch.autograd.function.FunctionCtx.mark_non_differentiable = lambda self, *args: None


@mutant("materialize-grads-always", kills=["FN-004"])
def _(torch):
    """ctx.set_materialize_grads(False) is ignored: backward always receives zeros for undefined gradients."""
    torch.autograd.function.FunctionCtx.set_materialize_grads = lambda self, value: None


@mutant("custom-backward-runs-under-no-grad", kills=["FN-005"])
def _(torch):
    """Every custom Function's backward runs under no_grad, as if it were @once_differentiable without the error."""

    def call(original, node, backward_fn, *grads):
        with torch.no_grad():
            return original(node, *grads)

    _patch_backward_call(torch, call)


@mutant("once-differentiable-backward-is-differentiable", kills=["FN-006", "HZ-030", "HZ-031"])
def _(torch):
    """A @once_differentiable backward runs as a plain (differentiable) backward: the hazards' true values come back."""
    code = _once_differentiable_code(torch)

    def call(original, node, backward_fn, *grads):
        if getattr(backward_fn, "__code__", None) is code and hasattr(backward_fn, "__wrapped__"):
            return backward_fn.__wrapped__(node, *grads)
        return original(node, *grads)

    _patch_backward_call(torch, call)


@mutant("once-differentiable-refuses-create-graph", kills=["HZ-030", "HZ-031"])
def _(torch):
    """A @once_differentiable backward raises its error as soon as it runs with create_graph=True (what the docs
    promise for double backward)."""
    code = _once_differentiable_code(torch)

    def call(original, node, backward_fn, *grads):
        if getattr(backward_fn, "__code__", None) is code and torch.is_grad_enabled():
            raise RuntimeError(TWICE)
        return original(node, *grads)

    _patch_backward_call(torch, call)


@mutant("custom-functions-differentiated-through-forward", kills=["HZ-030", "HZ-031", "HZ-032"])
def _(torch):
    """Function.apply runs the user's forward with grad enabled and lets autograd differentiate its operations
    (the user's backward is never used): every order of derivative is exact."""

    class Ctx:
        saved_tensors = ()

        def save_for_backward(self, *tensors):
            self.saved_tensors = tensors

        def mark_dirty(self, *args):
            pass

        def mark_non_differentiable(self, *args):
            pass

        def set_materialize_grads(self, value):
            pass

    original = _original_apply(torch)

    def apply(cls, *args, **kwargs):
        if "setup_context" in cls.__dict__:
            return original(cls, *args, **kwargs)
        with torch.enable_grad():
            return cls.forward(Ctx(), *args, **kwargs)

    torch.autograd.Function.apply = classmethod(apply)


@mutant("function-jvp-defaults-to-identity", kills=["FN-007"])
def _(torch):
    """A custom Function without a jvp staticmethod gets one that returns the input tangent unchanged."""
    torch.autograd.function._SingleLevelFunction.jvp = staticmethod(lambda ctx, *tangents: tangents[0])


@mutant("func-grad-is-autograd-grad", kills=["FN-008"])
def _(torch):
    """torch.func.grad is emulated with torch.autograd.grad (so it accepts any custom Function and cannot nest in vmap)."""

    def grad(fn, argnums=0, has_aux=False):
        def wrapper(*args):
            x = args[0].detach().requires_grad_()
            with torch.enable_grad():
                out = fn(x, *args[1:])
            return torch.autograd.grad(out, x)[0]

        return wrapper

    torch.func.grad = grad


# ------------------------------------------------------------------ hooks


@mutant("hook-return-value-is-ignored", kills=["HOOK-001"])
def _(torch):
    """register_hook calls the hook but ignores the gradient it returns."""

    def make(orig):
        def register_hook(self, hook):
            return orig(self, lambda g: (hook(g), None)[1])

        return register_hook

    wrap_function(torch.Tensor, "register_hook", make)


@mutant("hook-on-constant-is-accepted", kills=["HOOK-002"])
def _(torch):
    """register_hook on a tensor that does not require grad returns a handle instead of raising."""

    def make(orig):
        def register_hook(self, hook):
            if not self.requires_grad:
                return torch.utils.hooks.RemovableHandle({})
            return orig(self, hook)

        return register_hook

    wrap_function(torch.Tensor, "register_hook", make)


@mutant("tensor-hooks-skipped-by-autograd-grad", kills=["HOOK-003"])
def _(torch):
    """Tensor hooks do not fire while torch.autograd.grad runs."""
    state = threading.local()
    original_grad = torch.autograd.grad

    def grad(*args, **kwargs):
        state.inside = True
        try:
            return original_grad(*args, **kwargs)
        finally:
            state.inside = False

    def make(orig):
        def register_hook(self, hook):
            return orig(self, lambda g: None if getattr(state, "inside", False) else hook(g))

        return register_hook

    torch.autograd.grad = grad
    wrap_function(torch.Tensor, "register_hook", make)


@mutant("retain-grad-is-a-hook-in-registration-order", kills=["HOOK-004"])
def _(torch):
    """retain_grad() keeps the gradient as a tensor hook registered at that moment, so hooks registered later do
    not change the retained .grad."""
    captured = {}
    register_hook = torch.Tensor.register_hook

    def make(orig):
        def retain_grad(self):
            orig(self)
            if self.grad_fn is not None:
                key = id(self)
                register_hook(self, lambda g: captured.__setitem__(key, g.detach().clone()))

        return retain_grad

    wrap_function(torch.Tensor, "retain_grad", make)
    wrap_property(torch, "grad", lambda self, value: captured.get(id(self), value) if self.grad_fn is not None else value)


@mutant("tensor-hooks-fire-once", kills=["HOOK-005"])
def _(torch):
    """A tensor hook fires only for the first gradient computed for its tensor (not at higher orders)."""

    def make(orig):
        def register_hook(self, hook):
            fired = []

            def once(g):
                if fired:
                    return None
                fired.append(True)
                return hook(g)

            return orig(self, once)

        return register_hook

    wrap_function(torch.Tensor, "register_hook", make)


@mutant("post-accumulate-hook-under-grad-mode", kills=["HOOK-006"])
def _(torch):
    """Post-accumulate-grad hooks run with grad mode on."""
    if not hasattr(torch.Tensor, "register_post_accumulate_grad_hook"):
        return

    def make(orig):
        def register(self, hook):
            def run(p):
                with torch.enable_grad():
                    return hook(p)

            return orig(self, run)

        return register

    wrap_function(torch.Tensor, "register_post_accumulate_grad_hook", make)


@mutant("multi-grad-hook-gets-gradients-reversed", kills=["HOOK-007"])
def _(torch):
    """register_multi_grad_hook hands the hook the gradients in reverse order."""
    graph = torch.autograd.graph
    original = graph.register_multi_grad_hook

    def register_multi_grad_hook(tensors, fn, **kwargs):
        if kwargs.get("mode", "all") == "any":
            return original(tensors, fn, **kwargs)
        return original(tensors, lambda grads: fn(tuple(reversed(grads))), **kwargs)

    graph.register_multi_grad_hook = register_multi_grad_hook


# ------------------------------------------------------------------ saved tensors, functional, threads


def _wrap_pack(torch, wrap):
    graph = torch.autograd.graph
    base = graph.saved_tensors_hooks

    class saved_tensors_hooks(base):
        def __init__(self, pack_hook, unpack_hook):
            super().__init__(wrap(pack_hook), unpack_hook)

    graph.saved_tensors_hooks = saved_tensors_hooks


@mutant("pack-hook-runs-twice", kills=["SAVED-001"])
def _(torch):
    """The pack hook of saved_tensors_hooks runs twice per saved tensor."""
    _wrap_pack(torch, lambda pack: lambda t: (pack(t), pack(t))[1])


@mutant("pack-hook-gets-a-copy", kills=["SAVED-002"])
def _(torch):
    """The pack hook receives a copy of the saved tensor, so modifying it in place goes unnoticed."""
    _wrap_pack(torch, lambda pack: lambda t: pack(t.detach().clone()))


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
