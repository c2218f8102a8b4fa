"""Mutants that kill the Part 2 claims (non-scalar outputs, unused inputs, slicing, element-wise and
higher-order derivatives, Hessians): each changes one behaviour a claim states."""

import inspect

from tests.meta.mutation import mutant, replace, torch_release, wrap_backward, wrap_function, wrap_grad


def _seq(x):
    return [x] if not isinstance(x, (list, tuple)) else list(x)


def _seeds(torch, outputs, given, make):
    """grad_outputs with each missing (None) seed replaced by ``make(output)``."""
    outs = _seq(outputs)
    given = [None] * len(outs) if given is None else _seq(given)
    return [make(o) if g is None else g for o, g in zip(outs, given)]


# ---------------------------------------------------------------- non-scalar outputs


@mutant("implicit-seed-for-any-output", kills=["NS-001"])
def _(torch):
    """backward()/grad() seed every output with ones when no grad_outputs is given (non-scalar and complex too)."""

    def on_grad(orig, a):
        a["grad_outputs"] = _seeds(torch, a["outputs"], a["grad_outputs"], torch.ones_like)
        return orig(**a)

    def on_backward(orig, a):
        a["grad_tensors"] = _seeds(torch, a["tensors"], a["grad_tensors"], torch.ones_like)
        return orig(**a)

    wrap_grad(torch, on_grad)
    wrap_backward(torch, on_backward)


@mutant("complex-implicit-seed-flipped", kills=["NS-003"])
def _(torch):
    """A complex scalar output without grad_outputs flips: seeded with 1 from torch 2.1 (where it raises), refused
    before 2.1 (where it was seeded, pytorch#92753)."""
    refuse = torch_release(torch) < (2, 1)

    def seeds(outputs, given):
        outs = _seq(outputs)
        given = [None] * len(outs) if given is None else _seq(given)
        if refuse and any(g is None and o.is_complex() for o, g in zip(outs, given)):
            raise RuntimeError("grad can be implicitly created only for real scalar outputs but got torch.complex64")
        return [torch.ones_like(o) if g is None and o.is_complex() else g for o, g in zip(outs, given)]

    def on_grad(orig, a):
        a["grad_outputs"] = seeds(a["outputs"], a["grad_outputs"])
        return orig(**a)

    def on_backward(orig, a):
        a["grad_tensors"] = seeds(a["tensors"], a["grad_tensors"])
        return orig(**a)

    wrap_grad(torch, on_grad)
    wrap_backward(torch, on_backward)


@mutant("one-element-outputs-need-grad-outputs", kills=["NS-002"])
def _(torch):
    """Only a 0-dim output may omit grad_outputs; shape (1,) is treated as non-scalar."""

    def refuse(outputs, given):
        given = [None] * len(_seq(outputs)) if given is None else _seq(given)
        if any(g is None and o.dim() > 0 for o, g in zip(_seq(outputs), given)):
            raise RuntimeError("grad can be implicitly created only for scalar outputs")

    def on_grad(orig, a):
        refuse(a["outputs"], a["grad_outputs"])
        return orig(**a)

    def on_backward(orig, a):
        refuse(a["tensors"], a["grad_tensors"])
        return orig(**a)

    wrap_grad(torch, on_grad)
    wrap_backward(torch, on_backward)


@mutant("grad-outputs-replaced-by-ones", kills=["NS-004", "HESS-002", "HESS-003", "LAW-004"])
def _(torch):
    """autograd.grad ignores the grad_outputs it is given and seeds with ones (the sum trick, always)."""

    def on_grad(orig, a):
        if a["grad_outputs"] is not None and not a["is_grads_batched"]:
            a["grad_outputs"] = [torch.ones_like(o) for o in _seq(a["outputs"])]
        return orig(**a)

    wrap_grad(torch, on_grad)


@mutant("ones-seed-gives-jacobian-diagonal", kills=["NS-005", "NS-006"])
def _(torch):
    """grad(y, x, grad_outputs=ones) returns dy_i/dx_i (the Jacobian's diagonal) instead of the column sums."""

    def on_grad(orig, a):
        outs, ins, seeds = _seq(a["outputs"]), _seq(a["inputs"]), a["grad_outputs"]
        if (
            seeds is not None
            and not a["is_grads_batched"]
            and len(outs) == 1
            and len(ins) == 1
            and outs[0].numel() > 1
            and outs[0].numel() == ins[0].numel()
            and torch.equal(_seq(seeds)[0], torch.ones_like(outs[0]))
        ):
            y, x = outs[0], ins[0]
            eye = torch.eye(y.numel(), dtype=y.dtype, device=y.device).reshape(y.numel(), *y.shape)
            b = dict(a, grad_outputs=[eye], is_grads_batched=True)
            (jac,) = orig(**b)
            return (torch.diagonal(jac.reshape(y.numel(), x.numel())).reshape(x.shape),)
        return orig(**a)

    wrap_grad(torch, on_grad)


@mutant("mismatched-grad-outputs-replaced-by-ones", kills=["NS-007"])
def _(torch):
    """A grad_outputs of the wrong shape is silently replaced by ones instead of raising."""

    def fix(outputs, seeds):
        if seeds is None:
            return seeds
        return [
            torch.ones_like(o) if isinstance(g, torch.Tensor) and g.shape != o.shape else g
            for o, g in zip(_seq(outputs), _seq(seeds))
        ]

    def on_grad(orig, a):
        if not a["is_grads_batched"]:
            a["grad_outputs"] = fix(a["outputs"], a["grad_outputs"])
        return orig(**a)

    def on_backward(orig, a):
        a["grad_tensors"] = fix(a["tensors"], a["grad_tensors"])
        return orig(**a)

    wrap_grad(torch, on_grad)
    wrap_backward(torch, on_backward)


@mutant("batched-grads-transposed", kills=["BATCH-001"])
def _(torch):
    """is_grads_batched=True returns the Jacobian transposed (column i = dy_i/dx)."""

    def on_grad(orig, a):
        result = orig(**a)
        if a["is_grads_batched"]:
            return tuple(r.T if r is not None and r.dim() == 2 else r for r in result)
        return result

    wrap_grad(torch, on_grad)


# ---------------------------------------------------------------- unused inputs and slicing


@mutant("unused-inputs-give-none", kills=["UNUSED-001", "SLICE-001", "HO-003"])
def _(torch):
    """autograd.grad behaves as if allow_unused=True were the default: an unused input silently gives None."""

    def on_grad(orig, a):
        if "allow_unused" not in a.given and not a.get("materialize_grads"):
            a["allow_unused"] = True  # its default is None from torch 2.1, False before
        return orig(**a)

    wrap_grad(torch, on_grad)


@mutant("allow-unused-gives-zeros", kills=["UNUSED-002"])
def _(torch):
    """allow_unused=True returns zeros for an unused input instead of None."""

    def on_grad(orig, a):
        result = orig(**a)
        if a.get("allow_unused"):
            return tuple(torch.zeros_like(i) if r is None else r for r, i in zip(result, _seq(a["inputs"])))
        return result

    wrap_grad(torch, on_grad)


def _with_materialize_grads(torch):
    """Before torch 2.1 grad() has no materialize_grads: give it one that works as in 2.1, so that the
    materialize_grads mutants below also flip its absence (which the claims record on those versions)."""
    original = torch.autograd.grad
    if "materialize_grads" in inspect.signature(original).parameters:
        return

    def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
             allow_unused=None, is_grads_batched=False, materialize_grads=False):
        if materialize_grads and allow_unused is False:
            raise ValueError(
                "Expected allow_unused to be True or not passed when materialize_grads=True, but got: allow_unused=False."
            )
        result = original(outputs, inputs, grad_outputs, retain_graph, create_graph, only_inputs,
                          bool(allow_unused) or materialize_grads, is_grads_batched)
        if materialize_grads:
            result = tuple(torch.zeros_like(i) if r is None else r for r, i in zip(result, _seq(inputs)))
        return result

    replace(torch.autograd, "grad", grad)


@mutant("materialize-grads-gives-none", kills=["UNUSED-003", "UNUSED-005"])
def _(torch):
    """materialize_grads=True acts like allow_unused=True: unused inputs still give None."""
    _with_materialize_grads(torch)

    def on_grad(orig, a):
        if a.get("materialize_grads"):
            a["materialize_grads"] = False
            a["allow_unused"] = True
        return orig(**a)

    wrap_grad(torch, on_grad)


@mutant("materialize-grads-overrides-allow-unused-false", kills=["UNUSED-004"])
def _(torch):
    """materialize_grads=True with allow_unused=False is accepted instead of raising ValueError."""
    _with_materialize_grads(torch)

    def on_grad(orig, a):
        if a.get("materialize_grads") and a.get("allow_unused") is False:
            a["allow_unused"] = None
        return orig(**a)

    wrap_grad(torch, on_grad)


@mutant("materialized-zeros-always-require-grad", kills=["UNUSED-005"])
def _(torch):
    """The zeros of materialize_grads=True require grad even without create_graph (torch 2.1 to 2.9)."""
    _with_materialize_grads(torch)

    def on_grad(orig, a):
        if not a.get("materialize_grads"):
            return orig(**a)
        a["materialize_grads"] = False
        a["allow_unused"] = True
        result = orig(**a)
        return tuple(torch.zeros_like(i, requires_grad=True) if r is None else r for r, i in zip(result, _seq(a["inputs"])))

    wrap_grad(torch, on_grad)


@mutant("cat-detaches-first-input", kills=["SLICE-002"])
def _(torch):
    """torch.cat cuts its first input out of the graph, so columns split before the forward pass are unused."""
    wrap_function(torch, "cat", lambda orig: lambda tensors, *a, **k: orig([tensors[0].detach(), *tensors[1:]], *a, **k))


# ---------------------------------------------------------------- element-wise derivatives


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


# ---------------------------------------------------------------- higher-order derivatives


@mutant("constant-derivatives-keep-graph", kills=["HO-001", "HO-002"])
def _(torch):
    """With create_graph=True a constant derivative is tied to the inputs (r + 0*x), so the next grad gives 0."""

    def on_grad(orig, a):
        result = orig(**a)
        if not a["create_graph"]:
            return result
        return tuple(
            r + 0 * i if r is not None and not r.requires_grad and r.shape == i.shape else r
            for r, i in zip(result, _seq(a["inputs"]))
        )

    wrap_grad(torch, on_grad)


@mutant("relu-is-smooth", kills=["HO-004"])
def _(torch):
    """torch.relu becomes a sharp softplus, whose second derivative is not zero."""
    replace(torch, "relu", lambda x: torch.nn.functional.softplus(x, beta=20.0))


# ---------------------------------------------------------------- Hessians


@mutant("hessian-returns-its-diagonal", kills=["HESS-001"])
def _(torch):
    """torch.func.hessian and torch.autograd.functional.hessian return only the n diagonal entries."""

    def make_func(orig):
        def hessian(func, *args, **kwargs):
            inner = orig(func, *args, **kwargs)
            return lambda *a, **k: torch.diagonal(inner(*a, **k))

        return hessian

    wrap_function(torch.func, "hessian", make_func)
    wrap_function(torch.autograd.functional, "hessian", lambda orig: lambda *a, **k: torch.diagonal(orig(*a, **k)))


@mutant("grad-outputs-pass-through-n-by-n", kills=["HESS-001"])
def _(torch):
    """autograd.grad expands each 1-D grad_outputs v to diag(v) and sums it back: same values, n^2 memory."""

    def on_grad(orig, a):
        seeds = a["grad_outputs"]
        if seeds is not None and not a["is_grads_batched"]:
            a["grad_outputs"] = [
                torch.diag(g).sum(0) if isinstance(g, torch.Tensor) and g.dim() == 1 else g for g in _seq(seeds)
            ]
        return orig(**a)

    wrap_grad(torch, on_grad)


@mutant("functional-hvp-ignores-v", kills=["HESS-002"])
def _(torch):
    """torch.autograd.functional.hvp multiplies the Hessian by ones instead of v."""

    def make(orig):
        def hvp(func, inputs, v=None, *args, **kwargs):
            return orig(func, inputs, torch.ones_like(inputs) if v is not None else v, *args, **kwargs)

        return hvp

    wrap_function(torch.autograd.functional, "hvp", make)
