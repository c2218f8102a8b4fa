"""Mutants that kill the claims of the section "Custom autograd.Function": each changes one behaviour a claim states."""

from tests.meta.mutants.common import (
    TWICE,
    once_differentiable_code,
    original_apply,
    patch_backward_call,
)
from tests.meta.mutation import mutant


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
    original = original_apply(torch)

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

    patch_backward_call(torch, call)


@mutant("once-differentiable-backward-is-differentiable", kills=["FN-006", "HZ-030", "HZ-031"])
def _(torch):
    """A @once_differentiable backward runs as a plain (differentiable) backward: the hazards' true values come back."""
    code = once_differentiable_code(torch)

    def call(original, node, backward_fn, *grads):
        if getattr(backward_fn, "__code__", None) is code and hasattr(backward_fn, "__wrapped__"):
            return backward_fn.__wrapped__(node, *grads)
        return original(node, *grads)

    patch_backward_call(torch, call)


@mutant("once-differentiable-refuses-create-graph", kills=["HZ-030", "HZ-031"])
def _(torch):
    """A @once_differentiable backward raises its error as soon as it runs with create_graph=True (what the docs
    promise for double backward)."""
    code = once_differentiable_code(torch)

    def call(original, node, backward_fn, *grads):
        if getattr(backward_fn, "__code__", None) is code and torch.is_grad_enabled():
            raise RuntimeError(TWICE)
        return original(node, *grads)

    patch_backward_call(torch, call)


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

    original = original_apply(torch)

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


def _wrap_ctx_backward(torch, transform):
    """Run every custom Function's backward through ``transform(ctx, grads, original_backward)``."""
    import inspect

    Function = torch.autograd.Function
    # a classmethod in Python on some releases, a builtin classmethod of the C base on others (2.15): bind either
    original_apply = inspect.getattr_static(Function, "apply")

    def apply(cls, *args, **kwargs):
        if not getattr(cls, "_spec_wrapped", False) and "backward" in cls.__dict__:
            original = cls.__dict__["backward"].__func__
            cls.backward = staticmethod(lambda ctx, *grads: transform(ctx, grads, original))
            cls._spec_wrapped = True
        return original_apply.__get__(None, cls)(*args, **kwargs)

    Function.apply = classmethod(apply)


@mutant("needs-input-grad-all-true", kills=["FN-009"])
def _(torch):
    """ctx.needs_input_grad says True for every tensor input."""

    class Ctx:
        def __init__(self, ctx):
            self._ctx = ctx

        def __getattr__(self, name):
            if name == "needs_input_grad":
                return tuple(True for _ in self._ctx.needs_input_grad)
            return getattr(self._ctx, name)

    _wrap_ctx_backward(torch, lambda ctx, grads, original: original(Ctx(ctx), *grads))


@mutant("backward-gradient-count-padded", kills=["FN-010"])
def _(torch):
    """A backward returning too few gradients is padded with None instead of raising."""

    def transform(ctx, grads, original):
        out = original(ctx, *grads)
        out = out if isinstance(out, tuple) else (out,)
        return out + (None,) * (len(ctx.needs_input_grad) - len(out))

    _wrap_ctx_backward(torch, transform)


@mutant("backward-gradient-shape-cropped", kills=["FN-011"])
def _(torch):
    """A backward gradient with too many elements is cropped to the input's element count instead of raising."""

    def transform(ctx, grads, original):
        out = original(ctx, *grads)
        out = out if isinstance(out, tuple) else (out,)
        fixed = []
        for g, t in zip(out, ctx.saved_tensors if hasattr(ctx, "saved_tensors") else ()):
            fixed.append(g.flatten()[: t.numel()].reshape(t.shape) if torch.is_tensor(g) and g.numel() > t.numel() else g)
        return tuple(fixed) + tuple(out[len(fixed):])

    _wrap_ctx_backward(torch, transform)


@mutant("anomaly-mode-records-no-forward-trace", kills=["FN-012"])
def _(torch):
    """detect_anomaly() and set_detect_anomaly(True) do not turn anomaly mode on (no forward traceback is kept)."""
    import contextlib

    torch.autograd.detect_anomaly = lambda check_nan=True: contextlib.nullcontext()
    torch.autograd.set_detect_anomaly = lambda mode, check_nan=True: contextlib.nullcontext()


@mutant("tensors-in-containers-are-tracked", kills=["FN-013"])
def _(torch):
    """Function.apply also connects the tensors inside list and dict arguments to its output (with a zero
    gradient), so they get a .grad and make the output require grad."""
    original = original_apply(torch)

    def apply(cls, *args, **kwargs):
        out = original(cls, *args, **kwargs)
        hidden = [t for a in args if isinstance(a, (list, tuple, dict))
                  for t in (a.values() if isinstance(a, dict) else a)
                  if isinstance(t, torch.Tensor) and t.requires_grad]
        if hidden and isinstance(out, torch.Tensor) and out.is_floating_point():
            out = out + sum(0 * t.sum() for t in hidden)
        return out

    torch.autograd.Function.apply = classmethod(apply)


@mutant("integer-outputs-become-differentiable", kills=["FN-014"])
def _(torch):
    """Function.apply turns its integer and bool outputs into floating-point outputs that require grad."""
    original = original_apply(torch)

    def apply(cls, *args, **kwargs):
        out = original(cls, *args, **kwargs)
        if not isinstance(out, tuple):
            return out
        floats = [o for o in out if isinstance(o, torch.Tensor) and o.is_floating_point() and o.requires_grad]
        if not floats:
            return out
        anchor = 0 * floats[0].sum()
        return tuple(o.to(floats[0].dtype) + anchor if isinstance(o, torch.Tensor) and not o.is_floating_point()
                     else o for o in out)

    torch.autograd.Function.apply = classmethod(apply)
