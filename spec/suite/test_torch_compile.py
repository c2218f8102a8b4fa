"""Execution modes, "torch.compile": which autograd rules carry over into code compiled with torch.compile, and
which do not (a compiled region's backward is one opaque node that cannot be differentiated again).

Each test runs once per execution mode (``@modes``): the eager row states what plain PyTorch does, the
``aot_eager`` and ``inductor`` rows what ``torch.compile`` does with those backends.  Where the two differ, the
expectation is a per-mode dict beside the test.  Compiled rows are opt-in (``--mode all``); only a few tests run
with inductor, whose first compile in a process takes tens of seconds on a CPU.
"""

import pytest
import torch

import spec.modes
from spec import by_version, claim, dtypes
from spec.check import Outcome, tolerating
from spec.claims import modes
from spec.suite.support import SECOND_TIME, quiet_dynamo

#: The error a compiled region's backward raises when it is differentiated again (pytorch#92348, torch 2.0).
DOUBLE_BACKWARD = r"torch\.compile with aot_autograd does not currently support double backward"
COMPILED_NODE = r"^CompiledFunctionBackward$"

#: Differentiating a compiled network's input gradient again (u_xx of a PINN): what the second autograd.grad
#: says.  Up to torch 2.7 u_x had no graph (no grad_fn), 2.8 to 2.13 gave u_x a graph that lost its edge to x and
#: blamed an unused input, and since the fix of pytorch#181581 (#181606, first released in 2.14) torch says what
#: is wrong.
UXX_COMPILED_MESSAGE = by_version(
    "COMP-010/second autograd.grad through a compiled network",
    {
        "<2.8": r"element 0 of tensors does not require grad and does not have a grad_fn",
        ">=2.8,<2.14": r"appears to not have been used in the graph\. Set allow_unused=True",
        ">=2.14": r"torch\.compile with aot_autograd does not currently support double backward",
    },
    ref="https://github.com/pytorch/pytorch/pull/181606",
    note="issue https://github.com/pytorch/pytorch/issues/181581; confirmed by observation on every release 2.1.2 "
    "to 2.15.0 (2.7.1 'does not require grad', 2.8.0 'unused', 2.13.0 'unused', 2.14.1 'double backward'); the "
    "change between 2.7 and 2.8 is unconfirmed (no PyTorch PR found)",
)
#: HZ-040/041/042: the silent zeros (pytorch#181581) were turned into the DOUBLE_BACKWARD error by #181606.
#: Up to torch 2.7 the second grad raised for u_xx (see UXX_COMPILED_MESSAGE) but the Hessian was already zero.
SILENT_UXX = by_version(
    "HZ-040/u_xx through a compiled network is silently zero",
    {"<2.8": False, ">=2.8,<2.14": True, ">=2.14": False},
    ref="https://github.com/pytorch/pytorch/pull/181606",
    note="issue https://github.com/pytorch/pytorch/issues/181581; confirmed by observation on every release: an "
    "error on 2.1.2 to 2.7.1 (the onset in 2.8 is unconfirmed: no PyTorch PR found), zeros on 2.8.0 to 2.13.0, "
    "the double-backward error from 2.14.1",
)
SILENT_UXX_NONE = by_version(
    "HZ-041/u_xx through a compiled network is silently None",
    {"<2.8": False, ">=2.8,<2.14": True, ">=2.14": False},
    ref="https://github.com/pytorch/pytorch/pull/181606",
    note="issue https://github.com/pytorch/pytorch/issues/181581; confirmed by observation on every release: an "
    "error on 2.1.2 to 2.7.1 (the onset in 2.8 is unconfirmed: no PyTorch PR found), None on 2.8.0 to 2.13.0, "
    "the double-backward error from 2.14.1",
)
ZERO_HESSIAN = by_version(
    "HZ-042/autograd.functional.hessian inside a compiled function is zero",
    {"<2.14": True, ">=2.14": False},
    ref="https://github.com/pytorch/pytorch/pull/181606",
    note="issue https://github.com/pytorch/pytorch/issues/181581; confirmed by observation: zero on every release "
    "2.1.2 to 2.13.0, the double-backward error on 2.14.1 and 2.15.0 (torch 2.0.1 has no torch.compile on "
    "Python 3.11)",
)
#: HZ-044: up to torch 2.7 autograd.grad(create_graph=True)'s result came back from a compiled region without a graph.
CONSTANT_INPUT_GRADIENT = by_version(
    "HZ-044/u_x from a compiled autograd.grad is a constant",
    {"<2.8": True, ">=2.8": False},
    ref="https://github.com/pytorch/pytorch/issues/181581",
    note="confirmed by observation: present on every release 2.1.2 to 2.7.1 (u_x has no grad_fn), an error from "
    "2.8.0 to 2.15.0 (u_x is a CompiledFunctionBackwardBackward output whose backward refuses); the PR that changed "
    "it in 2.8 is unconfirmed (not found)",
)
#: HZ-043: AOTAutograd dropped the in-place update of a 0-dim float64 graph input on torch 2.7 to 2.13.
DROPPED_MUTATION = by_version(
    "HZ-043/in-place update of a 0-dim float64 input is dropped",
    {"<2.7": False, ">=2.7,<2.14": True, ">=2.14": False},
    ref="https://github.com/pytorch/pytorch/issues/195422",
    note="unconfirmed: no upstream issue or PR for the 0-dim float64 case was found (the reference is the closest "
    "one, a dropped input mutation); the range is confirmed by observation: updated on 2.1.2 to 2.6.0, dropped on "
    "every release 2.7.1 to 2.13.0, updated on 2.14.1 and 2.15.0",
)
#: autograd.grad's materialize_grads keyword arrived in torch 2.1 (UNUSED-003).
MATERIALIZE_GRADS = by_version(
    "HZ-040/autograd.grad has materialize_grads",
    {"<2.1": False, ">=2.1": True},
    ref="https://github.com/pytorch/pytorch/pull/97015",
)
#: torch._dynamo.config.trace_autograd_ops (default False) arrived with pytorch#169493.
TRACE_AUTOGRAD_OPS = by_version(
    "COMP-013/torch._dynamo.config.trace_autograd_ops exists",
    {"<2.11": False, ">=2.11": True},
    ref="https://github.com/pytorch/pytorch/pull/169493",
    note="confirmed by observation: absent on every release 2.1.2 to 2.10.0, present on 2.11.0 to 2.15.0",
)
#: Tensor.retain_grad() inside a compiled region: before torch 2.7 AOTAutograd compiled it into nothing (the .grad
#: stayed None, pytorch#146212); since #146214 Dynamo graph-breaks on it, an error under fullgraph=True.  Torch 2.8
#: reworded Dynamo's graph-break messages ("Tensor.retain_grad() with AOTDispatcher" plus an explanation).
RETAIN_GRAD_FULLGRAPH = by_version(
    "COMP-011/retain_grad() under fullgraph=True",
    {
        "<2.7": {"outcome": "returned"},
        ">=2.7,<2.8": {"outcome": "raised", "matches": r"^Unsupported: retain_grad does not work with AOTDispatcher"},
        ">=2.8": {"outcome": "raised", "matches": r"^Unsupported: Tensor\.retain_grad\(\) with AOTDispatcher"},
    },
    ref="https://github.com/pytorch/pytorch/pull/146214",
    note="issue https://github.com/pytorch/pytorch/issues/146212; confirmed by observation: compiles on every "
    "release 2.1.2 to 2.6.0, Unsupported from 2.7.1 on; the 2.8 rewording is unconfirmed (its PR was not found)",
)
#: torch.func transforms inside a fullgraph compile: up to torch 2.4 Dynamo could not trace functional_call of a
#: module under vmap(grad(...)).
FUNC_FULLGRAPH = by_version(
    "COMP-015/torch.func PINN loss under fullgraph=True",
    {"<2.5": {"outcome": "raised", "matches": r"^Unsupported: "}, ">=2.5": {"outcome": "returned"}},
    ref="https://github.com/pytorch/pytorch/issues/94851",
    note="unconfirmed: the reference is an earlier torch.func x torch.compile failure, not this one; the range is "
    "confirmed by observation: Unsupported on every release 2.1.2 to 2.4.1, compiles on every release 2.5.1 to "
    "2.15.0",
)

#: What each mode does for the same code (the eager row is the reference the compiled rows are compared to).
GRAD_FN_NAME = {"eager": r"^MulBackward0$", "aot_eager": COMPILED_NODE, "inductor": COMPILED_NODE}
#: What the second backward does: eager accumulates x.grad to 2, a compiled region's graph is freed.
SAVED_NOTHING_TWICE = {"eager": Outcome.returned(2.0), "aot_eager": Outcome.raised(SECOND_TIME),
                       "inductor": Outcome.raised(SECOND_TIME)}
#: What differentiating dy/dx again does: eager gives 18, a compiled backward refuses.
SECOND_DERIVATIVE = {"eager": Outcome.returned(18.0), "aot_eager": Outcome.raised(r"^RuntimeError: " + DOUBLE_BACKWARD),
                     "inductor": Outcome.raised(r"^RuntimeError: " + DOUBLE_BACKWARD)}
NON_LEAF_GRAD_START = r"The \.grad attribute of a Tensor that is not a leaf Tensor is being accessed"
INPLACE_ON_LEAF = r"a leaf Variable that requires grad is being used in an in-place operation"
INPLACE_ERROR_TYPE = {"eager": r"^RuntimeError$", "aot_eager": r"^TorchRuntimeError$", "inductor": r"^TorchRuntimeError$"}


@pytest.fixture(autouse=True)
def _quiet_lazy_import():
    """Importing torch._dynamo may warn about torch.jit.script (no claim here is about it)."""
    with quiet_dynamo():
        yield


def cube(x):
    return x * x * x


def cube_and_sine(x):
    """The function of the inductor rows: one graph for all of them, so inductor compiles it once per process
    (and not at all with a warm FX graph cache)."""
    return x * x * x, x.sin()


def mlp(device, dtype):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).to(device, dtype)


def mlp_points(device, dtype):
    return torch.linspace(0.0, 1.0, 5, device=device, dtype=dtype).reshape(-1, 1).requires_grad_()


def eager_uxx(net, x):
    (ux,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)
    (uxx,) = torch.autograd.grad(ux.sum(), x)
    return uxx


def func_u(net):
    """The network as a function of its parameters and one point, for torch.func (the references below)."""
    params = {k: v.detach() for k, v in net.named_parameters()}

    def u(p, x):
        return torch.func.functional_call(net, p, (x.reshape(1, 1),)).squeeze()

    return params, u


def func_uxx(net, device, dtype):
    """u_xx at mlp_points by torch.func (no torch.autograd.grad involved)."""
    params, u = func_u(net)
    xs = torch.linspace(0.0, 1.0, 5, device=device, dtype=dtype)
    d2 = torch.func.grad(torch.func.grad(u, argnums=1), argnums=1)
    return torch.func.vmap(d2, in_dims=(None, 0))(params, xs).reshape(-1, 1)


def func_pinn_parameter_grads(net, device, dtype):
    """The gradient of mean((u_x - 1)**2) + mean(u**2) to the parameters by torch.func."""
    params, u = func_u(net)
    xs = torch.linspace(0.0, 1.0, 5, device=device, dtype=dtype)

    def loss(p):
        ux = torch.func.vmap(torch.func.grad(u, argnums=1), in_dims=(None, 0))(p, xs)
        return ((ux - 1.0) ** 2).mean() + (torch.func.vmap(u, in_dims=(None, 0))(p, xs) ** 2).mean()

    g = torch.func.grad(loss)(params)
    return torch.cat([g[k].flatten() for k, _ in net.named_parameters()])


# ---------------------------------------------------------------------------------- what carries over


@claim(
    "COMP-001",
    "Under torch.compile the leaf and requires_grad rules hold: y = x*x*x of a leaf x = 3 that requires grad "
    "requires grad and is not a leaf, x stays a leaf, and y.backward() fills x.grad with 27, as in eager.",
    section="torch.compile",
)
@modes("eager", "aot_eager", "inductor")
@dtypes("float64")
def test_compiled_output_follows_leaf_rules(mode, device, dtype, check):
    f = spec.modes.compiled(cube_and_sine, mode)
    x = torch.tensor(3.0, requires_grad=True, device=device, dtype=dtype)

    y, _ = check.works("y, _ = f(x)", lambda: f(x))
    check.tensor("y", y, 27.0, dtype=dtype, device=device)
    check.flags("y", y, requires_grad=True, is_leaf=False, grad_fn=True)
    y.backward()
    check.flags("x", x, requires_grad=True, is_leaf=True, grad_fn=None)
    check.tensor("x.grad", x.grad, 27.0, dtype=dtype, device=device)


@claim(
    "COMP-002",
    "Under torch.compile every output of the compiled region has one CompiledFunctionBackward node as its grad_fn, "
    "whose next function is the input's AccumulateGrad, where eager records one node per operation (MulBackward0).",
    section="torch.compile",
)
@modes("eager", "aot_eager", "inductor")
@dtypes("float64")
def test_compiled_region_is_one_backward_node(mode, device, dtype, check):
    f = spec.modes.compiled(cube_and_sine, mode)
    x = torch.tensor(3.0, requires_grad=True, device=device, dtype=dtype)

    y, s = check.works("y, s = f(x)", lambda: f(x))
    check.matches("type(y.grad_fn).__name__", type(y.grad_fn).__name__, GRAD_FN_NAME[mode])
    if mode == "eager":
        check.matches("type(s.grad_fn).__name__", type(s.grad_fn).__name__, r"^SinBackward0$")
        return
    check.matches("type(s.grad_fn).__name__", type(s.grad_fn).__name__, COMPILED_NODE)
    check.true("y and s share one grad_fn node", y.grad_fn is s.grad_fn)
    nexts = [type(fn).__name__ for fn, _ in y.grad_fn.next_functions]
    check.equal("its next functions", nexts, ["AccumulateGrad"])
    check.true("... the AccumulateGrad of x", y.grad_fn.next_functions[0][0].variable is x)


@claim(
    "COMP-003",
    "Under torch.compile .grad accumulates across backward calls: two y.backward(retain_graph=True) for the "
    "compiled y = x*x*x at x = 3 leave x.grad at 27 and then 54.",
    section="torch.compile",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_compiled_grad_accumulates(mode, device, dtype, check):
    f = spec.modes.compiled(cube, mode)
    x = torch.tensor(3.0, requires_grad=True, device=device, dtype=dtype)

    y = check.works("y = f(x)", lambda: f(x))
    y.backward(retain_graph=True)
    check.tensor("x.grad after one backward", x.grad, 27.0, dtype=dtype, device=device)
    check.works("y.backward() again", lambda: y.backward(retain_graph=True))
    check.tensor("x.grad after two", x.grad, 54.0, dtype=dtype, device=device)


@claim(
    "COMP-004",
    "Under torch.compile a second backward through a compiled region that saved tensors raises 'Trying to backward "
    "through the graph a second time' unless the first kept the graph with retain_graph=True, as in eager.",
    section="torch.compile",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_compiled_second_backward_needs_retain_graph(mode, device, dtype, check):
    f = spec.modes.compiled(cube, mode)
    x = torch.tensor(3.0, requires_grad=True, device=device, dtype=dtype)

    y = check.works("y = f(x)", lambda: f(x))
    y.backward()
    with check.raises("y.backward() a second time", RuntimeError, SECOND_TIME):
        y.backward()
    check.tensor("x.grad (the first backward only)", x.grad, 27.0, dtype=dtype, device=device)


@claim(
    "COMP-005",
    "Under torch.compile a second backward raises even when the region saved nothing: for y = x + 1 eager lets "
    "y.backward() run twice and accumulates x.grad to 2, the compiled y raises 'Trying to backward through the "
    "graph a second time'.",
    section="torch.compile",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_compiled_graph_that_saved_nothing_is_freed(mode, device, dtype, check):
    f = spec.modes.compiled(lambda x: x + 1, mode)
    x = torch.tensor(3.0, requires_grad=True, device=device, dtype=dtype)

    y = check.works("y = f(x)", lambda: f(x))
    y.backward()
    expected = SAVED_NOTHING_TWICE[mode]
    check.call("y.backward() a second time", y.backward, expected)
    if expected.returns:
        check.tensor("x.grad after two backward calls", x.grad, expected.value, dtype=dtype, device=device)
    else:
        check.tensor("x.grad (the first backward only)", x.grad, 1.0, dtype=dtype, device=device)


@claim(
    "COMP-006",
    "Under torch.compile torch.no_grad() around the call holds: the compiled y = x*x*x of an x that requires "
    "grad does not require grad and has no grad_fn.",
    section="torch.compile",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_compiled_under_no_grad(mode, device, dtype, check):
    f = spec.modes.compiled(cube, mode)
    x = torch.tensor(3.0, requires_grad=True, device=device, dtype=dtype)

    def call():
        with torch.no_grad():
            return f(x)

    y = check.works("with no_grad: y = f(x)", call)
    check.tensor("y", y, 27.0, dtype=dtype, device=device)
    check.flags("y", y, requires_grad=False, grad_fn=None)


@claim(
    "COMP-007",
    "Under torch.compile detach() inside the region cuts the graph as in eager: for y = x.detach() * x at x = 3, "
    "x.grad is 3, not 6.",
    section="torch.compile",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_compiled_detach_cuts_the_graph(mode, device, dtype, check):
    f = spec.modes.compiled(lambda x: x.detach() * x, mode)
    x = torch.tensor(3.0, requires_grad=True, device=device, dtype=dtype)

    y = check.works("y = f(x)", lambda: f(x))
    y.backward()
    check.tensor("x.grad", x.grad, 3.0, dtype=dtype, device=device)


@claim(
    "COMP-008",
    "Under torch.compile backward(inputs=[a]) fills only a.grad: for the compiled y = a*b*b at a = 3, b = 2, "
    "a.grad is 4 and b.grad stays None.",
    section="torch.compile",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_compiled_backward_inputs(mode, device, dtype, check):
    f = spec.modes.compiled(lambda a, b: a * b * b, mode)
    a = torch.tensor(3.0, requires_grad=True, device=device, dtype=dtype)
    b = torch.tensor(2.0, requires_grad=True, device=device, dtype=dtype)

    y = check.works("y = f(a, b)", lambda: f(a, b))
    y.backward(inputs=[a])
    check.tensor("a.grad", a.grad, 4.0, dtype=dtype, device=device)
    check.none("b.grad", b.grad)


# ---------------------------------------------------------------------------------- what does not


@claim(
    "COMP-009",
    "Under torch.compile the compiled backward is not differentiable: autograd.grad(y, x, create_graph=True) of "
    "the compiled y = x*x*x at 3 gives 27 that requires grad, but differentiating it again raises 'torch.compile "
    "with aot_autograd does not currently support double backward' where eager gives 18.",
    section="torch.compile",
)
@modes("eager", "aot_eager", "inductor")
@dtypes("float64")
def test_compiled_backward_is_not_differentiable(mode, device, dtype, check):
    f = spec.modes.compiled(cube_and_sine, mode)
    x = torch.tensor(3.0, requires_grad=True, device=device, dtype=dtype)

    y, _ = check.works("y, _ = f(x)", lambda: f(x))
    (dy,) = torch.autograd.grad(y, x, create_graph=True)
    check.tensor("dy/dx", dy, 27.0, dtype=dtype, device=device)
    check.flags("dy/dx", dy, requires_grad=True)
    expected = SECOND_DERIVATIVE[mode]
    second = check.call("d2y/dx2", lambda: torch.autograd.grad(dy, x), expected)
    if expected.returns:
        check.tensor("d2y/dx2", second[0], expected.value, dtype=dtype, device=device)


@claim(
    "COMP-010",
    "Under torch.compile u_xx of a compiled MLP cannot be taken with nested autograd.grad: the second grad "
    "raises, since torch 2.14 with 'does not currently support double backward', on 2.8 to 2.13 with the "
    "misleading 'appears to not have been used in the graph', before 2.8 with 'element 0 of tensors does not "
    "require grad'; eager returns u_xx.",
    section="torch.compile",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_compiled_network_has_no_second_input_derivative(mode, device, dtype, check):
    net = mlp(device, dtype)
    truth = eager_uxx(net, mlp_points(device, dtype))
    model = spec.modes.compiled(net, mode)
    x = mlp_points(device, dtype)

    u = check.works("u = model(x)", lambda: model(x))
    (ux,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    check.close("u_x (first order is right)", ux, torch.autograd.grad(net(x).sum(), x)[0], dtype=dtype, device=device)
    expected = Outcome.returned(truth) if mode == "eager" else Outcome.raised(UXX_COMPILED_MESSAGE)
    uxx = check.call("u_xx", lambda: torch.autograd.grad(ux.sum(), x), expected)
    if expected.returns:
        check.close("u_xx", uxx[0], expected.value, dtype=dtype, device=device)


@claim(
    "COMP-011",
    "Under torch.compile Tensor.retain_grad() inside the region is not traced: since torch 2.7 it is a graph "
    "break, so y.grad for y = x*x, z = y*x at x = 3 is 3 as in eager, and with fullgraph=True it raises "
    "Unsupported (before 2.7 it was compiled away and the intermediate's .grad stayed None).",
    section="torch.compile",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_compiled_retain_grad(mode, device, dtype, check):
    def f(x):
        y = x * x
        y.retain_grad()
        return y, y * x

    x = torch.tensor(3.0, requires_grad=True, device=device, dtype=dtype)
    compiles = Outcome.of(RETAIN_GRAD_FULLGRAPH.current()).returns
    if mode != "eager":
        strict = spec.modes.compiled(f, mode, fullgraph=True)
        result = check.call("f(x) with fullgraph=True", lambda: strict(x), RETAIN_GRAD_FULLGRAPH)
        if compiles:
            result[1].backward()
            with tolerating(UserWarning, NON_LEAF_GRAD_START):
                check.none("y.grad (retain_grad compiled away)", result[0].grad)
            x.grad = None
    g = spec.modes.compiled(f, mode)
    if compiles and mode != "eager":
        return  # before torch 2.7 the default compile drops the retain_grad too (recorded above)
    y, z = check.works("y, z = f(x)", lambda: g(x))
    z.backward()
    check.tensor("y.grad", y.grad, 3.0, dtype=dtype, device=device)
    check.tensor("x.grad", x.grad, 27.0, dtype=dtype, device=device)


@claim(
    "COMP-012",
    "Under torch.compile an in-place update of a leaf that requires grad is refused when the function is called "
    "(while tracing), as torch._dynamo.exc.TorchRuntimeError, a RuntimeError that carries eager's 'a leaf "
    "Variable that requires grad is being used in an in-place operation'.",
    section="torch.compile",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_compiled_inplace_on_leaf(mode, device, dtype, check):
    def f(a):
        a.add_(1)
        return a * 2

    g = spec.modes.compiled(f, mode)
    a = torch.tensor(3.0, requires_grad=True, device=device, dtype=dtype)
    with check.raises("f(a) with a.add_(1) inside", RuntimeError, INPLACE_ON_LEAF) as box:
        g(a)
    check.matches("the exception's type", type(box["exception"]).__name__, INPLACE_ERROR_TYPE[mode])
    check.tensor("a is unchanged", a, 3.0, dtype=dtype, device=device)


@claim(
    "COMP-013",
    "Under torch.compile with torch._dynamo.config.trace_autograd_ops = True (since torch 2.11) nested "
    "autograd.grad(create_graph=True) inside the compiled function is traced into one graph (fullgraph=True "
    "compiles) and u_xx of an MLP equals eager's.",
    section="torch.compile",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_trace_autograd_ops_compiles_nested_grad(mode, device, dtype, check):
    net = mlp(device, dtype)

    def u_xx(x):
        (ux,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)
        (uxx,) = torch.autograd.grad(ux.sum(), x, create_graph=True)
        return uxx

    truth = func_uxx(net, device, dtype)
    if mode == "eager":
        uxx = check.works("u_xx by nested autograd.grad", lambda: u_xx(mlp_points(device, dtype)))
        check.close("u_xx (torch.func's as the reference)", uxx, truth, dtype=dtype, device=device)
        return
    check.equal("trace_autograd_ops exists", hasattr(torch._dynamo.config, "trace_autograd_ops"), TRACE_AUTOGRAD_OPS)
    if not TRACE_AUTOGRAD_OPS.current():
        check.absent("torch._dynamo.config.patch(trace_autograd_ops=True)",
                     lambda: torch._dynamo.config.patch(trace_autograd_ops=True).__enter__(),
                     Exception, "trace_autograd_ops", reason="torch._dynamo.config.trace_autograd_ops is absent")
    with torch._dynamo.config.patch(trace_autograd_ops=True):
        f = spec.modes.compiled(u_xx, mode, fullgraph=True)
        uxx = check.works("u_xx compiled with fullgraph=True", lambda: f(mlp_points(device, dtype)))
    check.close("u_xx (torch.func's as the reference)", uxx, truth, dtype=dtype, device=device)


@claim(
    "COMP-014",
    "Under torch.compile with trace_autograd_ops = True (since torch 2.11) a PINN loss whose residual uses u_x "
    "from autograd.grad(create_graph=True) inside the compiled function backpropagates the eager parameter "
    "gradients.",
    section="torch.compile",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_trace_autograd_ops_pinn_loss_gradients(mode, device, dtype, check):
    net = mlp(device, dtype)

    def loss_fn(x):
        u = net(x)
        (ux,) = torch.autograd.grad(u.sum(), x, create_graph=True)
        return ((ux - 1.0) ** 2).mean() + (u**2).mean()

    def parameter_grads(fn):
        net.zero_grad(set_to_none=True)
        fn(mlp_points(device, dtype)).backward()
        return torch.cat([p.grad.flatten() for p in net.parameters()])

    truth = func_pinn_parameter_grads(net, device, dtype)
    if mode == "eager":
        grads = check.works("loss.backward()", lambda: parameter_grads(loss_fn))
        check.close("parameter gradients (torch.func's as the reference)", grads, truth, dtype=dtype, device=device)
        return
    if not TRACE_AUTOGRAD_OPS.current():
        check.absent("torch._dynamo.config.patch(trace_autograd_ops=True)",
                     lambda: torch._dynamo.config.patch(trace_autograd_ops=True).__enter__(),
                     Exception, "trace_autograd_ops", reason="torch._dynamo.config.trace_autograd_ops is absent")
    with torch._dynamo.config.patch(trace_autograd_ops=True):
        f = spec.modes.compiled(loss_fn, mode)
        grads = check.works("loss.backward() through the compiled loss", lambda: parameter_grads(f))
    check.close("parameter gradients (torch.func's as the reference)", grads, truth, dtype=dtype, device=device)


@claim(
    "COMP-015",
    "Under torch.compile a PINN loss written with torch.func (vmap of grad and grad of grad of a functional_call) "
    "compiles with fullgraph=True since torch 2.5 and its value and parameter gradients equal eager's (torch 2.1 "
    "to 2.4 raised Unsupported).",
    section="torch.compile",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_compiled_func_pinn_loss(mode, device, dtype, check):
    net = mlp(device, dtype)
    params = {k: v.detach() for k, v in net.named_parameters()}
    xs = torch.linspace(0.0, 1.0, 5, device=device, dtype=dtype)

    def u(p, x):
        return torch.func.functional_call(net, p, (x.reshape(1, 1),)).squeeze()

    def loss(p, xs):
        ux = torch.func.vmap(torch.func.grad(u, argnums=1), in_dims=(None, 0))(p, xs)
        uxx = torch.func.vmap(torch.func.grad(torch.func.grad(u, argnums=1), argnums=1), in_dims=(None, 0))(p, xs)
        return ((uxx + ux) ** 2).mean()

    # The reference: the same loss by torch.autograd, differentiated to the first layer's weight.
    x = xs.reshape(-1, 1).clone().requires_grad_()
    out = net(x)
    (ux,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    (uxx,) = torch.autograd.grad(ux.sum(), x, create_graph=True)
    truth_value = ((uxx + ux) ** 2).mean()
    (truth_grad,) = torch.autograd.grad(truth_value, net[0].weight)
    truth_value = truth_value.detach()
    if mode == "eager":
        grads, value = check.works("torch.func.grad_and_value(loss)", lambda: torch.func.grad_and_value(loss)(params, xs))
        check.close("loss (torch.autograd's as the reference)", value, truth_value, dtype=dtype, device=device)
        check.close("d loss / d 0.weight (torch.autograd's as the reference)", grads["0.weight"], truth_grad,
                    dtype=dtype, device=device)
        return
    f = spec.modes.compiled(torch.func.grad_and_value(loss), mode, fullgraph=True)
    result = check.call("torch.func.grad_and_value(loss) compiled with fullgraph=True", lambda: f(params, xs),
                        FUNC_FULLGRAPH)
    if Outcome.of(FUNC_FULLGRAPH.current()).raises:
        return
    grads, value = result
    check.close("loss (torch.autograd's as the reference)", value, truth_value, dtype=dtype, device=device)
    check.close("d loss / d 0.weight (torch.autograd's as the reference)", grads["0.weight"], truth_grad,
                dtype=dtype, device=device)


@claim(
    "COMP-016",
    "Under torch.compile autograd.grad with is_grads_batched=True inside the compiled function gives eager's "
    "Jacobian: for y = x**3 at [1, 2, 3] and the identity as batched grad_outputs, diag(3, 12, 27).",
    section="torch.compile",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_compiled_is_grads_batched(mode, device, dtype, check):
    def jacobian(x):
        eye = torch.eye(3, device=x.device, dtype=x.dtype)
        return torch.autograd.grad(x**3, x, eye, is_grads_batched=True)[0]

    f = spec.modes.compiled(jacobian, mode)
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device, dtype=dtype)
    jac = check.works("jacobian(x)", lambda: f(x))
    check.tensor("the Jacobian", jac, [[3.0, 0.0, 0.0], [0.0, 12.0, 0.0], [0.0, 0.0, 27.0]], dtype=dtype,
                 device=device)


# ---------------------------------------------------------------------------------- hazards


@claim(
    "HZ-040",
    "Under torch.compile on torch 2.8 to 2.13, u_xx of a compiled MLP taken with autograd.grad(..., "
    "materialize_grads=True) is zeros without an error or warning, where the truth is eager's u_xx (earlier torch "
    "raises 'does not require grad', torch 2.14 and later 'does not currently support double backward').",
    section="torch.compile",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/181581",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_compiled_uxx_materialized_is_zero(mode, device, dtype, check):
    net = mlp(device, dtype)
    truth = eager_uxx(net, mlp_points(device, dtype))
    model = spec.modes.compiled(net, mode)
    x = mlp_points(device, dtype)

    def u_xx():
        (ux,) = torch.autograd.grad(model(x).sum(), x, create_graph=True)
        return torch.autograd.grad(ux.sum(), x, materialize_grads=True)[0]

    if mode == "eager":
        if not MATERIALIZE_GRADS.current():
            check.absent("autograd.grad(..., materialize_grads=True)", u_xx, TypeError, "materialize_grads",
                         reason="autograd.grad has no materialize_grads before torch 2.1")
        check.close("u_xx with materialize_grads=True", check.works("u_xx", u_xx), truth, dtype=dtype, device=device)
        return
    with check.no_warning("u_xx with materialize_grads=True", UserWarning, "."):
        check.hazard("u_xx with materialize_grads=True", u_xx, wrong=torch.zeros_like(truth), truth=truth,
                     present=SILENT_UXX, fixed_by_error=DOUBLE_BACKWARD + r"|does not require grad")


@claim(
    "HZ-041",
    "Under torch.compile on torch 2.8 to 2.13, u_xx of a compiled MLP taken with autograd.grad(..., "
    "allow_unused=True) is None without an error or warning, where the truth is eager's u_xx (earlier torch raises "
    "'does not require grad', torch 2.14 and later 'does not currently support double backward').",
    section="torch.compile",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/181581",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_compiled_uxx_allow_unused_is_none(mode, device, dtype, check):
    net = mlp(device, dtype)
    truth = eager_uxx(net, mlp_points(device, dtype))
    model = spec.modes.compiled(net, mode)
    x = mlp_points(device, dtype)

    def u_xx():
        (ux,) = torch.autograd.grad(model(x).sum(), x, create_graph=True)
        return torch.autograd.grad(ux.sum(), x, allow_unused=True)[0]

    if mode == "eager":
        check.close("u_xx with allow_unused=True", check.works("u_xx", u_xx), truth, dtype=dtype, device=device)
        return
    with check.no_warning("u_xx with allow_unused=True", UserWarning, "."):
        check.hazard("u_xx with allow_unused=True", u_xx, wrong=None, truth=truth, present=SILENT_UXX_NONE,
                     fixed_by_error=DOUBLE_BACKWARD + r"|does not require grad")


@claim(
    "HZ-042",
    "Under torch.compile before torch 2.14, torch.autograd.functional.hessian called inside the compiled function "
    "returns an all-zero Hessian without an error: for sum(z**3) at [1, 2] it gives [[0, 0], [0, 0]] where the "
    "truth is [[6, 0], [0, 12]] (torch 2.14 and later raise 'does not currently support double backward').",
    section="torch.compile",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/181581",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_hessian_inside_compiled_function(mode, device, dtype, check):
    def hessian(x):
        return torch.autograd.functional.hessian(lambda z: (z**3).sum(), x)

    f = spec.modes.compiled(hessian, mode)
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
    truth = torch.tensor([[6.0, 0.0], [0.0, 12.0]], device=device, dtype=dtype)
    if mode == "eager":
        check.tensor("the Hessian", check.works("hessian(x)", lambda: f(x)), truth, dtype=dtype, device=device)
        return
    # Tracing hessian reads the .grad of a non-leaf (a warning the claim is not about).
    with tolerating(UserWarning, NON_LEAF_GRAD_START):
        check.hazard("the Hessian", lambda: f(x), wrong=torch.zeros_like(truth), truth=truth, present=ZERO_HESSIAN,
                     fixed_by_error=DOUBLE_BACKWARD, exact=True)


@claim(
    "HZ-043",
    "Under torch.compile (aot_eager) on torch 2.7 to 2.13, an in-place x.add_(1) on a 0-dim float64 input is "
    "dropped without an error: x = 3 stays 3 and the function returns 3, where the truth is 4 (a float32 or "
    "1-element input is updated).",
    section="torch.compile",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/195422",
)
@modes("eager", "aot_eager")
@pytest.mark.parametrize("form", ["0-dim", "1-element"])
@dtypes("float32", "float64")
def test_inplace_update_of_a_0dim_input(mode, form, device, dtype, check):
    def f(x):
        x.add_(1)
        return x

    g = spec.modes.compiled(f, mode)
    x = torch.tensor(3.0 if form == "0-dim" else [3.0], device=device, dtype=dtype)

    def run():
        out = g(x)
        return torch.stack([x.reshape(()), out.reshape(())])

    if mode == "eager" or form == "1-element" or dtype == torch.float32:
        check.tensor("[x after f(x), f(x)]", check.works("f(x)", run), [4.0, 4.0], dtype=dtype, device=device)
        return
    check.hazard("[x after f(x), f(x)]", run, wrong=[3.0, 3.0], truth=[4.0, 4.0], present=DROPPED_MUTATION, exact=True)


@claim(
    "HZ-044",
    "Under torch.compile before torch 2.8, u_x returned by a compiled function that calls autograd.grad(..., "
    "create_graph=True) is a constant without a grad_fn, so the PINN loss mean((u_x - 1)**2) + mean(u(x_b)**2) "
    "backpropagates only the boundary term's parameter gradients without an error, where the truth is eager's "
    "gradients of both terms (later torch raises 'does not currently support double backward').",
    section="torch.compile",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/181581",
)
@modes("eager", "aot_eager")
@dtypes("float64")
def test_compiled_input_gradient_is_a_constant(mode, device, dtype, check):
    net = mlp(device, dtype)
    boundary = torch.tensor([[0.0], [1.0]], device=device, dtype=dtype)

    def u_x(x):
        return torch.autograd.grad(net(x).sum(), x, create_graph=True)[0]

    def parameter_grads(ux_fn, with_residual=True):
        net.zero_grad(set_to_none=True)
        x = mlp_points(device, dtype)
        loss = (net(boundary) ** 2).mean()
        if with_residual:
            loss = loss + ((ux_fn(x) - 1.0) ** 2).mean()
        loss.backward()
        return torch.cat([p.grad.flatten() for p in net.parameters()])

    truth = parameter_grads(u_x)
    boundary_only = parameter_grads(u_x, with_residual=False)
    if mode == "eager":
        check.false("the u_x term changes the parameter gradients",
                    bool(torch.allclose(truth, boundary_only, rtol=1e-6, atol=1e-9)))
        ux = check.works("u_x(x)", lambda: u_x(mlp_points(device, dtype)))
        check.flags("u_x", ux, requires_grad=True, grad_fn=True)
        return
    compiled_u_x = spec.modes.compiled(u_x, mode)
    # Tracing autograd.grad reads the .grad of a non-leaf (a warning the claim is not about).
    with tolerating(UserWarning, NON_LEAF_GRAD_START):
        check.hazard("parameter gradients through the compiled u_x", lambda: parameter_grads(compiled_u_x),
                     wrong=boundary_only, truth=truth, present=CONSTANT_INPUT_GRADIENT, fixed_by_error=DOUBLE_BACKWARD)
