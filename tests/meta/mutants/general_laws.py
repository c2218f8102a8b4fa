"""Mutants that kill the claims of the section "General laws": each changes one behaviour a claim states."""

from tests.meta.mutation import mutant, wrap_function


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
