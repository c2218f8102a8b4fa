"""Chapter 3, "Grad modes": no_grad, enable_grad, set_grad_enabled and inference_mode around input derivatives.

A PINN needs autograd for its *residual* (u_x, u_xx), so validating it under a grad mode that
turns autograd off (Lightning runs validation under ``torch.inference_mode()``) fails or needs a
way back in.  Source: docs/source/notes/autograd.rst, "Locally disabling gradient computation".
"""

import threading

import pytest
import torch

from spec import by_version, claim
from spec.suite import pinn
from spec.suite.support import NO_GRAD_FN

INFERENCE_REQUIRES_GRAD = r"Setting requires_grad=True on inference tensor outside InferenceMode is not allowed\."
INFERENCE_SAVED = r"Inference tensors cannot be saved for backward\."

#: The hint after the first sentence was rewritten (and a no_grad alternative added) in torch 2.9.
INFERENCE_SAVED_HINT = by_version(
    "GM-002/message hint",
    {
        "<2.9": r"cannot be saved for backward\. To work around you can make a clone to get a normal tensor "
        r"and use it in autograd\.$",
        ">=2.9": r"cannot be saved for backward\. Please do not use Tensors created in inference mode in "
        r"computation tracked by autograd\. To work around this, you can make a clone to get a normal tensor "
        r"and use it in autograd, or use `torch\.no_grad\(\)` instead of `torch\.inference_mode\(\)`\.$",
    },
    ref="https://github.com/pytorch/pytorch/pull/161164",
    note="observed old on 2.0.1/2.4.1/2.8.0, new on 2.13.0/2.15.0; the PR (2025-08) predates the 2.9 branch cut "
    "and users report the new text on 2.9.1; 2.9 not run here",
)

APIS = ["autograd.grad", "backward"]


def input_derivative(u, x, api):
    """du/dx summed over the batch, the way a residual needs it: by autograd.grad or by backward into x.grad."""
    if api == "autograd.grad":
        return torch.autograd.grad(u.sum(), x)[0]
    u.sum().backward()
    return x.grad


def setup(device, dtype):
    net = pinn.MLP(dtype=dtype, device=device)
    x = pinn.points(6, 1, dtype=dtype, device=device)
    return net, x, pinn.du_dx(list(net.ps), x)


@claim(
    "GM-001",
    "A tensor created under torch.inference_mode() is an inference tensor (is_inference() True, requires_grad "
    "False), and outside inference mode requires_grad_() on it raises RuntimeError 'Setting requires_grad=True on "
    "inference tensor outside InferenceMode is not allowed.', so collocation points made in a validation loop cannot "
    "become the input of a residual.",
    section="Grad modes",
)
def test_inference_tensor_refuses_requires_grad(device, dtype, check):
    with torch.inference_mode():
        check.true("is_inference_mode_enabled() inside", torch.is_inference_mode_enabled())
        x = pinn.points(6, 1, dtype=dtype, device=device)
    check.false("is_inference_mode_enabled() after", torch.is_inference_mode_enabled())
    check.true("x.is_inference()", x.is_inference())
    check.false("x.requires_grad", x.requires_grad)
    with check.raises("x.requires_grad_() outside inference mode", RuntimeError, INFERENCE_REQUIRES_GRAD):
        x.requires_grad_()


@claim(
    "GM-002",
    "Using an inference tensor in a computation autograd records raises RuntimeError 'Inference tensors cannot be "
    "saved for backward.' as soon as an operation saves it: net(X) with X made under inference_mode and parameters "
    "that require grad; since torch 2.9 the message also says not to use such tensors and suggests torch.no_grad().",
    section="Grad modes",
)
def test_inference_tensor_cannot_be_saved(device, dtype, check):
    net = pinn.MLP(dtype=dtype, device=device)
    with torch.inference_mode():
        X = pinn.points(6, 1, dtype=dtype, device=device)
    with check.raises("net(X).sum().backward() with X an inference tensor", RuntimeError, INFERENCE_SAVED) as box:
        net(X).sum().backward()
    check.matches("the message's hint", str(box["exception"]), INFERENCE_SAVED_HINT)
    check.true("no parameter got a .grad", all(p.grad is None for p in net.parameters()))


@claim(
    "GM-003",
    "X.clone() of an inference tensor, outside inference mode, is a normal tensor (is_inference() False) that can "
    "require grad: u_x of the tanh MLP at the cloned points equals the closed-form derivative, by autograd.grad and "
    "by backward.",
    section="Grad modes",
)
@pytest.mark.parametrize("api", APIS)
def test_clone_escapes_inference(api, device, dtype, check):
    net, points, truth = setup(device, dtype)
    with torch.inference_mode():
        X = points * 1
    check.true("X.is_inference()", X.is_inference())
    x = X.clone()
    check.false("X.clone().is_inference()", x.is_inference())
    x = check.works("X.clone().requires_grad_()", lambda: x.requires_grad_())
    u_x = check.works(f"u_x by {api}", lambda: input_derivative(net(x), x, api))
    check.close(f"u_x by {api}", u_x, truth, dtype=dtype, device=device, shape=(6, 1))


@claim(
    "GM-004",
    "Inside torch.inference_mode(), torch.enable_grad() makes is_grad_enabled() True but autograd still records "
    "nothing: u = net(x) for a normal x that requires grad does not require grad, and autograd.grad or backward of "
    "it raises RuntimeError 'element 0 of tensors does not require grad and does not have a grad_fn'.",
    section="Grad modes",
)
@pytest.mark.parametrize("api", APIS)
def test_enable_grad_inside_inference_mode_records_nothing(api, device, dtype, check):
    net, points, _ = setup(device, dtype)
    x = points.clone().requires_grad_()
    with torch.inference_mode():
        with torch.enable_grad():
            check.true("is_grad_enabled()", torch.is_grad_enabled())
            check.true("is_inference_mode_enabled()", torch.is_inference_mode_enabled())
            u = net(x)
            check.flags("u", u, requires_grad=False, grad_fn=None)
            with check.raises(f"u_x by {api}", RuntimeError, NO_GRAD_FN):
                input_derivative(u, x, api)


@claim(
    "GM-005",
    "torch.inference_mode(False) inside torch.inference_mode() turns inference mode off for its block: u_x of the "
    "tanh MLP at normal points equals the closed-form derivative, by autograd.grad and by backward (the way to "
    "validate a PINN residual under a validation loop's inference_mode); a tensor created in the outer block is "
    "still an inference tensor there and refuses requires_grad_().",
    section="Grad modes",
)
@pytest.mark.parametrize("api", APIS)
def test_inference_mode_false_inside_works(api, device, dtype, check):
    net, points, truth = setup(device, dtype)
    with torch.inference_mode():
        inner = points * 1
        with torch.inference_mode(False):
            check.false("is_inference_mode_enabled() in inference_mode(False)", torch.is_inference_mode_enabled())
            check.true("is_grad_enabled() in inference_mode(False)", torch.is_grad_enabled())
            x = points.clone().requires_grad_()
            u_x = check.works(f"u_x by {api}", lambda: input_derivative(net(x), x, api))
            with check.raises("requires_grad_() of an outer inference tensor", RuntimeError, INFERENCE_REQUIRES_GRAD):
                inner.requires_grad_()
        check.true("is_inference_mode_enabled() after the inner block", torch.is_inference_mode_enabled())
    check.close(f"u_x by {api}", u_x, truth, dtype=dtype, device=device, shape=(6, 1))


@claim(
    "GM-006",
    "An output with no graph makes autograd.grad and backward raise RuntimeError 'element 0 of tensors does not "
    "require grad and does not have a grad_fn': the network's output computed under torch.no_grad(), after "
    ".detach(), and from a frozen network (requires_grad_(False)) on a constant input.",
    section="Grad modes",
)
@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("how", ["under no_grad", "after detach", "frozen net, constant input"])
def test_output_without_graph_raises(how, api, device, dtype, check):
    net, points, _ = setup(device, dtype)
    x = points.clone().requires_grad_()
    if how == "under no_grad":
        with torch.no_grad():
            u = net(x)
    elif how == "after detach":
        u = net(x).detach()
    else:
        net.requires_grad_(False)
        x = points.clone()
        u = net(x)
    check.flags(f"u {how}", u, requires_grad=False, grad_fn=None)
    if api == "autograd.grad":
        with check.raises(f"grad(u.sum(), x) {how}", RuntimeError, NO_GRAD_FN):
            torch.autograd.grad(u.sum(), x if x.requires_grad else list(net.parameters()))
    else:
        with check.raises(f"u.sum().backward() {how}", RuntimeError, NO_GRAD_FN):
            u.sum().backward()


@claim(
    "GM-007",
    "torch.enable_grad() inside torch.no_grad(), as a context manager or as the decorator @torch.enable_grad() of "
    "the residual function, turns recording back on: u_x of the tanh MLP equals the closed-form derivative, by "
    "autograd.grad and by backward, and no_grad is in force again afterwards.",
    section="Grad modes",
)
@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("how", ["with enable_grad()", "@enable_grad()"])
def test_enable_grad_inside_no_grad(how, api, device, dtype, check):
    net, points, truth = setup(device, dtype)

    def residual(z):
        x = z.clone().requires_grad_()
        return input_derivative(net(x), x, api)

    with torch.no_grad():
        if how == "with enable_grad()":
            with torch.enable_grad():
                check.true("is_grad_enabled() in enable_grad", torch.is_grad_enabled())
                u_x = check.works(f"u_x by {api}", lambda: residual(points))
        else:
            u_x = check.works(f"u_x by {api}", lambda: torch.enable_grad()(residual)(points))
        check.false("is_grad_enabled() after", torch.is_grad_enabled())
    check.close(f"u_x by {api}, {how} inside no_grad", u_x, truth, dtype=dtype, device=device, shape=(6, 1))


@claim(
    "GM-008",
    "torch.set_grad_enabled(False) called as a function turns recording off until set_grad_enabled(True), while as a "
    "context manager it restores the previous mode at the end of its block; in both, results do not require grad.",
    section="Grad modes",
)
def test_set_grad_enabled_function_and_context(device, dtype, check):
    x = pinn.points(6, 1, dtype=dtype, device=device).requires_grad_()
    with torch.set_grad_enabled(False):
        check.false("is_grad_enabled() in the block", torch.is_grad_enabled())
        check.false("(x * 2).requires_grad in the block", (x * 2).requires_grad)
    check.true("is_grad_enabled() after the block", torch.is_grad_enabled())
    torch.set_grad_enabled(False)
    check.false("is_grad_enabled() after set_grad_enabled(False)", torch.is_grad_enabled())
    check.false("(x * 2).requires_grad after set_grad_enabled(False)", (x * 2).requires_grad)
    torch.set_grad_enabled(True)
    check.true("is_grad_enabled() after set_grad_enabled(True)", torch.is_grad_enabled())
    check.true("(x * 2).requires_grad after set_grad_enabled(True)", (x * 2).requires_grad)


@claim(
    "GM-009",
    "Under torch.no_grad(), factory functions with requires_grad=True and nn.Parameter still make leaves that "
    "require grad (no_grad governs what operations record, not the flag): collocation points made there give the "
    "closed-form u_x afterwards.",
    section="Grad modes",
)
@pytest.mark.parametrize("made_by", ["torch.tensor", "torch.rand", "nn.Parameter"])
def test_requires_grad_survives_no_grad(made_by, device, dtype, check):
    net, points, truth = setup(device, dtype)
    with torch.no_grad():
        if made_by == "torch.tensor":
            x = torch.tensor(points.tolist(), dtype=dtype, device=device, requires_grad=True)
        elif made_by == "torch.rand":
            x = torch.rand(6, 1, dtype=dtype, device=device, requires_grad=True)
        else:
            x = torch.nn.Parameter(points.clone())
        check.flags(f"{made_by}(..., requires_grad=True) under no_grad", x, requires_grad=True, is_leaf=True)
    if made_by == "torch.rand":
        truth = pinn.du_dx(list(net.ps), x)
    u_x = check.works("u_x after no_grad", lambda: torch.autograd.grad(net(x).sum(), x)[0])
    check.close("u_x after no_grad", u_x, truth, dtype=dtype, device=device, shape=(6, 1))


@claim(
    "GM-010",
    "Grad modes and a module's train/eval mode are independent: torch.inference_mode() and torch.no_grad() leave "
    "net.training True, and net.eval() / net.train() leave is_grad_enabled() as it was, so u_x of a network in eval "
    "mode equals the closed-form derivative.",
    section="Grad modes",
)
def test_grad_modes_and_eval_are_independent(device, dtype, check):
    net, points, truth = setup(device, dtype)
    net.train()
    with torch.inference_mode():
        check.true("net.training inside inference_mode", net.training)
    with torch.no_grad():
        check.true("net.training inside no_grad", net.training)
        net.train()
        check.false("is_grad_enabled() after net.train() under no_grad", torch.is_grad_enabled())
    net.eval()
    check.false("net.training after eval()", net.training)
    check.true("is_grad_enabled() after net.eval()", torch.is_grad_enabled())
    x = points.clone().requires_grad_()
    u_x = check.works("u_x in eval mode", lambda: torch.autograd.grad(net(x).sum(), x)[0])
    check.close("u_x in eval mode", u_x, truth, dtype=dtype, device=device, shape=(6, 1))


@claim(
    "GM-011",
    "Grad mode is thread-local: a thread started inside torch.no_grad() records by default (is_grad_enabled() True, "
    "x * 2 requires grad), and set_grad_enabled(False) in a thread leaves the starting thread's mode alone.",
    section="Grad modes",
)
def test_grad_mode_is_thread_local(device, dtype, check):
    x = pinn.points(6, 1, dtype=dtype, device=device).requires_grad_()
    seen = {}

    def worker():
        seen["enabled"] = torch.is_grad_enabled()
        seen["records"] = (x * 2).requires_grad

    def switch_off():
        torch.set_grad_enabled(False)
        seen["off in thread"] = torch.is_grad_enabled()

    with torch.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    check.equal("is_grad_enabled() in a thread started under no_grad", seen.get("enabled"), True)
    check.equal("(x * 2).requires_grad in that thread", seen.get("records"), True)
    t = threading.Thread(target=switch_off)
    t.start()
    t.join()
    check.equal("is_grad_enabled() in the thread after set_grad_enabled(False)", seen.get("off in thread"), False)
    check.true("is_grad_enabled() in the starting thread", torch.is_grad_enabled())


@claim(
    "GM-012",
    "torch.no_grad() works as a decorator (a decorated function's result of x * x does not require grad, and grad "
    "mode is back on after the call), and torch.is_inference_mode_enabled() is True inside torch.inference_mode(), "
    "False outside it and inside inference_mode(False).",
    section="Grad modes",
)
def test_no_grad_decorator_and_is_inference_mode_enabled(device, dtype, check):
    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)

    @torch.no_grad()
    def square(t):
        return t * t

    check.false("requires_grad of a @torch.no_grad() function's result", square(x).requires_grad)
    check.true("is_grad_enabled() after the call", torch.is_grad_enabled())
    check.false("is_inference_mode_enabled() outside", torch.is_inference_mode_enabled())
    with torch.inference_mode():
        check.true("is_inference_mode_enabled() inside inference_mode()", torch.is_inference_mode_enabled())
        with torch.inference_mode(False):
            check.false("is_inference_mode_enabled() inside inference_mode(False)", torch.is_inference_mode_enabled())
