"""Mutants that kill the claims of the section "Optimizers and gradient utilities": each changes one behaviour a
claim states."""

from tests.meta.mutation import leaves_of, mutant, wrap_call, wrap_function


def _subclass(torch, name, init):
    """Replace torch.optim.<name> by a subclass whose __init__ is ``init(super_init, self, params, kwargs)``."""
    base = getattr(torch.optim, name)

    class Mutated(base):
        def __init__(self, params, **kwargs):
            init(super().__init__, params, kwargs)

    Mutated.__name__ = name
    setattr(torch.optim, name, Mutated)


@mutant("step-fills-none-grads-with-zeros", kills=["OPTIM-001"])
def _(torch):
    """SGD and Adam treat a None .grad as zeros, so weight decay and momentum move the parameter."""

    def make(orig):
        def step(self, *args, **kwargs):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        p.grad = torch.zeros_like(p)
            return orig(self, *args, **kwargs)

        return step

    for name in ("SGD", "Adam"):
        wrap_function(getattr(torch.optim, name), "step", make)


@mutant("zero-grad-zeroes-by-default", kills=["OPTIM-002"])
def _(torch):
    """zero_grad() keeps zeroed tensors by default (set_to_none=False), as before torch 2.0."""
    for owner in (torch.optim.Optimizer, torch.nn.Module):
        wrap_function(owner, "zero_grad", lambda orig: lambda self, set_to_none=False: orig(self, set_to_none))


@mutant("clip-grad-norm-returns-the-clipped-norm", kills=["OPTIM-003"])
def _(torch):
    """clip_grad_norm_ returns the norm after clipping (at most max_norm) instead of the norm before."""
    wrap_call(torch.nn.utils, "clip_grad_norm_",
              lambda original, a: original(**a).clamp(max=a["max_norm"]))


@mutant("clip-grad-norm-ignores-error-if-nonfinite", kills=["OPTIM-004"])
def _(torch):
    """clip_grad_norm_ never raises on a non-finite norm."""
    wrap_call(torch.nn.utils, "clip_grad_norm_", lambda original, a: original(**{**a, "error_if_nonfinite": False}))


@mutant("clip-grad-value-clamps-above-only", kills=["OPTIM-005"])
def _(torch):
    """clip_grad_value_ clamps each gradient to at most clip_value, but not to at least -clip_value."""

    def transform(original, a):
        params = [a["parameters"]] if isinstance(a["parameters"], torch.Tensor) else list(a["parameters"])
        for p in params:
            if p.grad is not None:
                p.grad.clamp_(max=a["clip_value"])

    wrap_call(torch.nn.utils, "clip_grad_value_", transform)


@mutant("foreach-adam-uses-another-learning-rate", kills=["OPTIM-006"])
def _(torch):
    """Adam's foreach path steps with a learning rate 1 % larger than its for-loop path."""

    def init(super_init, params, kwargs):
        if kwargs.get("foreach"):
            kwargs = {**kwargs, "lr": kwargs.get("lr", 1e-3) * 1.01}
        super_init(params, **kwargs)

    _subclass(torch, "Adam", init)


@mutant("get-total-norm-returns-the-squared-norm", kills=["OPTIM-007"])
def _(torch):
    """torch.nn.utils.get_total_norm returns the squared norm (where it exists)."""
    if hasattr(torch.nn.utils, "get_total_norm"):
        wrap_call(torch.nn.utils, "get_total_norm", lambda original, a: original(**a) ** 2)


@mutant("differentiable-flag-ignored", kills=["OPTIM-008"])
def _(torch):
    """SGD ignores differentiable=True (and refuses non-leaf parameters)."""
    _subclass(torch, "SGD", lambda super_init, params, kwargs: super_init(
        params, **{k: v for k, v in kwargs.items() if k != "differentiable"}))


@mutant("maximize-flag-ignored", kills=["OPTIM-009"])
def _(torch):
    """SGD ignores maximize=True and descends."""
    _subclass(torch, "SGD", lambda super_init, params, kwargs: super_init(
        params, **{k: v for k, v in kwargs.items() if k != "maximize"}))


@mutant("accumulation-overwrites-grad", kills=["OPTIM-010"])
def _(torch):
    """backward() overwrites each leaf's .grad instead of accumulating into it."""

    def transform(original, a):
        leaves = leaves_of(a["self"]) if a["self"].grad_fn is not None else []
        before = {id(t): t.grad.clone() for t in leaves if t.grad is not None}
        out = original(**a)
        for t in leaves:
            if id(t) in before and t.grad is not None:
                t.grad = t.grad - before[id(t)]
        return out

    wrap_call(torch.Tensor, "backward", transform)
