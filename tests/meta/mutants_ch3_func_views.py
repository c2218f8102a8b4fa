"""Mutants for chapter 3, "torch.func with torch.autograd", "Writing into inputs and views", "Forward-mode tangents"
and "Complex autograd".

A rule claim is killed by a mutant that changes the behaviour it states.  A hazard claim (HZ-020, HZ-021) is killed
by a mutant that *fixes* it -- torch patched to give the true value -- under which the hazard test ends "fixed".
HZ-021 was fixed by torch 2.12: there its mutant brings the zeros back instead, and the test fails its check.
"""

import contextlib
import functools
import weakref

from tests.meta.mutation import (
    leaves_of,
    mutant,
    patch_getter,
    torch_release,
    wrap_backward,
    wrap_call,
    wrap_function,
    wrap_grad,
)

# ------------------------------------------------------------------ torch.func with torch.autograd

BACKWARD_INSIDE = "backward() called inside a functorch transform"
REQUIRES_GRAD_INSIDE = "You are attempting to call Tensor.requires_grad_()"


@mutant("backward-inside-transform-is-ignored", kills=["FUNC-001"])
def _(torch):
    """Tensor.backward() inside a torch.func transform silently does nothing instead of raising."""

    def make(orig):
        def backward(self, *args, **kwargs):
            try:
                return orig(self, *args, **kwargs)
            except RuntimeError as exc:
                if BACKWARD_INSIDE not in str(exc):
                    raise
                return None

        return backward

    wrap_function(torch.Tensor, "backward", make)


@mutant("requires-grad-inside-transform-is-ignored", kills=["FUNC-002"])
def _(torch):
    """Tensor.requires_grad_() inside a torch.func transform silently returns the tensor instead of raising."""

    def make(orig):
        def requires_grad_(self, *args, **kwargs):
            try:
                return orig(self, *args, **kwargs)
            except RuntimeError as exc:
                if REQUIRES_GRAD_INSIDE not in str(exc):
                    raise
                return self

        return requires_grad_

    wrap_function(torch.Tensor, "requires_grad_", make)


@mutant("vmap-randomness-defaults-to-different", kills=["FUNC-003"])
def _(torch):
    """torch.func.vmap's randomness defaults to 'different' instead of 'error'."""

    def transform(original, a):
        if "randomness" not in a.given:
            a["randomness"] = "different"
        return original(**a)

    wrap_call(torch.func, "vmap", transform)


@mutant("func-grad-obeys-an-outer-no-grad", kills=["FUNC-004"])
def _(torch):
    """torch.func.grad and torch.func.vjp called with grad mode off return zero gradients."""

    def make_grad(orig):
        def grad(func, *args, **kwargs):
            inner = orig(func, *args, **kwargs)

            def call(*xs, **kw):
                enabled = torch.is_grad_enabled()
                out = inner(*xs, **kw)
                return out if enabled else torch.zeros_like(out)

            return call

        return grad

    def make_vjp(orig):
        def vjp(func, *primals, **kwargs):
            enabled = torch.is_grad_enabled()
            out, fn = orig(func, *primals, **kwargs)
            if enabled:
                return out, fn
            return out, lambda *cts: tuple(torch.zeros_like(g) for g in fn(*cts))

        return vjp

    wrap_function(torch.func, "grad", make_grad)
    wrap_function(torch.func, "vjp", make_vjp)


@mutant("func-grad-ignores-an-inner-no-grad", kills=["FUNC-005"])
def _(torch):
    """A torch.no_grad() inside a function transformed by torch.func.grad does nothing."""

    def make(orig):
        def grad(func, *args, **kwargs):
            def without_no_grad(*xs, **kw):
                saved = torch.no_grad
                torch.no_grad = contextlib.nullcontext
                try:
                    return func(*xs, **kw)
                finally:
                    torch.no_grad = saved

            return orig(without_no_grad, *args, **kwargs)

        return grad

    wrap_function(torch.func, "grad", make)


@mutant("vmap-falls-back-to-a-loop", kills=["FUNC-006"])
def _(torch):
    """torch.func.vmap runs the function once per sample (a Python loop) where batching meets control flow."""

    def make(orig):
        def vmap(func, *args, **kwargs):
            batched = orig(func, *args, **kwargs)

            def call(x):
                try:
                    return batched(x)
                except RuntimeError as exc:
                    if "vmap: It looks like you're" not in str(exc):
                        raise
                    return torch.stack([func(row) for row in x])

            return call

        return vmap

    wrap_function(torch.func, "vmap", make)


def _wrapped(torch, tensors):
    """Whether any tensor is a torch.func wrapper (the function is being transformed)."""
    return any(isinstance(t, torch.Tensor) and torch._C._functorch.maybe_get_level(t) >= 0 for t in tensors)


@mutant("autograd-grad-inside-transform-returns-zeros", kills=["FUNC-007"])
def _(torch):
    """torch.autograd.grad inside a torch.func transform returns zeros where the output has no graph, instead of
    raising 'element 0 of tensors does not require grad'."""

    def transform(original, a):
        try:
            return original(**a)
        except RuntimeError as exc:
            inputs = a["inputs"]
            inputs = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
            if "element 0 of tensors does not require grad" not in str(exc) or not _wrapped(torch, inputs):
                raise
            return tuple(torch.zeros_like(t) for t in inputs)

    wrap_grad(torch, transform)


@mutant("autograd-grad-inside-transform-keeps-the-graph", kills=["HZ-020"])
def _(torch):
    """torch.autograd.grad called inside a torch.func transform always builds the graph (create_graph=True), so the
    transform differentiates through it: the hazard fixed."""

    def transform(original, a):
        inputs = a["inputs"]
        inputs = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
        if _wrapped(torch, inputs):
            a["create_graph"] = True
        return original(**a)

    wrap_grad(torch, transform)


@mutant("func-transforms-under-inference-mode-flipped", kills=["HZ-021"])
def _(torch):
    """Before torch 2.12: torch.func.grad/vjp/jvp/jacrev leave inference mode for the call (the hazard fixed).
    From 2.12, which fixed it: they return zeros under inference mode again (the hazard back)."""
    fixed_here = torch_release(torch) >= (2, 12)

    def outside_inference(fn):
        @functools.wraps(fn)
        def call(*a, **k):
            with torch.inference_mode(False):
                return fn(*a, **k)

        return call

    def zeros_under_inference(fn, zero):
        @functools.wraps(fn)
        def call(*a, **k):
            out = fn(*a, **k)
            return zero(out) if torch.is_inference_mode_enabled() else out

        return call

    def zeros(tree):
        if isinstance(tree, torch.Tensor):
            return torch.zeros_like(tree)
        return type(tree)(zeros(t) for t in tree)

    def make_transform(orig):  # grad, jacrev: transform(f)(x)
        def transform(func, *args, **kwargs):
            inner = orig(func, *args, **kwargs)
            return zeros_under_inference(inner, zeros) if fixed_here else outside_inference(inner)

        return transform

    def make_vjp(orig):
        def vjp(func, *primals, **kwargs):
            if fixed_here:
                out, fn = orig(func, *primals, **kwargs)
                return out, zeros_under_inference(fn, zeros)
            with torch.inference_mode(False):
                out, fn = orig(func, *primals, **kwargs)
            return out, outside_inference(fn)

        return vjp

    def make_jvp(orig):
        if fixed_here:
            return zeros_under_inference(orig, lambda pair: (pair[0], zeros(pair[1])))
        return outside_inference(orig)

    wrap_function(torch.func, "grad", make_transform)
    wrap_function(torch.func, "jacrev", make_transform)
    wrap_function(torch.func, "vjp", make_vjp)
    wrap_function(torch.func, "jvp", make_jvp)


# ------------------------------------------------------------------ writing into inputs and views


@mutant("view-of-leaf-write-is-allowed", kills=["VIEW-001"])
def _(torch):
    """Writing through a slice of a leaf that requires grad runs as if under no_grad instead of raising."""

    def leafy(t):
        return (t.is_leaf and t.requires_grad) or (t._base is not None and t._base.is_leaf and t._base.requires_grad)

    def make(orig):
        def write(self, *args, **kwargs):
            if leafy(self):
                with torch.no_grad():
                    return orig(self, *args, **kwargs)
            return orig(self, *args, **kwargs)

        return write

    for name in ("__setitem__", "zero_", "fill_"):
        wrap_function(torch.Tensor, name, make)


@mutant("slice-write-bypasses-autograd", kills=["VIEW-002"])
def _(torch):
    """Writing through a slice of a non-leaf goes through .data: no CopySlices, the old history stays."""

    def make_setitem(orig):
        def __setitem__(self, key, value):
            if self.requires_grad and not self.is_leaf:
                return orig(self.data, key, value)
            return orig(self, key, value)

        return __setitem__

    def make_zero(orig):
        def zero_(self):
            if self.requires_grad and self._base is not None and not self._base.is_leaf:
                orig(self.data)
                return self
            return orig(self)

        return zero_

    wrap_function(torch.Tensor, "__setitem__", make_setitem)
    wrap_function(torch.Tensor, "zero_", make_zero)


@mutant("detach-has-its-own-version-counter", kills=["VIEW-003"])
def _(torch):
    """detach() returns an alias with its own version counter (like .data), so in-place writes through it go unseen."""
    wrap_function(torch.Tensor, "detach", lambda orig: lambda self: self.data)


@mutant("allow-mutation-on-saved-tensors-does-nothing", kills=["VIEW-004"])
def _(torch):
    """torch.autograd.graph.allow_mutation_on_saved_tensors() is a context that does nothing."""
    wrap_function(torch.autograd.graph, "allow_mutation_on_saved_tensors", lambda orig: contextlib.nullcontext)


@mutant("no-grad-slice-write-freezes-the-leaf", kills=["VIEW-005"])
def _(torch):
    """Writing into a slice of a leaf under no_grad turns its requires_grad off."""

    def make(orig):
        def __setitem__(self, key, value):
            out = orig(self, key, value)
            if self.is_leaf and self.requires_grad and not torch.is_grad_enabled():
                self.requires_grad_(False)
            return out

        return __setitem__

    wrap_function(torch.Tensor, "__setitem__", make)


# ------------------------------------------------------------------ forward-mode tangents


@mutant("unpack-dual-negates-the-tangent", kills=["TAN-001"])
def _(torch):
    """forward_ad.unpack_dual returns minus the tangent."""
    fwad = torch.autograd.forward_ad

    def make(orig):
        def unpack_dual(tensor, *, level=None):
            primal, tangent = orig(tensor, level=level)
            return fwad.UnpackedDualTensor(primal, None if tangent is None else -tangent)

        return unpack_dual

    wrap_function(fwad, "unpack_dual", make)


@mutant("func-jvp-tangent-doubled", kills=["TAN-002", "TAN-005", "TFUNC-004"])
def _(torch):
    """torch.func.jvp returns twice the Jacobian-vector product."""

    def make(orig):
        def jvp(*args, **kwargs):
            out, tangent = orig(*args, **kwargs)[:2]
            return out, tangent * 2

        return jvp

    wrap_function(torch.func, "jvp", make)


@mutant("no-grad-drops-tangents", kills=["TAN-003"])
def _(torch):
    """torch.no_grad() and set_grad_enabled(False) also turn forward-mode AD off."""

    class NoGrad:
        def __init__(self, mode=False):
            self.mode = mode

        def __enter__(self):
            self.prev = (torch.is_grad_enabled(), torch._C._is_fwd_grad_enabled())
            torch._C._set_grad_enabled(self.mode)
            torch._C._set_fwd_grad_enabled(self.mode)

        def __exit__(self, *exc):
            torch._C._set_grad_enabled(self.prev[0])
            torch._C._set_fwd_grad_enabled(self.prev[1])

    torch.no_grad = NoGrad
    torch.set_grad_enabled = NoGrad


@mutant("tangents-outlive-their-dual-level", kills=["TAN-004"])
def _(torch):
    """unpack_dual outside any dual level still returns the tangent a tensor had inside its level."""
    fwad = torch.autograd.forward_ad
    seen = {}  # id(tensor) -> (weak reference to it, its tangent); tensors compare element-wise, so no dict of them

    def make(orig):
        def unpack_dual(tensor, *, level=None):
            primal, tangent = orig(tensor, level=level)
            if tangent is not None:
                seen[id(tensor)] = (weakref.ref(tensor), tangent)
            elif fwad._current_level < 0 and id(tensor) in seen and seen[id(tensor)][0]() is tensor:
                tangent = seen[id(tensor)][1]
            return fwad.UnpackedDualTensor(primal, tangent)

        return unpack_dual

    wrap_function(fwad, "unpack_dual", make)


@mutant("autograd-grad-drops-tangents", kills=["TAN-006"])
def _(torch):
    """torch.autograd.grad returns the primal of a dual gradient: forward-over-reverse loses its tangent."""
    fwad = torch.autograd.forward_ad

    def transform(original, a):
        out = original(**a)
        if fwad._current_level < 0:
            return out
        return tuple(None if g is None else fwad.unpack_dual(g).primal.clone() for g in out)

    wrap_grad(torch, transform)


# ------------------------------------------------------------------ complex autograd


@mutant("complex-gradients-conjugated", kills=["CPLX-001", "CPLX-003", "CPLX-004"])
def _(torch):
    """Gradients with respect to complex tensors are conjugated (the Wirtinger derivative dL/dz instead of its
    conjugate), by autograd.grad and by backward()."""

    def conj(g):
        return g.conj().resolve_conj() if g is not None and g.is_complex() else g

    def grad(original, a):
        return tuple(conj(g) for g in original(**a))

    def backward(original, a):
        out = original(**a)
        tensors = a["tensors"]
        for t in [tensors] if isinstance(tensors, torch.Tensor) else tensors:
            for leaf in leaves_of(t):
                if leaf.grad is not None and leaf.grad.is_complex():
                    leaf.grad = conj(leaf.grad)
        return out

    wrap_grad(torch, grad)
    wrap_backward(torch, backward)


@mutant("complex-real-part-doubles-the-gradient", kills=["CPLX-002"])
def _(torch):
    """Tensor.real of a complex tensor passes back twice the gradient (a factor-2 Wirtinger convention slip)."""

    def make(get):
        def real(tensor):
            value = get(tensor)
            if tensor.is_complex() and tensor.requires_grad:
                return value + (value - value.detach())
            return value

        return real

    patch_getter(torch, "real", make)
