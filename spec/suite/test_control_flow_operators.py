"""Chapter 4, "Control flow operators": torch.cond, scan and while_loop under autograd, and jvp through vmap.

``torch.cond`` and the higher-order operators ``scan`` and ``while_loop`` (``torch._higher_order_ops``) run their
bodies through Dynamo even in eager mode; their backward is a separate autograd implementation per operator, added
release by release.  torch 2.0 has none of them (the claims are n/a there).
"""

import pytest
import torch

import spec.modes
from spec import by_version, claim, dtypes
from spec.check import Outcome
from spec.claims import modes
from spec.suite.support import quiet_dynamo

#: torch.cond: absent in torch 2.0; differentiable since pytorch#126911 (torch 2.5; before: "Autograd not
#: implemented for cond").
COND_BACKWARD = by_version(
    "CFLOW-001/torch.cond backward",
    {
        "<2.2": {"outcome": "raised", "matches": r"has no attribute 'cond'"},
        ">=2.2,<2.5": {"outcome": "raised",
                       "matches": r"Autograd not implemented for cond|appears to not have been used in the graph"},
        ">=2.5": {"outcome": "returned"},
    },
    ref="https://github.com/pytorch/pytorch/pull/126911",
    note="confirmed by observation: torch.cond absent on 2.0.1 and 2.1.2; on 2.2.2 to 2.4.1 no gradient (backward() "
    "raises 'Autograd not implemented for cond', autograd.grad 'appears to not have been used in the graph'); "
    "differentiable on every release 2.5.1 to 2.15.0",
)
#: torch.func transforms through torch.cond fail when the cond is run eagerly.
FUNC_THROUGH_COND = by_version(
    "CFLOW-004/torch.func.grad through torch.cond",
    {
        "<2.3": r"^InternalTorchDynamoError: Cannot access data pointer",
        ">=2.3,<2.7": r"^KeyError: <TransformType\.Grad",
        ">=2.7,<2.8": r"^TorchRuntimeError: Dynamo failed to run FX node with fake tensors",
        ">=2.8,<2.11": r"^AssertionError",
        ">=2.11": r"^AssertionError: Expected FakeTensor",
    },
    ref="https://github.com/pytorch/pytorch/pull/165908",
    note="confirmed by observation: 'Cannot access data pointer' on 2.2.2, KeyError on 2.3.1 to 2.6.0, Dynamo's "
    "fake-tensor error on 2.7.1, a bare AssertionError on 2.8.0 to 2.10.0, 'Expected FakeTensor, got Tensor' on 2.11.0 "
    "to 2.15.0",
)
#: torch.func.jvp through an eagerly run torch.cond.
FUNC_JVP_THROUGH_COND = by_version(
    "CFLOW-004/torch.func.jvp through torch.cond",
    {"<2.3": r"^InternalTorchDynamoError: Cannot access data pointer", ">=2.3": r"^UncapturedHigherOrderOpError: "},
    ref="https://github.com/pytorch/pytorch/pull/126911",
    note="confirmed by observation: 'Cannot access data pointer' on 2.2.2, UncapturedHigherOrderOpError on every "
    "release 2.3.1 to 2.15.0; the PR that changed the 2.2 error is unconfirmed (the reference is cond's autograd PR)",
)
#: while_loop: before its autograd the result had no graph to the closed-over x (an error); since then the gradient to
#: a closed-over tensor counts only the last step (the while_loop analogue of pytorch#184528).
WHILE_LOOP_WRONG = by_version(
    "CFLOW-007/while_loop's gradient to a closed-over tensor counts only the last step",
    {"<2.9": False, ">=2.9": True},
    ref="https://github.com/pytorch/pytorch/issues/184528",
    note="confirmed by observation: 'appears to not have been used in the graph' on 2.3.1 to 2.8.0 (while_loop had no "
    "autograd), the wrong 2.25 on 2.13.0 and 2.15.0; no upstream issue for while_loop was found (the reference is "
    "scan's); the first wrong release is the matrix's",
)
#: while_loop with a body that closes over a tensor: torch 2.3 refused it in the forward.
WHILE_LOOP_CALL = by_version(
    "CFLOW-007/while_loop with a body that closes over a tensor",
    {"<2.4": {"outcome": "raised", "matches": r"body_fn should return the same number of elements as operands"},
     ">=2.4": {"outcome": "returned"}},
    ref="https://github.com/pytorch/pytorch/pull/116823",
    note="confirmed by observation: raised on 2.3.1, returned on every release 2.4.1 to 2.15.0; the PR that lifted "
    "closed-over tensors is unconfirmed (the reference is while_loop's own)",
)
HAS_WHILE_LOOP = by_version(
    "CFLOW-007/torch._higher_order_ops.while_loop exists",
    {"<2.3": False, ">=2.3": True},
    ref="https://github.com/pytorch/pytorch/pull/116823",
    note="confirmed by observation: absent on 2.0.1 to 2.2.2, present on 2.3.1 and later",
)
#: The scan hazard: the gradient to a tensor the body closes over counts only the last step when neither init nor
#: xs requires grad (pytorch#184528).
SCAN_CLOSURE_WRONG = by_version(
    "CFLOW-005/scan's gradient to a closed-over parameter counts only the last step",
    {"<2.8": False, ">=2.8,<2.13": True, ">=2.13": False},
    ref="https://github.com/pytorch/pytorch/issues/184528",
    note="confirmed by observation: no gradient at all on 2.7.1 ('appears to not have been used in the graph'), wrong "
    "on every release 2.8.0 to 2.12.1, right on 2.13.0 to 2.15.0; the issue reports 2.11 and 2.12; the fixing PR is "
    "unconfirmed",
)
#: scan of a body that closes over a parameter requiring grad, with an init that does not: torch 2.6 refused it.
SCAN_CALL = by_version(
    "CFLOW-005/scan with a closed-over parameter that requires grad and an init that does not",
    {"<2.7": {"outcome": "raised", "matches": r"requires_grad of the new_carry\[0\] True doesn't match that of the init"},
     ">=2.7": {"outcome": "returned"}},
    ref="https://github.com/pytorch/pytorch/issues/184528",
    note="confirmed by observation: raised on 2.6.0, returned on 2.7.1 and later",
)
#: The gradient through scan's stacked outputs: none before scan had autograd for closed-over tensors.
SCAN_OUTPUT_GRAD = by_version(
    "CFLOW-006/scan's gradient through the stacked outputs to a closed-over parameter",
    {"<2.8": {"outcome": "raised", "matches": r"appears to not have been used in the graph"},
     ">=2.8": {"outcome": "returned"}},
    ref="https://github.com/pytorch/pytorch/issues/184528",
    note="confirmed by observation: raised on 2.6.0 and 2.7.1, right (6) on every release 2.8.0 to 2.15.0",
)
HAS_SCAN = by_version(
    "CFLOW-005/torch._higher_order_ops.scan exists",
    {"<2.6": False, ">=2.6": True},
    ref="https://github.com/pytorch/pytorch/pull/134102",
    note="confirmed by observation: absent on 2.0.1, present on 2.8.0, 2.13.0 and 2.15.0",
)

@pytest.fixture(autouse=True)
def _quiet_lazy_import():
    """cond, scan and while_loop import torch._dynamo and trace, which may warn on its own way (no claim here is
    about it)."""
    with quiet_dynamo():
        yield


def branchy(x):
    """sin(x) where sum(x) > 0, x*x elsewhere."""
    return torch.cond(x.sum() > 0, lambda x: x.sin(), lambda x: x * x, (x,))


BRANCHES = {"true": ([1.0, 2.0], lambda x: x.cos()), "false": ([-1.0, -2.0], lambda x: 2 * x)}


def cond_or_absent(check):
    if not hasattr(torch, "cond"):
        check.call("torch.cond", lambda: torch.cond, COND_BACKWARD)
        check.absent("torch.cond", lambda: torch.cond, AttributeError, "cond", reason="torch.cond arrived in torch 2.2")


@claim(
    "CFLOW-001",
    "torch.cond (since torch 2.2) is differentiable in eager mode since torch 2.5 (before, its output has no graph to x): the gradient is the taken branch's, cos(x) = "
    "[cos 1, cos 2] where sum(x) > 0 (sin branch) and 2x = [-2, -4] elsewhere (x*x branch), by backward() and by "
    "autograd.grad.",
    section="Control flow operators",
    apis=("torch.cond", "Tensor.backward", "torch.autograd.grad",),
)
@pytest.mark.parametrize("branch", list(BRANCHES))
@pytest.mark.parametrize("via", ["backward", "autograd.grad"])
@dtypes("float64")
def test_cond_gradient(branch, via, device, dtype, check):
    cond_or_absent(check)
    values, derivative = BRANCHES[branch]
    x = torch.tensor(values, device=device, dtype=dtype, requires_grad=True)

    def grad():
        y = branchy(x).sum()
        if via == "backward":
            y.backward()
            return x.grad
        return torch.autograd.grad(y, x)[0]

    g = check.call("the gradient through torch.cond", grad, COND_BACKWARD)
    if g is not None:
        check.close("the gradient", g, derivative(x.detach()), dtype=dtype, device=device)


@claim(
    "CFLOW-002",
    "Under torch.compile (fullgraph=True) torch.cond gives the eager gradients of both branches: cos(x) where "
    "sum(x) > 0 and 2x elsewhere.",
    section="Control flow operators",
    apis=("torch.cond", "torch.compile", "Tensor.backward",),
)
@modes("eager", "aot_eager")
@pytest.mark.parametrize("branch", list(BRANCHES))
@dtypes("float64")
def test_compiled_cond_gradient(mode, branch, device, dtype, check):
    cond_or_absent(check)
    if not Outcome.of(COND_BACKWARD.current()).returns:
        check.call("the gradient through torch.cond", lambda: branchy(torch.ones(2, requires_grad=True)).sum()
                   .backward(), COND_BACKWARD)
        return
    values, derivative = BRANCHES[branch]
    f = spec.modes.compiled(branchy, mode, **({} if mode == "eager" else {"fullgraph": True}))
    x = torch.tensor(values, device=device, dtype=dtype, requires_grad=True)
    y = check.works("y = f(x)", lambda: f(x))
    y.sum().backward()
    check.close("x.grad", x.grad, derivative(x.detach()), dtype=dtype, device=device)


@claim(
    "CFLOW-003",
    "torch.cond's backward is not differentiable: the gradient taken with create_graph=True has no graph, so a "
    "second derivative through torch.cond raises 'element 0 of tensors does not require grad' (eager code without "
    "cond gives -sin(x)).",
    section="Control flow operators",
    apis=("torch.cond", "torch.autograd.grad:create_graph",),
)
@dtypes("float64")
def test_cond_has_no_second_derivative(device, dtype, check):
    cond_or_absent(check)
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=True)
    (plain,) = torch.autograd.grad(x.sin().sum(), x, create_graph=True)
    check.close("d2/dx2 sum(sin x) without cond", torch.autograd.grad(plain.sum(), x)[0], -x.detach().sin(),
                dtype=dtype, device=device)
    g = check.call("d/dx through torch.cond (create_graph=True)",
                   lambda: torch.autograd.grad(branchy(x).sum(), x, create_graph=True)[0], COND_BACKWARD)
    if g is None:
        return
    check.flags("the gradient through cond", g, requires_grad=False, grad_fn=None)
    with check.raises("the second derivative", RuntimeError, r"element 0 of tensors does not require grad"):
        torch.autograd.grad(g.sum(), x)


@claim(
    "CFLOW-004",
    "torch.func transforms cannot go through an eagerly run torch.cond: torch.func.grad raises an AssertionError "
    "and torch.func.jvp an UncapturedHigherOrderOpError, where autograd.grad through the same cond works.",
    section="Control flow operators",
    apis=("torch.cond", "torch.func.grad", "torch.func.jvp",),
)
@pytest.mark.parametrize("transform", ["grad", "jvp"])
@dtypes("float64")
def test_func_through_cond(transform, device, dtype, check):
    cond_or_absent(check)
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
    if transform == "grad":
        expected = Outcome.raised(FUNC_THROUGH_COND)
        fn = lambda: torch.func.grad(lambda z: branchy(z).sum())(x)  # noqa: E731
    else:
        expected = Outcome.raised(FUNC_JVP_THROUGH_COND)
        fn = lambda: torch.func.jvp(branchy, (x,), (torch.ones_like(x),))  # noqa: E731
    check.call(f"torch.func.{transform} through torch.cond", fn, expected)


def additive_scan(w, xs, init):
    """carry_{k+1} = carry_k + w * x_k, ys_k = w * x_k: the final carry is init + w * sum(xs)."""
    from torch._higher_order_ops.scan import scan

    return scan(lambda c, x: (c + x * w, (x * w).clone()), init, xs)


def scan_or_absent(check):
    if not HAS_SCAN.current():
        def load():
            from torch._higher_order_ops.scan import scan  # noqa: F401

        check.absent("from torch._higher_order_ops.scan import scan", load, ImportError, r"_higher_order_ops|scan",
                     reason="scan arrived in torch 2.6")


@claim(
    "CFLOW-005",
    "Hazard: on torch 2.8 to 2.12, scan's gradient to a parameter w the body closes over counts only the last step "
    "when neither init nor xs requires grad: for carry + w*x over xs = [1, 2, 3], d carry/dw is 3 where the truth "
    "is 6.",
    section="Control flow operators",
    apis=("torch._higher_order_ops.scan.scan", "torch.autograd.grad",),
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/184528",
)
@dtypes("float64")
def test_scan_closed_over_parameter(device, dtype, check):
    scan_or_absent(check)
    w = torch.tensor(0.5, device=device, dtype=dtype, requires_grad=True)
    xs = torch.tensor([1.0, 2.0, 3.0], device=device, dtype=dtype)
    init = torch.tensor(0.0, device=device, dtype=dtype)
    out = check.call("scan(body, init, xs)", lambda: additive_scan(w, xs, init), SCAN_CALL)
    if out is None:
        return
    carry, _ = out
    check.tensor("the final carry", carry, 3.0, dtype=dtype, device=device)
    check.hazard("d carry/dw", lambda: torch.autograd.grad(carry, w)[0], wrong=torch.tensor(3.0, dtype=dtype),
                 truth=torch.tensor(6.0, dtype=dtype), present=SCAN_CLOSURE_WRONG,
                 fixed_by_error=r"appears to not have been used in the graph", exact=True)


@claim(
    "CFLOW-006",
    "Since torch 2.8 scan's gradient to a parameter w the body closes over, through the stacked outputs, is right: "
    "for ys_k = w*x_k over xs = [1, 2, 3], d sum(ys)/dw is 6 with or without init requiring grad, and d carry/d init "
    "is 1 (torch 2.6 and 2.7 raise 'appears to not have been used in the graph').",
    section="Control flow operators",
    apis=("torch._higher_order_ops.scan.scan", "torch.autograd.grad",),
    ref="https://github.com/pytorch/pytorch/issues/184528",
)
@dtypes("float64")
def test_scan_closed_over_parameter_outputs(device, dtype, check):
    scan_or_absent(check)
    w = torch.tensor(0.5, device=device, dtype=dtype, requires_grad=True)
    xs = torch.tensor([1.0, 2.0, 3.0], device=device, dtype=dtype)
    init = torch.tensor(0.0, device=device, dtype=dtype, requires_grad=True)
    carry, ys = check.works("scan with init requiring grad", lambda: additive_scan(w, xs, init))
    both = check.call("d carry/d(w, init)", lambda: torch.autograd.grad(carry, (w, init)), SCAN_OUTPUT_GRAD)
    if both is not None:
        check.tensor("d carry/dw (init requires grad)", both[0], 6.0, dtype=dtype, device=device)
        check.tensor("d carry/d init", both[1], 1.0, dtype=dtype, device=device)
    for label, start in (("init requires grad", init), ("init does not", init.detach())):
        out = check.call(f"scan, {label}", lambda start=start: additive_scan(w, xs, start),
                         SCAN_CALL if label == "init does not" else Outcome.returned())
        if out is None:
            continue
        _, ys = out
        g = check.call(f"d sum(ys)/dw, {label}", lambda ys=ys: torch.autograd.grad(ys.sum(), w)[0], SCAN_OUTPUT_GRAD)
        if g is not None:
            check.tensor(f"d sum(ys)/dw, {label}", g, 6.0, dtype=dtype, device=device)


@claim(
    "CFLOW-007",
    "Hazard: since torch 2.9, while_loop's (torch 2.3+; no gradient before 2.9) gradient to a tensor x the body closes over counts only the last step: for "
    "y = x**3 computed by three steps of y*x from 1, dy/dx at x = 1.5 is 2.25 (x**2) where the truth is 3x**2 = 6.75 "
    "(torch 2.8 raises 'appears to not have been used in the graph').",
    section="Control flow operators",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/184528",
)
@dtypes("float64")
def test_while_loop_closed_over_gradient(device, dtype, check):
    if not HAS_WHILE_LOOP.current():
        def load():
            from torch._higher_order_ops.while_loop import while_loop  # noqa: F401

        check.absent("from torch._higher_order_ops.while_loop import while_loop", load, ImportError, r"_higher_order_ops|while_loop",
                     reason="while_loop arrived in torch 2.3")
    from torch._higher_order_ops.while_loop import while_loop

    x = torch.tensor(1.5, device=device, dtype=dtype, requires_grad=True)
    one = torch.tensor(1.0, device=device, dtype=dtype)

    def power():
        _, y = while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * x), (torch.tensor(0, device=device), one))
        return y

    y = check.call("while_loop", power, WHILE_LOOP_CALL)
    if y is None:
        return
    check.tensor("y", y, 3.375, dtype=dtype, device=device)
    check.hazard("dy/dx", lambda: torch.autograd.grad(power(), x)[0], wrong=torch.tensor(2.25, dtype=dtype),
                 truth=torch.tensor(6.75, dtype=dtype), present=WHILE_LOOP_WRONG,
                 fixed_by_error=r"appears to not have been used in the graph", exact=True)


@claim(
    "CFLOW-008",
    "torch.func.jvp through torch.func.vmap equals vmap of jvp and the analytic derivative: for f(x) = tanh(W x) "
    "over a batch of two points with tangents e1, e2, jvp(vmap(f)) gives (1 - tanh(W x)**2) * (W t) per point.",
    section="Control flow operators",
)
@dtypes("float64")
def test_jvp_through_vmap(device, dtype, check):
    W = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device, dtype=dtype)
    xs = torch.tensor([[0.5, 1.0], [2.0, -1.0]], device=device, dtype=dtype) / 4
    ts = torch.eye(2, device=device, dtype=dtype)

    def f(x):
        return torch.tanh(W @ x)

    truth = (1 - torch.tanh(xs @ W.T) ** 2) * (ts @ W.T)
    _, outer = check.works("jvp(vmap(f))", lambda: torch.func.jvp(torch.func.vmap(f), (xs,), (ts,)))
    check.close("jvp(vmap(f))", outer, truth, dtype=dtype, device=device)
    inner = torch.func.vmap(lambda x, t: torch.func.jvp(f, (x,), (t,))[1])(xs, ts)
    check.close("vmap(jvp(f))", inner, truth, dtype=dtype, device=device)
