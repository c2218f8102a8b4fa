"""Mutants that kill the "weird side" claims and the general laws: each changes one behaviour they state."""

import contextlib

from tests.meta.mutation import mutant, once_differentiable, replace, rewrite_backward, torch_release, wrap_function

# ------------------------------------------------------------------ in-place operations and views


@mutant("inplace-on-leaf-is-allowed", kills=["INPLACE-001"])
def _(torch):
    """An in-place add_ on a leaf that requires grad runs as if under no_grad instead of raising."""

    def make(orig):
        def add_(self, *args, **kwargs):
            if self.is_leaf and self.requires_grad:
                with torch.no_grad():
                    return orig(self, *args, **kwargs)
            return orig(self, *args, **kwargs)

        return add_

    wrap_function(torch.Tensor, "add_", make)


@mutant("inplace-on-leaf-refused-under-no-grad", kills=["INPLACE-002"])
def _(torch):
    """add_ refuses a leaf that requires grad even under torch.no_grad()."""

    def make(orig):
        def add_(self, *args, **kwargs):
            if self.is_leaf and self.requires_grad:
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
            return orig(self, *args, **kwargs)

        return add_

    wrap_function(torch.Tensor, "add_", make)


@mutant("inplace-skips-version-counter", kills=["INPLACE-003"])
def _(torch):
    """mul_ writes through .data, so autograd never learns that a saved tensor changed (a wrong gradient, silently)."""

    def make(original):
        def mul_(self, other):
            original(self.data, other)
            return self

        return mul_

    wrap_function(torch.Tensor, "mul_", make)


@mutant("view-of-leaf-is-a-leaf", kills=["INPLACE-004"])
def _(torch):
    """view() of a tensor that requires grad returns a fresh leaf cut off from the original."""
    wrap_function(torch.Tensor, "view", lambda orig: lambda self, *a: orig(self, *a).detach().requires_grad_(self.requires_grad))


@mutant("double-keeps-the-leaf", kills=["INPLACE-005"])
def _(torch):
    """double() of a leaf that requires grad returns a new leaf that requires grad (and so gets a .grad)."""

    def make(orig):
        def double(self, *args, **kwargs):
            out = orig(self, *args, **kwargs)
            if self.is_leaf and self.requires_grad and out is not self:
                return out.detach().requires_grad_()
            return out

        return double

    wrap_function(torch.Tensor, "double", make)


# ------------------------------------------------------------------ graph construction and constants


@mutant("integer-requires-grad-is-dropped", kills=["GRAPH-001"])
def _(torch):
    """Asking an integer tensor to require grad is silently ignored (torch.tensor and requires_grad_)."""

    def make_tensor(orig):
        def tensor(data, *args, requires_grad=False, **kwargs):
            out = orig(data, *args, **kwargs)
            return out.requires_grad_() if requires_grad and out.is_floating_point() else out

        return tensor

    wrap_function(torch, "tensor", make_tensor)

    def make_rg(orig):
        def requires_grad_(self, requires_grad=True):
            if not (self.is_floating_point() or self.is_complex()):
                return self
            return orig(self, requires_grad)

        return requires_grad_

    wrap_function(torch.Tensor, "requires_grad_", make_rg)


@mutant("retain-grad-on-constant-is-a-no-op", kills=["GRAPH-002"])
def _(torch):
    """retain_grad() on a tensor that does not require grad does nothing instead of raising."""
    wrap_function(torch.Tensor, "retain_grad", lambda orig: lambda self: None if not self.requires_grad else orig(self))


@mutant("requires-grad-off-on-non-leaf-is-ignored", kills=["GRAPH-003"])
def _(torch):
    """requires_grad_(False) on a non-leaf silently keeps the tensor as it is."""

    def make(orig):
        def requires_grad_(self, requires_grad=True):
            if not requires_grad and not self.is_leaf:
                return self
            return orig(self, requires_grad)

        return requires_grad_

    wrap_function(torch.Tensor, "requires_grad_", make)


@mutant("grad-wrt-constant-is-zero", kills=["GRAPH-004"])
def _(torch):
    """torch.autograd.grad answers zeros for an input that does not require grad instead of raising."""

    def make(orig):
        def grad(outputs, inputs, *args, **kwargs):
            seq = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
            live = [t for t in seq if t.requires_grad]
            got = iter(orig(outputs, live, *args, **kwargs) if live else ())
            return tuple(next(got) if t.requires_grad else torch.zeros_like(t) for t in seq)

        return grad

    wrap_function(torch.autograd, "grad", make)


@mutant("second-backward-always-refused", kills=["GRAPH-005"])
def _(torch):
    """Any second backward() from the same tensor without retain_graph raises, even when nothing was saved."""

    def make(orig):
        def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
            if getattr(self, "_spec_backwarded", False) and not (retain_graph or create_graph):
                raise RuntimeError("Trying to backward through the graph a second time")
            self._spec_backwarded = True
            return orig(self, gradient, retain_graph, create_graph, inputs)

        return backward

    wrap_function(torch.Tensor, "backward", make)


@mutant("backward-ignores-inputs", kills=["GRAPH-006"])
def _(torch):
    """backward(inputs=...) fills the .grad of every leaf, as if inputs were not given."""
    rewrite_backward(torch, lambda g, retain, create, inputs: (g, retain, create, None))


@mutant("detach-keeps-the-graph", kills=["GRAPH-007"])
def _(torch):
    """detach() returns a view that stays in the graph."""
    replace(torch.Tensor, "detach", lambda self: self.view_as(self))


@mutant("no-grad-does-nothing", kills=["GRAPH-008", "INPLACE-002"])
def _(torch):
    """torch.no_grad() is an empty context manager: operations inside it are recorded."""

    class no_grad(contextlib.ContextDecorator):
        def __enter__(self):
            return None

        def __exit__(self, *exc):
            return False

    replace(torch, "no_grad", no_grad)


# ------------------------------------------------------------------ operators without double backward


@mutant("cdist-double-backward-flipped", kills=["DBL-001"])
def _(torch):
    """torch.cdist's second derivative flips: composite (twice differentiable) before torch 2.14, where it had
    none; once differentiable from 2.14, where it has one."""
    if torch_release(torch) < (2, 14):

        def cdist(x1, x2, p=2.0, **kwargs):
            diff = (x1.unsqueeze(-2) - x2.unsqueeze(-3)).abs()
            return diff.pow(p).sum(-1).pow(1.0 / p)

        replace(torch, "cdist", cdist)
        return

    def make(original):
        apply = once_differentiable(
            torch,
            lambda x1, x2, p: original(x1, x2, p=p),
            lambda: NotImplementedError("the derivative for '_cdist_backward' is not implemented."),
        )
        return lambda x1, x2, p=2.0, **kwargs: apply(x1, x2, p)

    wrap_function(torch, "cdist", make)


@mutant("sdpa-double-backward-flipped", kills=["DBL-002"])
def _(torch):
    """scaled_dot_product_attention's second derivative on the CPU flips: softmax(q k^T / sqrt(d)) v (twice
    differentiable) from torch 2.1, where it had none; once differentiable before 2.1, where it had one."""

    def composite(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, **kwargs):
        scale = scale if scale is not None else q.size(-1) ** -0.5
        return torch.softmax(q @ k.transpose(-2, -1) * scale, dim=-1) @ v

    if torch_release(torch) >= (2, 1):
        replace(torch.nn.functional, "scaled_dot_product_attention", composite)
        return

    def make(original):
        apply = once_differentiable(
            torch,
            lambda q, k, v: original(q, k, v),
            lambda: RuntimeError("derivative for aten::_scaled_dot_product_flash_attention_backward is not implemented"),
        )
        return lambda q, k, v, *args, **kwargs: apply(q, k, v)

    wrap_function(torch.nn.functional, "scaled_dot_product_attention", make)


# ------------------------------------------------------------------ forward-mode AD


@mutant("dual-levels-nest", kills=["FWD-001"])
def _(torch):
    """An inner dual_level() inside an active one reuses the outer level instead of raising."""
    depth = [0]

    def make(original):
        class dual_level:
            def __enter__(self):
                depth[0] += 1
                if depth[0] == 1:
                    self._inner = original()
                    return self._inner.__enter__()
                return None

            def __exit__(self, *exc):
                depth[0] -= 1
                if depth[0] == 0:
                    return self._inner.__exit__(*exc)
                return False

        return dual_level

    wrap_function(torch.autograd.forward_ad, "dual_level", make)


@mutant("dual-level-leaks", kills=["FWD-001"])
def _(torch):
    """Leaving a dual_level() does not close it, so the next one is refused as nested."""

    def make(original):
        class dual_level(original):
            def __exit__(self, *exc):
                return False

        return dual_level

    wrap_function(torch.autograd.forward_ad, "dual_level", make)


# ------------------------------------------------------------------ general laws


@mutant("add-ignores-requires-grad-of-right-operand", kills=["LAW-001"])
def _(torch):
    """x + y where only y requires grad gives a result that does not require grad."""

    def make(orig):
        def add(self, other):
            out = orig(self, other)
            if isinstance(other, torch.Tensor) and other.requires_grad and not self.requires_grad:
                return out.detach()
            return out

        return add

    wrap_function(torch.Tensor, "__add__", make)


@mutant("computed-tensors-that-require-grad-are-leaves", kills=["LAW-001"])
def _(torch):
    """The result of sin() is a fresh leaf: it requires grad but has no grad_fn."""
    wrap_function(torch, "sin", lambda orig: lambda x: orig(x).detach().requires_grad_(x.requires_grad))


@mutant("higher-derivatives-lose-their-graph", kills=["LAW-002"])
def _(torch):
    """torch.autograd.grad(create_graph=True) returns gradients without a graph (first order only)."""

    def make(orig):
        def grad(*args, **kwargs):
            result = orig(*args, **kwargs)
            if kwargs.get("create_graph"):
                return tuple(None if g is None else g.detach() for g in result)
            return result

        return grad

    wrap_function(torch.autograd, "grad", make)


@mutant("pow-backward-uses-detached-input", kills=["LAW-002"])
def _(torch):
    """x**n differentiates with x detached: the first derivative is right, but has no graph."""

    def make(orig_pow):
        class Pow(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, n):
                ctx.save_for_backward(x)
                ctx.n = n
                return orig_pow(x, n)

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * ctx.n * orig_pow(x.detach(), ctx.n - 1), None

        return lambda self, n: Pow.apply(self, n)

    wrap_function(torch.Tensor, "__pow__", make)
