"""Chapter 4, "Optimizers and gradient utilities": what optimizer.step does with None gradients, zero_grad,
gradient clipping (clip_grad_norm_, clip_grad_value_, get_total_norm, clip_grads_with_norm_), foreach paths,
differentiable and maximize optimizers, and gradient accumulation over micro-batches."""

import pytest
import torch

from spec import by_version, claim, dtypes

NON_FINITE = r"The total norm of order 2\.0 for gradients from `parameters` is non-finite"
NON_LEAF = r"can't optimize a non-leaf Tensor"
HAS_TOTAL_NORM = by_version(
    "OPTIM-007/torch.nn.utils.get_total_norm and clip_grads_with_norm_ exist",
    {"<2.6": False, ">=2.6": True},
    ref="https://github.com/pytorch/pytorch/pull/139662",
    note="merged in November 2024, first released in 2.6 (absent in 2.0.1, present in 2.8.0; 2.1-2.7 not checked here)",
)

OPTIMIZERS = {
    "SGD": lambda ps, foreach: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1, foreach=foreach),
    "Adam": lambda ps, foreach: torch.optim.Adam(ps, lr=0.1, weight_decay=0.1, foreach=foreach),
    "AdamW": lambda ps, foreach: torch.optim.AdamW(ps, lr=0.1, foreach=foreach),
}


def _param(values, device, dtype):
    return torch.nn.Parameter(torch.tensor(values, device=device, dtype=dtype))


@claim(
    "OPTIM-001",
    "optimizer.step() skips a parameter whose .grad is None: it stays bit for bit unchanged (no weight decay, no "
    "momentum, no optimizer state), for SGD and Adam, on the foreach and the per-parameter paths.",
    section="Optimizers and gradient utilities",
    apis=("torch.optim", "torch.optim:foreach", "torch.optim:weight_decay", "torch.optim:momentum", "Tensor.backward",
          "Tensor.grad"),
)
@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("name", ["SGD", "Adam"])
@dtypes("float64")
def test_step_skips_none_grads(device, dtype, name, foreach, check):
    a = _param([1.0, 2.0], device, dtype)
    b = _param([3.0], device, dtype)
    opt = OPTIMIZERS[name]([a, b], foreach)
    (a * a).sum().backward()
    opt.step()
    opt.step()
    check.none("b.grad", b.grad)
    check.tensor("b after two steps", b, [3.0], dtype=dtype, device=device)
    check.false("b has optimizer state", b in opt.state and len(opt.state[b]) > 0)
    check.true("a moved", bool((a.detach() != torch.tensor([1.0, 2.0], device=device, dtype=dtype)).all()))


@claim(
    "OPTIM-002",
    "zero_grad() sets every .grad to None by default (set_to_none=True, the default since torch 2.0), on an optimizer "
    "and on a module; zero_grad(set_to_none=False) zeroes the existing .grad in place (same tensor, all zeros).",
    section="Optimizers and gradient utilities",
)
@pytest.mark.parametrize("owner", ["optimizer", "module"])
def test_zero_grad(device, dtype, owner, check):
    lin = torch.nn.Linear(2, 1).to(device, dtype)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    target = opt if owner == "optimizer" else lin
    lin(torch.ones(1, 2, device=device, dtype=dtype)).sum().backward()
    weight_grad = lin.weight.grad
    target.zero_grad(set_to_none=False)
    check.true("weight.grad is the same tensor after set_to_none=False", lin.weight.grad is weight_grad)
    check.tensor("weight.grad after zero_grad(set_to_none=False)", lin.weight.grad, [[0.0, 0.0]], dtype=dtype,
                 device=device)
    target.zero_grad()
    check.none("weight.grad after zero_grad()", lin.weight.grad)
    check.none("bias.grad after zero_grad()", lin.bias.grad)


@claim(
    "OPTIM-003",
    "clip_grad_norm_ returns the total norm before clipping (5 for gradients [3, 0] and [4]) and multiplies every "
    "gradient by max_norm / (norm + 1e-6) when that is below 1 (giving [0.6, 0] and [0.8] for max_norm=1), and "
    "leaves them unchanged for max_norm=10, with foreach on or off.",
    section="Optimizers and gradient utilities",
)
@pytest.mark.parametrize("foreach", [False, True])
@dtypes("float64")
def test_clip_grad_norm(device, dtype, foreach, check):
    p, q = _param([0.0, 0.0], device, dtype), _param([0.0], device, dtype)
    p.grad = torch.tensor([3.0, 0.0], device=device, dtype=dtype)
    q.grad = torch.tensor([4.0], device=device, dtype=dtype)
    norm = torch.nn.utils.clip_grad_norm_([p, q], 10.0, foreach=foreach)
    check.tensor("returned norm, max_norm=10", norm, 5.0, dtype=dtype, device=device)
    check.tensor("p.grad, max_norm=10", p.grad, [3.0, 0.0], dtype=dtype, device=device)
    norm = torch.nn.utils.clip_grad_norm_([p, q], 1.0, foreach=foreach)
    check.tensor("returned norm, max_norm=1 (before clipping)", norm, 5.0, dtype=dtype, device=device)
    scale = 1.0 / (5.0 + 1e-6)
    check.close("p.grad, max_norm=1", p.grad, [3.0 * scale, 0.0], dtype=dtype, device=device)
    check.close("q.grad, max_norm=1", q.grad, [4.0 * scale], dtype=dtype, device=device)


@claim(
    "OPTIM-004",
    "clip_grad_norm_ with a non-finite total norm raises 'The total norm of order 2.0 for gradients from "
    "`parameters` is non-finite' under error_if_nonfinite=True; by default it returns inf and scales the gradients "
    "by it ([inf, 1] becomes [nan, 0]).",
    section="Optimizers and gradient utilities",
)
@dtypes("float64")
def test_clip_grad_norm_nonfinite(device, dtype, check):
    p = _param([0.0, 0.0], device, dtype)
    p.grad = torch.tensor([float("inf"), 1.0], device=device, dtype=dtype)
    with check.raises("clip_grad_norm_(error_if_nonfinite=True)", RuntimeError, NON_FINITE):
        torch.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    check.tensor("p.grad after the error (untouched)", p.grad, [float("inf"), 1.0], dtype=dtype, device=device)
    norm = torch.nn.utils.clip_grad_norm_([p], 1.0)
    check.tensor("returned norm (default)", norm, float("inf"), dtype=dtype, device=device)
    check.true("p.grad[0] is nan", bool(torch.isnan(p.grad[0])))
    check.tensor("p.grad[1]", p.grad[1], 0.0, dtype=dtype, device=device)


@claim(
    "OPTIM-005",
    "clip_grad_value_ clamps every gradient element into [-clip_value, clip_value] in place ([3, -5, 0.5] becomes "
    "[1, -1, 0.5] for 1.0) and returns None, with foreach on or off.",
    section="Optimizers and gradient utilities",
)
@pytest.mark.parametrize("foreach", [False, True])
def test_clip_grad_value(device, dtype, foreach, check):
    p = _param([0.0, 0.0, 0.0], device, dtype)
    p.grad = torch.tensor([3.0, -5.0, 0.5], device=device, dtype=dtype)
    grad = p.grad
    check.none("clip_grad_value_ returns", torch.nn.utils.clip_grad_value_([p], 1.0, foreach=foreach))
    check.true("same .grad tensor", p.grad is grad)
    check.tensor("p.grad", p.grad, [1.0, -1.0, 0.5], dtype=dtype, device=device)


@claim(
    "OPTIM-006",
    "The foreach and the per-parameter (for-loop) implementations of SGD with momentum and weight decay, Adam with "
    "weight decay and AdamW give the same parameters after three steps.",
    section="Optimizers and gradient utilities",
    apis=("torch.optim", "torch.optim:foreach", "torch.optim:weight_decay", "torch.optim:momentum", "zero_grad",
          "Tensor.backward"),
)
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
@dtypes("float64")
def test_foreach_matches_for_loop(device, dtype, name, check):
    def run(foreach):
        a, b = _param([1.0, -2.0], device, dtype), _param([[0.5], [3.0]], device, dtype)
        opt = OPTIMIZERS[name]([a, b], foreach)
        for _ in range(3):
            opt.zero_grad()
            ((a * a).sum() + (b**3).sum()).backward()
            opt.step()
        return a.detach(), b.detach()

    loop, fused = run(False), run(True)
    check.close("a, foreach=True against foreach=False", fused[0], loop[0], dtype=dtype, device=device)
    check.close("b, foreach=True against foreach=False", fused[1], loop[1], dtype=dtype, device=device)


@claim(
    "OPTIM-007",
    "torch.nn.utils.get_total_norm (torch 2.6+) returns the norm of the gradients [3, 0] and [4] (5), and "
    "clip_grads_with_norm_ scales them by max_norm / (total_norm + 1e-6) as clip_grad_norm_ does.",
    section="Optimizers and gradient utilities",
)
@dtypes("float64")
def test_get_total_norm_and_clip_grads_with_norm(device, dtype, check):
    utils = torch.nn.utils
    check.equal("torch.nn.utils has get_total_norm", hasattr(utils, "get_total_norm"), HAS_TOTAL_NORM)
    check.equal("torch.nn.utils has clip_grads_with_norm_", hasattr(utils, "clip_grads_with_norm_"), HAS_TOTAL_NORM)
    p, q = _param([0.0, 0.0], device, dtype), _param([0.0], device, dtype)
    p.grad = torch.tensor([3.0, 0.0], device=device, dtype=dtype)
    q.grad = torch.tensor([4.0], device=device, dtype=dtype)
    if not hasattr(utils, "get_total_norm"):
        check.absent("torch.nn.utils.get_total_norm", lambda: utils.get_total_norm([p.grad, q.grad]), AttributeError,
                     "get_total_norm", reason="get_total_norm and clip_grads_with_norm_ arrived in torch 2.6")
    norm = utils.get_total_norm([p.grad, q.grad])
    check.tensor("get_total_norm", norm, 5.0, dtype=dtype, device=device)
    check.tensor("gradients untouched by get_total_norm", p.grad, [3.0, 0.0], dtype=dtype, device=device)
    utils.clip_grads_with_norm_([p, q], 1.0, norm)
    scale = 1.0 / (5.0 + 1e-6)
    check.close("p.grad after clip_grads_with_norm_", p.grad, [3.0 * scale, 0.0], dtype=dtype, device=device)
    check.close("q.grad after clip_grads_with_norm_", q.grad, [4.0 * scale], dtype=dtype, device=device)


@claim(
    "OPTIM-008",
    "With differentiable=True an optimizer accepts a non-leaf parameter and its step is recorded by autograd: for "
    "p = w.clone() with p.grad = g, SGD(lr=0.1) gives p = w - 0.1 g with d(sum p)/dw = 1 and d(sum p)/dg = -0.1; "
    "without it the optimizer refuses the non-leaf ('can't optimize a non-leaf Tensor').",
    section="Optimizers and gradient utilities",
)
@dtypes("float64")
def test_differentiable_step(device, dtype, check):
    w = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    g = torch.tensor([0.5, -1.0], requires_grad=True, device=device, dtype=dtype)
    with check.raises("SGD([w.clone()]) without differentiable", ValueError, NON_LEAF):
        torch.optim.SGD([w.clone()], lr=0.1)
    p = w.clone()
    p.grad = g
    opt = check.works("SGD([p], differentiable=True)", lambda: torch.optim.SGD([p], lr=0.1, differentiable=True))
    check.works("step()", opt.step)
    check.tensor("p after the step", p, [0.95, 2.1], exact=False, dtype=dtype, device=device)
    dw, dg = torch.autograd.grad(p.sum(), (w, g))
    check.tensor("d(sum p)/dw", dw, [1.0, 1.0], dtype=dtype, device=device)
    check.close("d(sum p)/dg", dg, [-0.1, -0.1], dtype=dtype, device=device)


@claim(
    "OPTIM-009",
    "maximize=True makes the step ascend: SGD(lr=0.1, maximize=True) takes p = 1 with gradient 2 to 1.2 (and "
    "maximize=False to 0.8), on the foreach and the per-parameter paths.",
    section="Optimizers and gradient utilities",
)
@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("maximize", [False, True])
@dtypes("float64")
def test_maximize(device, dtype, maximize, foreach, check):
    p = _param([1.0], device, dtype)
    p.grad = torch.tensor([2.0], device=device, dtype=dtype)
    torch.optim.SGD([p], lr=0.1, maximize=maximize, foreach=foreach).step()
    check.close("p after one step", p, [1.2 if maximize else 0.8], dtype=dtype, device=device)


@claim(
    "OPTIM-010",
    "Gradient accumulation over 4 micro-batches equals the big batch's gradient of a mean loss only when each "
    "micro-batch loss is divided by 4; unscaled, .grad is 4 times the big-batch gradient.",
    section="Optimizers and gradient utilities",
)
@pytest.mark.parametrize("scaled", [True, False])
@dtypes("float64")
def test_gradient_accumulation(device, dtype, scaled, check):
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 1).to(device, dtype)
    x = torch.randn(8, 3, device=device, dtype=dtype)
    y = torch.randn(8, 1, device=device, dtype=dtype)
    torch.nn.functional.mse_loss(lin(x), y).backward()
    big = lin.weight.grad.clone()
    lin.zero_grad()
    for xs, ys in zip(x.chunk(4), y.chunk(4)):
        loss = torch.nn.functional.mse_loss(lin(xs), ys)
        (loss / 4 if scaled else loss).backward()
    check.close("accumulated weight.grad", lin.weight.grad, big if scaled else big * 4, dtype=dtype, device=device)
