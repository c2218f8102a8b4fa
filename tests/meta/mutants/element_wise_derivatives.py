"""Mutants that kill the claims of the section "Element-wise derivatives": each changes one behaviour a claim states."""

from tests.meta.mutants.common import scaled, wrong_at_order
from tests.meta.mutation import mutant, patch, wrap_function


@mutant("tensor-sum-is-mean", kills=["EW-001", "EW-002", "EW-003", "EW-004", "NS-005", "HO-006"])
def _(torch):
    """Tensor.sum() over all elements returns the mean: the sum trick's per-sample derivatives are divided by n."""

    def make(orig):
        def total(self, *args, **kwargs):
            if not args and not kwargs:
                return self.mean()
            return orig(self, *args, **kwargs)

        return total

    wrap_function(torch.Tensor, "sum", make)


@mutant("vmap-flips-the-batch", kills=["EW-001", "EW-008", "HO-005"])
def _(torch):
    """torch.func.vmap returns the per-sample results in reverse order."""

    def make(orig):
        def vmap(func, *args, **kwargs):
            inner = orig(func, *args, **kwargs)

            def run(*a, **k):
                out = inner(*a, **k)
                return out.flip(0) if isinstance(out, torch.Tensor) else out

            return run

        return vmap

    wrap_function(torch.func, "vmap", make)


@mutant("func-hessian-doubled", kills=["EW-002", "EW-003", "EW-004", "HO-005", "HO-006", "HESS-003"])
def _(torch):
    """torch.func.hessian returns twice the Hessian."""

    def make(orig):
        def hessian(func, *args, **kwargs):
            inner = orig(func, *args, **kwargs)
            return lambda *a, **k: 2 * inner(*a, **k)

        return hessian

    wrap_function(torch.func, "hessian", make)


@mutant("mean-is-detached", kills=["EW-005"])
def _(torch):
    """Tensor.mean() is treated as a constant by autograd, so mean subtraction no longer couples the samples."""
    wrap_function(torch.Tensor, "mean", lambda orig: lambda self, *a, **k: orig(self, *a, **k).detach())


@mutant("batch-norm-statistics-detached", kills=["EW-006"])
def _(torch):
    """BatchNorm in train mode normalizes with batch statistics that autograd treats as constants."""

    def make(orig):
        def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
            if not training:
                return orig(input, running_mean, running_var, weight, bias, training, momentum, eps)
            orig(input.detach(), running_mean, running_var, None, None, True, momentum, eps)  # keep the stats update
            dims = [0] + list(range(2, input.dim()))
            shape = [1, -1] + [1] * (input.dim() - 2)
            mean = input.mean(dims, keepdim=True).detach()
            var = input.var(dims, unbiased=False, keepdim=True).detach()
            out = (input - mean) / torch.sqrt(var + eps)
            if weight is not None:
                out = out * weight.view(shape)
            if bias is not None:
                out = out + bias.view(shape)
            return out

        return batch_norm

    wrap_function(torch.nn.functional, "batch_norm", make)


@mutant("vmap-accepts-batch-norm-train", kills=["EW-007"])
def _(torch):
    """BatchNorm in train mode skips updating its running statistics, so vmap has nothing to refuse."""

    def make(orig):
        def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
            if training:
                return orig(input, None, None, weight, bias, True, momentum, eps)
            return orig(input, running_mean, running_var, weight, bias, training, momentum, eps)

        return batch_norm

    wrap_function(torch.nn.functional, "batch_norm", make)


@mutant("batch-norm-eval-uses-batch-statistics", kills=["EW-008"])
def _(torch):
    """BatchNorm in eval mode still normalizes with the statistics of the batch (samples stay coupled)."""

    def make(orig):
        def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
            return orig(input, None, None, weight, bias, True, momentum, eps)

        return batch_norm

    wrap_function(torch.nn.functional, "batch_norm", make)


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
                return scaled(torch, inner(*xs, **kws), 2)

            return doubled

        return jacrev

    patch(torch.func, "jacrev", make)


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


@mutant("tanh-third-derivative-wrong", kills=["EW-002"])
def _(torch):
    """tanh keeps its value and first two derivatives, but its third derivative is off by 1.5."""
    wrong_at_order(torch, "tanh", 3)
