"""Chapter 4, "Activation checkpointing": torch.utils.checkpoint, both variants (use_reentrant=True and False).

A PINN's derivatives through a checkpointed block, what the reentrant variant refuses, recomputation, RNG state,
checkpoint_sequential, the determinism check, hooks, and two places where a checkpointed model silently differs
from the model without checkpointing.
"""

import inspect
import re
import warnings

import pytest
import torch
import torch.utils.checkpoint  # noqa: F401 - torch 2.0 does not import it with torch

import spec.check
from spec import by_version, claim
from spec.suite import pinn

VARIANTS = ["reentrant", "non-reentrant"]

#: The reentrant variant's refusal of autograd.grad (and of backward(inputs=...)); reworded in torch 2.4.
REENTRANT_GRAD = by_version(
    "CKPT-002/error",
    {
        "<2.4": r"Checkpointing is not compatible with \.grad\(\) or when an `inputs` parameter is passed to \.backward\(\)",
        ">=2.4": r"When use_reentrant=True, torch\.utils\.checkpoint is incompatible with \.grad\(\) or passing an "
        r"`inputs` parameter to \.backward\(\)",
    },
    ref="https://github.com/pytorch/pytorch/pull/125155",
    note="the message was rewritten in April 2024 (first released in 2.4; 2.1-2.7 not checked here)",
)
NO_GRAD_FN = r"element 0 of tensors does not require grad and does not have a grad_fn"
NO_INPUT_REQUIRES_GRAD = r"None of the inputs have requires_grad=True\. Gradients will be None"
#: Both wordings of the "pass use_reentrant explicitly" warning (2.1-2.2, and 2.3 on).
PASS_EXPLICITLY = r"(please pass in use_reentrant=True or use_reentrant=False explicitly|the use_reentrant parameter " \
    r"should be passed explicitly)"
DEFAULT_WARNS = by_version(
    "CKPT-005/warnings when use_reentrant is not passed",
    {"<2.1": 0, ">=2.1": 1},
    ref="https://github.com/pytorch/pytorch/pull/100551",
    note="the warning arrived in 2.1 (pytorch#100551); reworded by pytorch#116710; the default stays True",
)
#: Non-reentrant checkpoint stops recomputing once every saved tensor is back: the default since 2.1.
EARLY_STOP = by_version(
    "CKPT-007/non-reentrant recomputation stops early",
    {"<2.1": False, ">=2.1": True},
    ref="https://github.com/pytorch/pytorch/pull/96866",
    note="the rewrite (pytorch#90105) and early stop by default (pytorch#96866) first released in 2.1",
)
HAS_DETERMINISM_CHECK = by_version(
    "CKPT-010/checkpoint accepts determinism_check and debug",
    {"<2.1": False, ">=2.1": True},
    ref="https://github.com/pytorch/pytorch/pull/90105",
    note="before 2.1 the non-reentrant variant passes unknown keywords on to the function",
)
METADATA = r"Recomputed values for the following tensors have different metadata than during the forward pass"
#: autograd.grad inside a non-reentrant checkpointed function: refused by the old implementation (pytorch#102223).
GRAD_INSIDE = by_version(
    "CKPT-012/autograd.grad inside a non-reentrant checkpoint",
    {"<2.1": {"outcome": "raised", "matches": r"You are calling backwards on a tensor that is never exposed"},
     ">=2.1": {"outcome": "returned"}},
    ref="https://github.com/pytorch/pytorch/pull/90105",
    note="pytorch#102223 reports the 2.0 error; the rewrite that allows grad inside the region shipped in 2.1",
)
#: RReLU under non-reentrant checkpoint: early stop leaves the saved noise unfilled (pytorch#193671).
RRELU_HAZARD = by_version(
    "CKPT-013/rrelu noise lost at recompute",
    {"<2.1": False, ">=2.1": True},
    ref="https://github.com/pytorch/pytorch/pull/96866",
    note="early stop (the default since 2.1) stops the recomputation before rrelu fills its noise",
)


def _ckpt(fn, *args, variant, **kwargs):
    return torch.utils.checkpoint.checkpoint(fn, *args, use_reentrant=variant == "reentrant", **kwargs)


def _network(device, dtype):
    ps = [p.requires_grad_() for p in pinn.params(dtype=dtype, device=device)]
    z = pinn.points(4, dtype=dtype, device=device).requires_grad_()
    return ps, z


def _derivatives(u, z, way):
    """u_x and u_xx (x is the first input) of a network output ``u`` at the points ``z``."""
    if way == "autograd.grad":
        (g,) = torch.autograd.grad(u.sum(), z, create_graph=True)
        (gg,) = torch.autograd.grad(g[:, 0].sum(), z)
        return g[:, 0], gg[:, 0]
    with spec.check.tolerating(UserWarning, "create_graph=True will create a reference cycle"):
        u.sum().backward(create_graph=True)
    u_x = z.grad[:, 0]
    z.grad = None
    u_x.sum().backward()
    return u_x, z.grad[:, 0]


@claim(
    "CKPT-001",
    "u_x and u_xx (create_graph=True) of a PINN network whose hidden layers run in a non-reentrant checkpoint equal "
    "the same derivatives without checkpointing (to the dtype's tolerance), through backward() and autograd.grad.",
    section="Activation checkpointing",
    apis=('Tensor.detach', 'torch.utils.checkpoint.checkpoint', 'torch.utils.checkpoint.checkpoint:use_reentrant'),
)
@pytest.mark.parametrize("way", ["autograd.grad", "backward"])
def test_pinn_derivatives_through_a_checkpoint(device, dtype, way, check):
    ps, z = _network(device, dtype)
    u_x, u_xx = _derivatives(pinn.u(ps, z), z, way)
    ps, z = _network(device, dtype)
    out = check.works("checkpoint(u, z)", lambda: _ckpt(lambda z: pinn.u(ps, z), z, variant="non-reentrant"))
    c_x, c_xx = check.works(f"u_x and u_xx by {way}", lambda: _derivatives(out, z, way))
    check.close("u_x through the checkpoint", c_x, u_x.detach(), dtype=dtype)
    check.close("u_xx through the checkpoint", c_xx, u_xx.detach(), dtype=dtype)


@claim(
    "CKPT-002",
    "The reentrant variant refuses torch.autograd.grad and backward(inputs=...) with a RuntimeError ('incompatible "
    "with .grad()'; 'not compatible' before 2.4), while plain backward() through it gives the eager gradient.",
    section="Activation checkpointing",
    apis=('Tensor.backward', 'Tensor.backward:inputs', 'Tensor.grad', 'Tensor.grad=None', 'torch.autograd.grad', 'torch.utils.checkpoint.checkpoint', 'torch.utils.checkpoint.checkpoint:use_reentrant'),
)
def test_reentrant_refuses_autograd_grad(device, dtype, check):
    ps, z = _network(device, dtype)
    with check.raises("autograd.grad through a reentrant checkpoint", RuntimeError, REENTRANT_GRAD):
        torch.autograd.grad(_ckpt(lambda z: pinn.u(ps, z), z, variant="reentrant").sum(), z)
    with check.raises("backward(inputs=[z]) through a reentrant checkpoint", RuntimeError, REENTRANT_GRAD):
        _ckpt(lambda z: pinn.u(ps, z), z, variant="reentrant").sum().backward(inputs=[z])
    z.grad = None
    _ckpt(lambda z: pinn.u(ps, z), z, variant="reentrant").sum().backward()
    got = z.grad
    (want,) = torch.autograd.grad(pinn.u(ps, z).sum(), z)
    check.close("z.grad by backward() through a reentrant checkpoint", got, want, dtype=dtype)


@claim(
    "CKPT-003",
    "Through a reentrant checkpoint, backward(create_graph=True) gives the right u_x but without a graph (no "
    "grad_fn), so u_xx cannot be taken: the second backward raises 'element 0 of tensors does not require grad'.",
    section="Activation checkpointing",
    apis=('Tensor.backward', 'Tensor.backward:create_graph', 'Tensor.grad', 'Tensor.grad_fn', 'torch.autograd.grad', 'torch.utils.checkpoint.checkpoint', 'torch.utils.checkpoint.checkpoint:use_reentrant'),
)
def test_reentrant_has_no_double_backward(device, dtype, check):
    ps, z = _network(device, dtype)
    (want,) = torch.autograd.grad(pinn.u(ps, z).sum(), z)
    out = _ckpt(lambda z: pinn.u(ps, z), z, variant="reentrant")
    with spec.check.tolerating(UserWarning, "create_graph=True will create a reference cycle"):
        out.sum().backward(create_graph=True)
    check.close("u_x (z.grad)", z.grad, want, dtype=dtype)
    check.none("z.grad.grad_fn", z.grad.grad_fn)
    u_x = z.grad[:, 0]
    with check.raises("u_x.sum().backward()", RuntimeError, NO_GRAD_FN):
        u_x.sum().backward()


@claim(
    "CKPT-004",
    "When no input of the checkpointed function requires grad, the reentrant variant warns 'None of the inputs have "
    "requires_grad=True', returns an output without grad, and its parameters get no gradient; the non-reentrant "
    "variant gives the parameters their eager gradients.",
    section="Activation checkpointing",
    apis=('Tensor.backward', 'Tensor.grad', 'requires_grad', 'torch.autograd.grad', 'torch.utils.checkpoint.checkpoint', 'torch.utils.checkpoint.checkpoint:use_reentrant'),
)
@pytest.mark.parametrize("variant", VARIANTS)
def test_input_without_requires_grad(device, dtype, variant, check):
    ps, z = _network(device, dtype)
    z.requires_grad_(False)
    want = torch.autograd.grad(pinn.u(ps, z).sum(), ps)
    if variant == "reentrant":
        with check.warns("reentrant checkpoint, no input requires grad", UserWarning, NO_INPUT_REQUIRES_GRAD):
            out = _ckpt(lambda z: pinn.u(ps, z), z, variant=variant)
        check.false("out.requires_grad", out.requires_grad)
        with check.raises("out.sum().backward()", RuntimeError, NO_GRAD_FN):
            out.sum().backward()
        check.equal("parameters with a .grad", [p.grad is not None for p in ps], [False] * len(ps))
        return
    with check.no_warning("non-reentrant checkpoint, no input requires grad", UserWarning, NO_INPUT_REQUIRES_GRAD):
        out = _ckpt(lambda z: pinn.u(ps, z), z, variant=variant)
    check.true("out.requires_grad", out.requires_grad)
    check.works("out.sum().backward()", lambda: out.sum().backward())
    for i, (p, w) in enumerate(zip(ps, want)):
        check.close(f"parameter {i} .grad", p.grad, w, dtype=dtype)


@claim(
    "CKPT-005",
    "checkpoint without use_reentrant runs the reentrant variant (autograd.grad through it raises) in every torch "
    "2.0-2.15; from 2.1 it also warns once that use_reentrant should be passed explicitly (2.0: no warning).",
    section="Activation checkpointing",
)
def test_use_reentrant_default(device, dtype, check):
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = torch.utils.checkpoint.checkpoint(lambda x: x.sin(), x)
    hits = [w for w in caught if issubclass(w.category, UserWarning) and re.search(PASS_EXPLICITLY, str(w.message))]
    check.equal("warnings of checkpoint(f, x) without use_reentrant", len(hits), DEFAULT_WARNS)
    with check.raises("autograd.grad through checkpoint(f, x)", RuntimeError, REENTRANT_GRAD):
        torch.autograd.grad(out.sum(), x)
    with check.no_warning("checkpoint(f, x, use_reentrant=False)", UserWarning, PASS_EXPLICITLY):
        torch.utils.checkpoint.checkpoint(lambda x: x.sin(), x, use_reentrant=False)


def _traced(calls):
    def f(x):
        calls.append("start")
        y = x.sin()  # saves x: the only tensor the backward needs
        calls.append("after sin")
        z = y * 2.0  # saves nothing
        calls.append("end")
        return z

    return f


@claim(
    "CKPT-006",
    "A checkpointed function runs twice per forward-backward: once in the forward and again in the backward, "
    "where the reentrant variant always reruns it in full; the gradient is the eager one (cos(x) * 2).",
    section="Activation checkpointing",
    apis=('Tensor.backward', 'Tensor.detach', 'Tensor.grad', 'requires_grad', 'torch.utils.checkpoint.checkpoint', 'torch.utils.checkpoint.checkpoint:use_reentrant'),
)
@pytest.mark.parametrize("variant", VARIANTS)
def test_recomputation(device, dtype, variant, check):
    calls = []
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=True)
    out = _ckpt(_traced(calls), x, variant=variant)
    check.equal("calls after the forward", calls, ["start", "after sin", "end"])
    out.sum().backward()
    check.equal("recomputation started in the backward", calls.count("start"), 2)
    if variant == "reentrant":
        check.equal("calls after the backward", calls, ["start", "after sin", "end"] * 2)
    check.close("x.grad", x.grad, torch.cos(x.detach()) * 2, dtype=dtype)


@claim(
    "CKPT-007",
    "The non-reentrant variant stops recomputing as soon as every saved tensor is back (early stop, the default "
    "since 2.1; 2.0 reruns in full), and set_checkpoint_early_stop(False) makes it rerun the whole function.",
    section="Activation checkpointing",
    apis=('Tensor.backward', 'requires_grad', 'torch.utils.checkpoint.checkpoint', 'torch.utils.checkpoint.checkpoint:use_reentrant', 'torch.utils.checkpoint.set_checkpoint_early_stop'),
)
def test_non_reentrant_early_stop(device, dtype, check):
    calls = []
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=True)
    _ckpt(_traced(calls), x, variant="non-reentrant").sum().backward()
    full = ["start", "after sin", "end"] * 2
    check.equal("recomputation stopped early", calls != full, EARLY_STOP)
    if calls != full:
        check.equal("calls", calls, ["start", "after sin", "end", "start"])
    if not hasattr(torch.utils.checkpoint, "set_checkpoint_early_stop"):
        check.absent("set_checkpoint_early_stop", lambda: torch.utils.checkpoint.set_checkpoint_early_stop(False),
                     AttributeError, "set_checkpoint_early_stop", reason="set_checkpoint_early_stop arrived in torch 2.1")
    calls.clear()
    with torch.utils.checkpoint.set_checkpoint_early_stop(False):
        _ckpt(_traced(calls), x, variant="non-reentrant").sum().backward()
    check.equal("calls with set_checkpoint_early_stop(False)", calls, full)


@claim(
    "CKPT-008",
    "Dropout inside a checkpoint gets the same mask at recomputation (the gradient is zero exactly where the output "
    "is), in both variants; with preserve_rng_state=False the recomputation draws a new mask and the gradient's "
    "zeros differ from the output's.",
    section="Activation checkpointing",
    apis=('Tensor.backward', 'Tensor.detach', 'Tensor.grad', 'requires_grad', 'torch.utils.checkpoint.checkpoint', 'torch.utils.checkpoint.checkpoint:preserve_rng_state', 'torch.utils.checkpoint.checkpoint:use_reentrant'),
)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("preserve", [True, False])
def test_rng_state(device, dtype, variant, preserve, check):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        x = torch.ones(64, device=device, dtype=dtype, requires_grad=True)
        out = _ckpt(lambda x: torch.nn.functional.dropout(x, 0.5, training=True), x, variant=variant,
                    preserve_rng_state=preserve)
        out.sum().backward()
    same = torch.equal(out.detach() != 0, x.grad != 0)
    check.equal("the gradient's mask is the forward's", same, preserve)
    if preserve:
        check.tensor("x.grad", x.grad, out.detach(), dtype=dtype)


@claim(
    "CKPT-009",
    "checkpoint_sequential(seq, 2, x) gives the same output and input gradient as seq(x), with either variant.",
    section="Activation checkpointing",
)
@pytest.mark.parametrize("variant", VARIANTS)
def test_checkpoint_sequential(device, dtype, variant, check):
    seq = torch.nn.Sequential(*[torch.nn.Tanh() for _ in range(4)])
    x = torch.tensor([0.5, 1.0, -2.0], device=device, dtype=dtype, requires_grad=True)
    want = seq(x)
    (g_want,) = torch.autograd.grad(want.sum(), x)
    out = check.works("checkpoint_sequential", lambda: torch.utils.checkpoint.checkpoint_sequential(
        seq, 2, x, use_reentrant=variant == "reentrant"))
    out.sum().backward()
    check.close("output", out, want.detach(), dtype=dtype)
    check.close("x.grad", x.grad, g_want, dtype=dtype)


@claim(
    "CKPT-010",
    "The non-reentrant variant (2.1+) checks the recomputed tensors: a recomputation with another shape raises "
    "CheckpointError 'Recomputed values ... have different metadata'; determinism_check='none' turns the check off "
    "(the mismatch surfaces as another error).",
    section="Activation checkpointing",
    apis=('Tensor.backward', 'requires_grad', 'torch.utils.checkpoint.checkpoint', 'torch.utils.checkpoint.checkpoint:determinism_check', 'torch.utils.checkpoint.checkpoint:use_reentrant'),
)
def test_determinism_check(device, dtype, check):
    check.equal("checkpoint accepts determinism_check", "determinism_check" in
                inspect.signature(torch.utils.checkpoint.checkpoint).parameters, HAS_DETERMINISM_CHECK)
    state = {"calls": 0}

    def grows(x):  # the recomputation sees a longer tensor than the forward did
        state["calls"] += 1
        return (x.repeat(state["calls"]) ** 2).sum()

    def run(**kwargs):
        state["calls"] = 0
        x = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=True)
        _ckpt(grows, x, variant="non-reentrant", **kwargs).backward()

    if not hasattr(torch.utils.checkpoint, "CheckpointError"):
        check.absent("checkpoint(..., determinism_check='none')", lambda: run(determinism_check="none"),
                     TypeError, "unexpected keyword argument 'determinism_check'",
                     reason="determinism_check and debug arrived in torch 2.1")
    error = torch.utils.checkpoint.CheckpointError
    with check.raises("a recomputation of another shape", error, METADATA):
        run()
    with check.raises("the same with determinism_check='none'", RuntimeError, r"must match the size"):
        run(determinism_check="none")


@claim(
    "CKPT-011",
    "A hook on a parameter used inside and outside a checkpoint fires twice per backward under the reentrant "
    "variant (its inner backward is separate) and once under the non-reentrant one; the .grad is the same.",
    section="Activation checkpointing",
    apis=('Tensor.backward', 'Tensor.grad', 'Tensor.register_hook', 'requires_grad', 'torch.autograd.grad', 'torch.utils.checkpoint.checkpoint', 'torch.utils.checkpoint.checkpoint:use_reentrant'),
)
@pytest.mark.parametrize("variant", VARIANTS)
def test_parameter_hook_calls(device, dtype, variant, check):
    w = torch.tensor([2.0, 3.0], device=device, dtype=dtype, requires_grad=True)
    x = torch.tensor([1.0, 1.0], device=device, dtype=dtype, requires_grad=True)
    (want,) = torch.autograd.grad(((x * w).sin() * w).sum(), w)
    fired = []
    w.register_hook(lambda g: fired.append(1))
    out = _ckpt(lambda x: (x * w).sin(), x, variant=variant)
    (out * w).sum().backward()
    check.equal("hook calls", len(fired), 2 if variant == "reentrant" else 1)
    check.close("w.grad", w.grad, want, dtype=dtype)


@claim(
    "CKPT-012",
    "A checkpointed function may itself call torch.autograd.grad(create_graph=True) (a PINN residual inside the "
    "region): d/dx of 3x^2 gives 6x through either variant, except the non-reentrant one of torch 2.0, which raises.",
    section="Activation checkpointing",
    apis=('Tensor.backward', 'Tensor.grad', 'requires_grad', 'torch.autograd.grad', 'torch.autograd.grad:create_graph', 'torch.enable_grad', 'torch.utils.checkpoint.checkpoint', 'torch.utils.checkpoint.checkpoint:use_reentrant'),
)
@pytest.mark.parametrize("variant", VARIANTS)
def test_autograd_grad_inside(device, dtype, variant, check):
    def residual(x):
        with torch.enable_grad():
            (gx,) = torch.autograd.grad((x**3).sum(), x, create_graph=True)
        return gx

    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=True)

    def run():
        gx = _ckpt(residual, x, variant=variant)
        gx.sum().backward()
        return gx

    expected = {"outcome": "returned"} if variant == "reentrant" else GRAD_INSIDE
    gx = check.call("checkpoint(residual, x) then backward()", run, expected)
    if gx is None:
        return
    check.tensor("3x^2", gx, [3.0, 12.0], dtype=dtype)
    check.tensor("x.grad (6x)", x.grad, [6.0, 12.0], dtype=dtype)


@claim(
    "CKPT-013",
    "Hazard: nn.RReLU (training) under a non-reentrant checkpoint gives a gradient that is not its forward slope "
    "(truth: x.grad equals out/x, e.g. 0.327 at x = -1; observed: unfilled memory, since early stop ends the "
    "recomputation before rrelu fills the noise it saved), in torch 2.1+; 2.0 and the reentrant variant are right.",
    section="Activation checkpointing",
    apis=('Tensor.backward', 'Tensor.detach', 'Tensor.grad', 'requires_grad', 'torch.utils.checkpoint.checkpoint', 'torch.utils.checkpoint.checkpoint:use_reentrant'),
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/193671",
)
@pytest.mark.parametrize("variant", VARIANTS)
def test_rrelu_noise_under_early_stop(device, dtype, variant, check):
    x = torch.tensor([-1.0, -2.0, -3.0, 4.0], device=device, dtype=dtype, requires_grad=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        out = _ckpt(lambda x: torch.nn.functional.rrelu(x * 1.0, training=True), x, variant=variant)
        out.sum().backward()
    slope = out.detach() / x.detach()
    right = bool(torch.equal(x.grad, slope))
    check.hazard("x.grad equals the forward slope out/x", right, wrong=False, truth=True,
                 present=RRELU_HAZARD if variant == "non-reentrant" else False)


@claim(
    "CKPT-014",
    "Hazard: a training-mode BatchNorm inside a checkpoint updates its running statistics twice per step, in both "
    "variants: for bn(2x) at x = [[1, 2], [3, 6]] with momentum 0.5, running_mean is [3, 6] and num_batches_tracked "
    "2 where the model without checkpointing has [2, 4] and 1 (gradients agree).",
    section="Activation checkpointing",
    apis=('Tensor.backward', 'Tensor.grad', 'requires_grad', 'torch.utils.checkpoint.checkpoint', 'torch.utils.checkpoint.checkpoint:use_reentrant'),
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/96136",
)
@pytest.mark.parametrize("variant", VARIANTS)
def test_batchnorm_statistics_twice(device, dtype, variant, check):
    bn = torch.nn.BatchNorm1d(2, momentum=0.5).to(device=device, dtype=dtype)
    x = torch.tensor([[1.0, 2.0], [3.0, 6.0]], device=device, dtype=dtype, requires_grad=True)
    out = _ckpt(lambda x: bn(x * 2) * 3, x, variant=variant)
    out.pow(2).sum().backward()
    check.hazard("running_mean", bn.running_mean, wrong=[3.0, 6.0], truth=[2.0, 4.0], exact=True)
    check.hazard("num_batches_tracked", int(bn.num_batches_tracked), wrong=2, truth=1)
    check.not_none("x.grad", x.grad)


@claim(
    "CKPT-015",
    "A tensor passed inside a dict is not an input to the reentrant variant (its output does not require grad and "
    "backward raises 'does not require grad'), while the non-reentrant variant differentiates through it: "
    "d/dx sum(2 sin x) = 2 cos x.",
    section="Activation checkpointing",
    apis=('Tensor.backward', 'Tensor.detach', 'Tensor.grad', 'requires_grad', 'torch.utils.checkpoint.checkpoint', 'torch.utils.checkpoint.checkpoint:use_reentrant'),
)
@pytest.mark.parametrize("variant", VARIANTS)
def test_tensor_in_a_nested_structure(device, dtype, variant, check):
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=True)
    with spec.check.tolerating(UserWarning, "None of the inputs have requires_grad=True"):
        out = _ckpt(lambda d: d["x"].sin() * 2, {"x": x}, variant=variant)
    check.equal("out.requires_grad", out.requires_grad, variant != "reentrant")
    if variant == "reentrant":
        with check.raises("out.sum().backward()", RuntimeError, NO_GRAD_FN):
            out.sum().backward()
        return
    check.works("out.sum().backward()", lambda: out.sum().backward())
    check.close("x.grad", x.grad, 2 * torch.cos(x.detach()), dtype=dtype)


@claim(
    "CKPT-016",
    "The reentrant variant makes every tensor output require grad, one computed from x.detach() included, where the "
    "non-reentrant variant keeps it a constant (requires_grad False); the gradient through the other output agrees.",
    section="Activation checkpointing",
    apis=('Tensor.backward', 'Tensor.detach', 'Tensor.grad', 'requires_grad', 'torch.utils.checkpoint.checkpoint', 'torch.utils.checkpoint.checkpoint:use_reentrant'),
)
@pytest.mark.parametrize("variant", VARIANTS)
def test_detached_output(device, dtype, variant, check):
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=True)
    a, b = _ckpt(lambda x: (x.sin(), x.detach() * 2), x, variant=variant)
    check.equal("the detached output's requires_grad", b.requires_grad, variant == "reentrant")
    check.works("(a * b).sum().backward()", lambda: (a * b).sum().backward())
    check.close("x.grad", x.grad, torch.cos(x.detach()) * x.detach() * 2, dtype=dtype)
