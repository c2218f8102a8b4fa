"""Mutants that break ONE way of reaching a value: one API of two that compute it, one code path of an
option, one orientation, or one derivative order.

Each claim that users reach several ways checks every way (issue 9, "Every way to reach a value is
checked"); each mutant here changes only one of those ways, so a claim that checked the value one way
only would survive it.
"""

import sys

from tests.meta.mutation import mutant, patch, wrap_call, wrap_grad


def _scaled(torch, value, factor):
    """``value`` (a tensor, or a tuple/list of tensors and None) times ``factor``."""
    if isinstance(value, torch.Tensor):
        return value * factor
    if isinstance(value, (tuple, list)):
        return type(value)(_scaled(torch, v, factor) for v in value)
    return value


def _from_user_code(depth=2):
    """Whether the caller of the patched function is not torch itself (torch.func calls torch.autograd inside)."""
    name = sys._getframe(depth).f_globals.get("__name__", "")
    return not (name == "torch" or name.startswith("torch."))


def _plain(original):
    """The callable behind what :func:`tests.meta.mutation.patch` hands over (staticmethods unwrapped)."""
    return original.__func__ if isinstance(original, (staticmethod, classmethod)) else original


# ---------------------------------------------------------------- two APIs: backward() and autograd.grad


@mutant("autograd-grad-first-derivative-doubled", kills=["RET-001"])
def _(torch):
    """torch.autograd.grad without create_graph returns twice the gradient (backward() stays right)."""

    def grad(original, a):
        result = original(**a)
        return result if a["create_graph"] else _scaled(torch, result, 2)

    wrap_grad(torch, grad)


@mutant("autograd-grad-list-inputs-doubled", kills=["AG-001"])
def _(torch):
    """torch.autograd.grad doubles the gradients when inputs is given as a list (a tensor stays right)."""

    def grad(original, a):
        result = original(**a)
        return _scaled(torch, result, 2) if isinstance(a["inputs"], list) else result

    wrap_grad(torch, grad)


@mutant("autograd-grad-create-graph-does-not-retain", kills=["CG-003"])
def _(torch):
    """torch.autograd.grad(create_graph=True) frees the graph when retain_graph is not given (backward() keeps it)."""

    def grad(original, a):
        if a["retain_graph"] is None:
            a["retain_graph"] = False
        return original(**a)

    wrap_grad(torch, grad)


@mutant("autograd-grad-explicit-retain-graph-false-retains", kills=["AG-005"])
def _(torch):
    """torch.autograd.grad(retain_graph=False) keeps the graph (retain_graph not given still frees it)."""

    def grad(original, a):
        if a["retain_graph"] is False:
            a["retain_graph"] = True
        return original(**a)

    wrap_grad(torch, grad)


@mutant("backward-of-a-constant-is-silent", kills=["AG-004"])
def _(torch):
    """Tensor.backward() on a tensor without a graph returns quietly (torch.autograd.grad still raises)."""

    def make(original):
        def backward(self, *args, **kwargs):
            if not self.requires_grad and self.grad_fn is None:
                return None
            return original(self, *args, **kwargs)

        return backward

    patch(torch.Tensor, "backward", make)


@mutant("backward-gradient-replaced-by-ones", kills=["NS-004", "LAW-004"])
def _(torch):
    """Tensor.backward(v) of a non-scalar output seeds with ones instead of v (grad_outputs=v stays right)."""

    def make(original):
        def backward(self, gradient=None, *args, **kwargs):
            if isinstance(gradient, torch.Tensor) and gradient.numel() > 1:
                gradient = torch.ones_like(gradient)
            return original(self, gradient, *args, **kwargs)

        return backward

    patch(torch.Tensor, "backward", make)


@mutant("backward-ones-seed-doubled", kills=["NS-005"])
def _(torch):
    """Tensor.backward(torch.ones_like(y)) of a non-scalar output seeds with twos (y.sum().backward() stays right)."""

    def make(original):
        def backward(self, gradient=None, *args, **kwargs):
            if isinstance(gradient, torch.Tensor) and gradient.numel() > 1 and bool((gradient == 1).all()):
                gradient = gradient * 2
            return original(self, gradient, *args, **kwargs)

        return backward

    patch(torch.Tensor, "backward", make)


@mutant("backward-complex-seed-doubled", kills=["NS-003"])
def _(torch):
    """Tensor.backward(g) with a complex seed g uses 2g (autograd.grad(grad_outputs=g) stays right)."""

    def make(original):
        def backward(self, gradient=None, *args, **kwargs):
            if isinstance(gradient, torch.Tensor) and gradient.is_complex():
                gradient = gradient * 2
            return original(self, gradient, *args, **kwargs)

        return backward

    patch(torch.Tensor, "backward", make)


@mutant("backward-inputs-tensor-ignored", kills=["GRAPH-006"])
def _(torch):
    """Tensor.backward(inputs=a) with a tensor (not a list) fills every leaf, as without inputs."""

    def make(original):
        def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
            if isinstance(inputs, torch.Tensor):
                inputs = None
            return original(self, gradient, retain_graph, create_graph, inputs)

        return backward

    patch(torch.Tensor, "backward", make)


@mutant("autograd-grad-refuses-a-second-call", kills=["GRAPH-005"])
def _(torch):
    """torch.autograd.grad refuses a second call through a graph even when nothing was saved (backward() allows it)."""
    seen = []  # the outputs themselves (ids of grad_fn wrappers are reused on torch 2.0)

    def grad(original, a):
        outputs = a["outputs"] if isinstance(a["outputs"], (tuple, list)) else [a["outputs"]]
        if any(o is s for o in outputs for s in seen):
            raise RuntimeError("Trying to backward through the graph a second time (mutant)")
        if not a["retain_graph"] and not a["create_graph"]:
            seen.extend(o for o in outputs if isinstance(o, torch.Tensor) and o.grad_fn is not None)
        return original(**a)

    wrap_grad(torch, grad)


@mutant("autograd-grad-skips-the-version-check", kills=["INPLACE-003"])
def _(torch):
    """torch.autograd.grad returns zeros where a saved tensor was modified in place (backward() still raises)."""

    def grad(original, a):
        try:
            return original(**a)
        except RuntimeError as exc:
            if "modified by an inplace operation" not in str(exc):
                raise
            inputs = a["inputs"] if isinstance(a["inputs"], (tuple, list)) else [a["inputs"]]
            return tuple(torch.zeros_like(i) for i in inputs)

    wrap_grad(torch, grad)


@mutant("autograd-grad-through-a-view-is-zero", kills=["INPLACE-004"])
def _(torch):
    """torch.autograd.grad returns zeros when the graph goes through a view (backward() fills .grad right)."""

    def through_view(t):
        stack, seen = [t.grad_fn], {}  # seen keeps the wrappers alive: their ids are not reused
        while stack:
            fn = stack.pop()
            if fn is None or id(fn) in seen:
                continue
            seen[id(fn)] = fn
            if type(fn).__name__.startswith("View"):
                return True
            stack.extend(f for f, _ in fn.next_functions)
        return False

    def grad(original, a):
        result = original(**a)
        outputs = a["outputs"] if isinstance(a["outputs"], (tuple, list)) else [a["outputs"]]
        if any(isinstance(o, torch.Tensor) and through_view(o) for o in outputs):
            return _scaled(torch, result, 0)
        return result

    wrap_grad(torch, grad)


# ---------------------------------------------------------------- two code paths of one option


@mutant("allow-unused-with-create-graph-gives-zeros", kills=["UNUSED-002"])
def _(torch):
    """grad(allow_unused=True, create_graph=True) gives zeros for an unused input (without create_graph: None)."""

    def grad(original, a):
        result = original(**a)
        if a["allow_unused"] and a["create_graph"]:
            inputs = a["inputs"] if isinstance(a["inputs"], (tuple, list)) else [a["inputs"]]
            result = tuple(torch.zeros_like(i) if r is None else r for r, i in zip(result, inputs))
        return result

    wrap_grad(torch, grad)


@mutant("materialize-grads-ignored-when-allow-unused-is-given", kills=["UNUSED-003"])
def _(torch):
    """grad(allow_unused=True, materialize_grads=True) gives None for an unused input (allow_unused not given: zeros)."""

    def grad(original, a):
        if a.get("materialize_grads") and "allow_unused" in a.given:
            a["materialize_grads"] = False
            a["allow_unused"] = True
        return original(**a)

    wrap_grad(torch, grad)


@mutant("is-grads-batched-doubled", kills=["HESS-003", "BATCH-001"])
def _(torch):
    """grad(..., is_grads_batched=True) returns twice each row (a loop of grad stays right)."""

    def grad(original, a):
        result = original(**a)
        return _scaled(torch, result, 2) if a.get("is_grads_batched") else result

    wrap_grad(torch, grad)


@mutant("jacobian-vectorized-transposed", kills=["BATCH-001"])
def _(torch):
    """torch.autograd.functional.jacobian(vectorize=True) (reverse mode) returns the transpose."""

    def jacobian(original, a):
        result = original(**a)
        if a["vectorize"] and a["strategy"] == "reverse-mode" and isinstance(result, torch.Tensor) and result.dim() == 2:
            return result.T
        return result

    wrap_call(torch.autograd.functional, "jacobian", jacobian)


@mutant("jacobian-forward-mode-transposed", kills=["BATCH-001"])
def _(torch):
    """torch.autograd.functional.jacobian(strategy='forward-mode') returns the transpose."""

    def jacobian(original, a):
        result = original(**a)
        if a["strategy"] == "forward-mode" and isinstance(result, torch.Tensor) and result.dim() == 2:
            return result.T
        return result

    wrap_call(torch.autograd.functional, "jacobian", jacobian)


@mutant("hessian-vectorized-doubled", kills=["HO-005"])
def _(torch):
    """torch.autograd.functional.hessian(vectorize=True) returns 2H (vectorize=False stays right)."""

    def hessian(original, a):
        result = original(**a)
        return _scaled(torch, result, 2) if a["vectorize"] else result

    wrap_call(torch.autograd.functional, "hessian", hessian)


@mutant("no-grad-decorator-does-nothing", kills=["GRAPH-008"])
def _(torch):
    """@torch.no_grad() on a function leaves grad mode on inside it (the with-block stays right)."""
    patch(torch.no_grad, "__call__", lambda original: lambda self, fn: fn)


@mutant("set-grad-enabled-false-is-ignored", kills=["INPLACE-002"])
def _(torch):
    """torch.set_grad_enabled(False) leaves grad mode on (torch.no_grad() stays right)."""

    def make(original):
        class set_grad_enabled(original):
            def __init__(self, mode):
                super().__init__(mode or _from_user_code())  # torch.no_grad() calls it too: left as it is

        return set_grad_enabled

    patch(torch, "set_grad_enabled", make)


# ---------------------------------------------------------------- torch.autograd.functional vs hand-written


@mutant("functional-vjp-doubled", kills=["NS-004"])
def _(torch):
    """torch.autograd.functional.vjp returns twice the vector-Jacobian product."""

    def vjp(original, a):
        out, result = original(**a)
        return out, _scaled(torch, result, 2)

    wrap_call(torch.autograd.functional, "vjp", vjp)


@mutant("functional-jvp-doubled", kills=["BATCH-001"])
def _(torch):
    """torch.autograd.functional.jvp returns twice the Jacobian-vector product."""

    def jvp(original, a):
        out, result = original(**a)
        return out, _scaled(torch, result, 2)

    wrap_call(torch.autograd.functional, "jvp", jvp)


@mutant("functional-vhp-doubled", kills=["HESS-002"])
def _(torch):
    """torch.autograd.functional.vhp returns 2 v^T H (hvp stays right)."""

    def vhp(original, a):
        out, result = original(**a)
        return out, _scaled(torch, result, 2)

    wrap_call(torch.autograd.functional, "vhp", vhp)


# ---------------------------------------------------------------- torch.func vs torch.autograd, orientation


@mutant("func-grad-of-a-grad-doubled", kills=["AG-002", "HO-002", "HO-006", "LAW-002"])
def _(torch):
    """torch.func.grad called inside another torch.func.grad doubles its result: orders >= 2 by torch.func are wrong."""
    depth = [0]

    def make(original):
        def grad(func, *args, **kwargs):
            inner = original(func, *args, **kwargs)

            def call(*xs, **kws):
                nested = depth[0] > 0
                depth[0] += 1
                try:
                    result = inner(*xs, **kws)
                finally:
                    depth[0] -= 1
                return _scaled(torch, result, 2) if nested else result

            return call

        return grad

    patch(torch.func, "grad", make)


@mutant("func-jacrev-of-a-jacrev-doubled", kills=["EW-003"])
def _(torch):
    """torch.func.jacrev applied to a jacrev doubles the result (reverse over reverse; hessian is unchanged)."""

    def make(original):
        def jacrev(func, *args, **kwargs):
            inner = original(func, *args, **kwargs)
            if not getattr(func, "_spec_jacrev", False):
                inner._spec_jacrev = True
                return inner

            def doubled(*xs, **kws):
                return _scaled(torch, inner(*xs, **kws), 2)

            return doubled

        return jacrev

    patch(torch.func, "jacrev", make)


@mutant("func-jacfwd-doubled", kills=["BATCH-001", "EW-001", "HO-006"])
def _(torch):
    """torch.func.jacfwd returns twice the Jacobian (jacrev and hessian stay right)."""

    def make(original):
        def jacfwd(func, *args, **kwargs):
            inner = original(func, *args, **kwargs)
            return lambda *xs, **kws: _scaled(torch, inner(*xs, **kws), 2)

        return jacfwd

    patch(torch.func, "jacfwd", make)


@mutant("func-vjp-doubled", kills=["NS-004", "HESS-002"])
def _(torch):
    """The function torch.func.vjp returns gives twice the vector-Jacobian product."""

    def make(original):
        def vjp(func, *primals, **kwargs):
            out, fn, *rest = original(func, *primals, **kwargs)
            return (out, lambda *ct, **kws: _scaled(torch, fn(*ct, **kws), 2), *rest)

        return vjp

    patch(torch.func, "vjp", make)


@mutant("forward-ad-tangent-doubled", kills=["BATCH-001"])
def _(torch):
    """torch.autograd.forward_ad.unpack_dual, called by the user, returns twice the tangent (torch.func's own calls stay right)."""
    fwd = torch.autograd.forward_ad

    def make(original):
        fn = _plain(original)

        def unpack_dual(tensor, *, level=None):
            result = fn(tensor, level=level)
            if result.tangent is None or not _from_user_code():
                return result
            return type(result)(result.primal, result.tangent * 2)

        return unpack_dual

    patch(fwd, "unpack_dual", make)


@mutant("vmap-in-dims-1-reversed", kills=["EW-001"])
def _(torch):
    """torch.func.vmap(f, in_dims=1) maps over the batch in reverse order (in_dims=0 stays right)."""

    def make(original):
        def vmap(func, in_dims=0, *args, **kwargs):
            mapped = original(func, in_dims, *args, **kwargs)
            if in_dims != 1:
                return mapped
            return lambda x, *rest: mapped(x.flip(1), *rest)

        return vmap

    patch(torch.func, "vmap", make)


@mutant("func-hessian-shifted", kills=["HO-004"])
def _(torch):
    """torch.func.hessian adds 0.5 to every entry (the sum trick stays right)."""

    def make(original):
        def hessian(func, *args, **kwargs):
            inner = original(func, *args, **kwargs)
            return lambda *xs, **kws: inner(*xs, **kws) + 0.5

        return hessian

    patch(torch.func, "hessian", make)


# ---------------------------------------------------------------- one derivative order


def _wrong_at_order(torch, name, order, size=0.25):
    """``torch.<name>`` plus size * (x - x.detach())**order: the same value and derivatives, but the one of
    ``order`` shifted by size * order!, by every API (autograd, torch.func, forward mode)."""

    def make(original):
        def fn(x, *args, **kwargs):
            out = original(x, *args, **kwargs)
            if isinstance(x, torch.Tensor) and x.is_floating_point():
                out = out + size * (x - x.detach()) ** order
            return out

        return fn

    patch(torch, name, make)


@mutant("tanh-third-derivative-wrong", kills=["EW-002"])
def _(torch):
    """tanh keeps its value and first two derivatives, but its third derivative is off by 1.5."""
    _wrong_at_order(torch, "tanh", 3)


@mutant("sin-third-derivative-wrong", kills=["HO-006"])
def _(torch):
    """sin keeps its value and first two derivatives, but its third derivative is off by 1.5."""
    _wrong_at_order(torch, "sin", 3)


@mutant("sin-fourth-derivative-wrong", kills=["HO-006"])
def _(torch):
    """sin keeps its value and first three derivatives, but its fourth derivative is off by 6."""
    _wrong_at_order(torch, "sin", 4)
