"""Mutants that kill the claims of the section "Control flow operators": each changes one behaviour a claim states."""

import functools
import sys

from tests.meta.mutants.common import hazard_present, map_tensors, when
from tests.meta.mutation import mutant, wrap_function

COND_BACKWARD = "CFLOW-001/torch.cond backward"
SCAN_CLOSURE_WRONG = "CFLOW-005/scan's gradient to a closed-over parameter counts only the last step"
WHILE_LOOP_WRONG = "CFLOW-007/while_loop's gradient to a closed-over tensor counts only the last step"


def _differentiable(v):
    return v["outcome"] == "returned"


@mutant("cond-gradient-doubled", kills=[*when(COND_BACKWARD, _differentiable, "CFLOW-001", "CFLOW-002")])
def _(torch):
    """The gradient that flows back into torch.cond's outputs is doubled (its forward is unchanged)."""

    class Twice(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t.clone()

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    def make(original):
        @functools.wraps(original)
        def cond(*args, **kwargs):
            out = original(*args, **kwargs)
            return map_tensors(torch, out, lambda t: Twice.apply(t) if t.requires_grad else t)

        return cond

    if hasattr(torch, "cond"):
        wrap_function(torch, "cond", make)


@mutant("cond-is-a-python-if", kills=[*when(COND_BACKWARD, _differentiable, "CFLOW-003", "CFLOW-004")])
def _(torch):
    """torch.cond runs the selected branch as plain eager code: its gradient is differentiable and torch.func
    transforms go through it."""

    def cond(pred, true_fn, false_fn, operands=(), *args, **kwargs):
        return true_fn(*operands) if bool(pred) else false_fn(*operands)

    torch.cond = cond


def _last_step_only(torch, n, step, carry):
    """Run ``step(i, carry)`` for i < n with the steps before the last under no_grad: only the last step's
    contribution of a closed-over tensor survives (the hazard's wrong value)."""
    for i in range(n):
        if i < n - 1:
            with torch.no_grad():
                carry = step(i, carry)
        else:
            carry = step(i, carry)
    return carry


@mutant("scan-closure-gradient-flipped", kills=["CFLOW-005", "CFLOW-006"])
def _(torch):
    """Where scan's closed-over gradient counts only the last step: scan is a Python loop (the hazard fixed).
    Elsewhere: a Python loop whose steps before the last run under no_grad when neither init nor xs requires grad
    (the hazard back)."""
    try:
        import torch._higher_order_ops.scan  # noqa: F401
    except ImportError:
        return
    module = sys.modules["torch._higher_order_ops.scan"]
    fix = hazard_present(SCAN_CLOSURE_WRONG)

    def scan(combine_fn, init, xs, *args, **kwargs):
        needs = init.requires_grad or xs.requires_grad
        ys = [None] * xs.shape[0]

        def step(i, c):
            c, y = combine_fn(c, xs[i])
            ys[i] = y
            return c

        if fix or needs:
            carry = init
            for i in range(xs.shape[0]):
                carry = step(i, carry)
        else:
            carry = _last_step_only(torch, xs.shape[0], step, init)
        return carry, torch.stack(ys)

    module.scan = scan


@mutant("while-loop-closure-gradient-flipped", kills=["CFLOW-007"])
def _(torch):
    """Where while_loop's closed-over gradient counts only the last step: while_loop is a Python loop (the hazard
    fixed).  Elsewhere: a Python loop whose steps before the last run under no_grad (the hazard back)."""
    try:
        import torch._higher_order_ops.while_loop  # noqa: F401
    except ImportError:
        return
    module = sys.modules["torch._higher_order_ops.while_loop"]
    fix = hazard_present(WHILE_LOOP_WRONG)

    def while_loop(cond_fn, body_fn, carried, *args, **kwargs):
        carried = tuple(carried)
        steps = []
        probe = carried
        with torch.no_grad():
            while bool(cond_fn(*probe)):
                steps.append(None)
                probe = tuple(body_fn(*probe))
        if fix:
            for _ in steps:
                carried = tuple(body_fn(*carried))
            return carried
        return _last_step_only(torch, len(steps), lambda i, c: tuple(body_fn(*c)), carried)

    module.while_loop = while_loop


@mutant("jvp-tangent-off-by-a-thousandth", kills=["CFLOW-008"])
def _(torch):
    """torch.func.jvp returns tangent outputs 1.001 times the true ones."""

    def make(original):
        @functools.wraps(original)
        def jvp(*args, **kwargs):
            out = original(*args, **kwargs)
            return (out[0], map_tensors(torch, out[1], lambda t: t * 1.001), *out[2:])

        return jvp

    wrap_function(torch.func, "jvp", make)
