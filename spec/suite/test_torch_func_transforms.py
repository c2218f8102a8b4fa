"""Execution modes, "torch.func transforms": where the torch.func spelling of a derivative agrees with
torch.autograd's, and where the two APIs behave differently for the same mathematics.

Tests with the mode axis run once as ``eager`` (the torch.autograd spelling) and once as ``func`` (the torch.func
spelling); where the two differ, the expectation is a per-mode dict beside the test.
"""

import pytest
import torch

from spec import claim, dtypes
from spec.check import Outcome, tolerating
from spec.claims import modes
from spec.suite.support import NO_GRAD_FN, UNUSED, quiet_dynamo

NOT_A_SCALAR = r"Expected f\(\*args\) to return a scalar Tensor, got tensor with 1 dims"
NESTED_FORWARD = r"Nested forward mode AD is not supported at the moment"

#: What each mode does with the same mathematics (the call returns the value, or raises the error).
#: x*x*x at 3: the derivatives of order 1..5.  Nested autograd.grad stops at the 4th: the 3rd derivative, 6, is a
#: constant with no graph; torch.func differentiates the constant to 0.
DERIVATIVES = {"eager": [*map(Outcome.returned, (27.0, 18.0, 6.0)), Outcome.raised(NO_GRAD_FN)],
               "func": [*map(Outcome.returned, (27.0, 18.0, 6.0, 0.0, 0.0))]}
UNUSED_INPUT = {"eager": Outcome.raised(UNUSED), "func": Outcome.returned([2.0, [0.0, 0.0]])}
SHAPE_ONE_OUTPUT = {"eager": Outcome.returned([6.0]), "func": Outcome.raised(NOT_A_SCALAR)}
NESTED_TANGENTS = {"eager": Outcome.raised(NESTED_FORWARD), "func": Outcome.returned([27.0, 18.0])}
INPUT_WITHOUT_REQUIRES_GRAD = {"eager": Outcome.raised(NO_GRAD_FN), "func": Outcome.returned(27.0)}


@pytest.fixture(autouse=True)
def _quiet_lazy_import():
    """torch.func's first transform in a process may warn about torch.jit.script (no claim here is about it)."""
    with quiet_dynamo():
        yield


def cube(x):
    return x * x * x


@claim(
    "TFUNC-001",
    "torch.func.grad differentiates to any order: nested five times on x*x*x at 3 it gives 27, 18, 6, 0, 0, where "
    "nested torch.autograd.grad(create_graph=True) gives 27, 18, 6 and raises 'element 0 of tensors does not "
    "require grad' at the 4th derivative.",
    section="torch.func transforms",
)
@modes("eager", "func")
def test_derivatives_of_any_order(mode, device, dtype, check):
    expected = DERIVATIVES[mode]
    if mode == "func":
        g, x = cube, torch.tensor(3.0, device=device, dtype=dtype)
        for k, want in enumerate(expected, start=1):
            g = torch.func.grad(g)
            check.tensor(f"derivative {k}", g(x), want.value, dtype=dtype, device=device, shape=())
        return
    x = torch.tensor(3.0, requires_grad=True, device=device, dtype=dtype)
    y = cube(x)
    for k, want in enumerate(expected[:-1], start=1):
        (y,) = torch.autograd.grad(y, x, create_graph=True)
        check.tensor(f"derivative {k}", y, want.value, dtype=dtype, device=device, shape=())
    with check.raises(f"derivative {len(expected)}", RuntimeError, expected[-1].matches):
        torch.autograd.grad(y, x, create_graph=True)


@claim(
    "TFUNC-002",
    "torch.func.grad gives zeros for an input the output does not depend on: torch.func.grad(lambda a, b: a * 2, "
    "argnums=(0, 1)) at a = 3, b = [1, 2] is (2, [0, 0]), where torch.autograd.grad raises 'appears to not have "
    "been used in the graph'.",
    section="torch.func transforms",
)
@modes("eager", "func")
def test_unused_input(mode, device, dtype, check):
    a = torch.tensor(3.0, requires_grad=(mode == "eager"), device=device, dtype=dtype)
    b = torch.tensor([1.0, 2.0], requires_grad=(mode == "eager"), device=device, dtype=dtype)
    expected = UNUSED_INPUT[mode]
    if expected.raises:
        with check.raises("torch.autograd.grad(a * 2, [a, b])", RuntimeError, expected.matches):
            torch.autograd.grad(a * 2, [a, b])
        return
    ga, gb = check.works("torch.func.grad(..., argnums=(0, 1))(a, b)",
                         lambda: torch.func.grad(lambda a, b: a * 2, argnums=(0, 1))(a, b))
    check.tensor("d/da", ga, expected.value[0], dtype=dtype, device=device, shape=())
    check.tensor("d/db", gb, expected.value[1], dtype=dtype, device=device, shape=(2,))


@claim(
    "TFUNC-003",
    "torch.func.grad demands a 0-dim output: for x = [3.] and x*x it raises 'Expected f(*args) to return a scalar "
    "Tensor, got tensor with 1 dims', where torch.autograd.grad accepts the one-element output and returns [6.].",
    section="torch.func transforms",
)
@modes("eager", "func")
def test_one_element_output(mode, device, dtype, check):
    x = torch.tensor([3.0], requires_grad=(mode == "eager"), device=device, dtype=dtype)
    expected = SHAPE_ONE_OUTPUT[mode]
    if expected.returns:
        (g,) = torch.autograd.grad(x * x, x)
        check.tensor("torch.autograd.grad(x * x, x)", g, expected.value, dtype=dtype, device=device, shape=(1,))
        return
    with check.raises("torch.func.grad(lambda x: x * x)(x)", RuntimeError, expected.matches):
        torch.func.grad(lambda x: x * x)(x)
    g = check.works("torch.func.grad(lambda x: (x * x).sum())(x)", lambda: torch.func.grad(lambda x: (x * x).sum())(x))
    check.tensor("... with .sum()", g, [6.0], dtype=dtype, device=device, shape=(1,))


@claim(
    "TFUNC-004",
    "torch.func.jvp nests: jvp of jvp of x*x*x at 3 with unit tangents gives the tangent 27 and the second-order "
    "tangent 18, where a nested torch.autograd.forward_ad.dual_level() raises 'Nested forward mode AD is not "
    "supported at the moment'.",
    section="torch.func transforms",
)
@modes("eager", "func")
def test_nested_forward_mode(mode, device, dtype, check):
    x = torch.tensor(3.0, device=device, dtype=dtype)
    one = torch.tensor(1.0, device=device, dtype=dtype)
    expected = NESTED_TANGENTS[mode]
    if expected.raises:
        fwAD = torch.autograd.forward_ad
        with check.raises("a dual_level inside a dual_level", RuntimeError, expected.matches):
            with fwAD.dual_level():
                with fwAD.dual_level():
                    pass
        return

    def tangent(t):
        return torch.func.jvp(cube, (t,), (one,))[1]

    first, second = check.works("torch.func.jvp(tangent, (x,), (1,))", lambda: torch.func.jvp(tangent, (x,), (one,)))
    check.tensor("first-order tangent", first, expected.value[0], dtype=dtype, device=device)
    check.tensor("second-order tangent", second, expected.value[1], dtype=dtype, device=device)


@claim(
    "TFUNC-005",
    "torch.func.vmap(torch.func.grad(torch.func.grad(u))) gives the same PINN residual u_xx + u at every point as "
    "a torch.autograd loop over the points, and so does the batched torch.autograd.grad of the sum.",
    section="torch.func transforms",
)
@modes("eager", "func")
@dtypes("float64")
def test_vmap_grad_residual_equals_autograd_loop(mode, device, dtype, check):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).to(device, dtype)
    xs = torch.linspace(-1.0, 1.0, 7, device=device, dtype=dtype)

    def u(x):
        return net(x.reshape(1, 1)).squeeze()

    loop = []
    for x0 in xs:
        x = x0.clone().requires_grad_()
        (ux,) = torch.autograd.grad(u(x), x, create_graph=True)
        (uxx,) = torch.autograd.grad(ux, x)
        loop.append(uxx + u(x).detach())
    truth = torch.stack(loop)

    if mode == "func":
        residual = check.works("vmap(grad(grad(u)))(xs) + vmap(u)(xs)",
                               lambda: torch.func.vmap(torch.func.grad(torch.func.grad(u)))(xs) + torch.func.vmap(u)(xs))
    else:
        x = xs.reshape(-1, 1).clone().requires_grad_()
        out = net(x)
        (ux,) = torch.autograd.grad(out.sum(), x, create_graph=True)
        (uxx,) = torch.autograd.grad(ux.sum(), x)
        residual = (uxx + out.detach()).flatten()
    check.close("u_xx + u at 7 points", residual, truth, dtype=dtype, device=device, shape=(7,))


@claim(
    "TFUNC-006",
    "torch.func.jacrev(torch.func.grad(f)), torch.func.jacfwd(torch.func.grad(f)) and torch.func.hessian(f) agree "
    "with torch.autograd.functional.hessian: for f = sum(x**3) at [1, 2] each is [[6, 0], [0, 12]].",
    section="torch.func transforms",
)
@modes("eager", "func")
def test_hessian_spellings_agree(mode, device, dtype, check):
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
    want = [[6.0, 0.0], [0.0, 12.0]]

    def f(x):
        return (x**3).sum()

    if mode == "eager":
        h = check.works("torch.autograd.functional.hessian(f, x)", lambda: torch.autograd.functional.hessian(f, x))
        check.tensor("torch.autograd.functional.hessian", h, want, dtype=dtype, device=device, shape=(2, 2))
        j = torch.autograd.functional.jacobian(lambda t: torch.autograd.grad(f(t), t, create_graph=True)[0], x)
        check.tensor("torch.autograd.functional.jacobian of the gradient", j, want, dtype=dtype, device=device)
        return
    spellings = {
        "jacrev(grad(f))": lambda: torch.func.jacrev(torch.func.grad(f))(x),
        "jacfwd(grad(f))": lambda: torch.func.jacfwd(torch.func.grad(f))(x),
        "hessian(f)": lambda: torch.func.hessian(f)(x),
        "jacfwd(jacrev(f))": lambda: torch.func.jacfwd(torch.func.jacrev(f))(x),
    }
    for name, call in spellings.items():
        check.tensor(name, check.works(name, call), want, dtype=dtype, device=device, shape=(2, 2))


@claim(
    "TFUNC-007",
    "torch.func.grad(f, has_aux=True) returns (gradient, aux) and does not differentiate the auxiliary output: for "
    "f(x) = (x*x*x, x*x) at 3 it is (27, 9).",
    section="torch.func transforms",
)
@modes("func")
def test_grad_has_aux(mode, device, dtype, check):
    x = torch.tensor(3.0, device=device, dtype=dtype)
    g, aux = check.works("torch.func.grad(f, has_aux=True)(x)",
                         lambda: torch.func.grad(lambda x: (x * x * x, x * x), has_aux=True)(x))
    check.tensor("the gradient", g, 27.0, dtype=dtype, device=device, shape=())
    check.tensor("aux (not differentiated)", aux, 9.0, dtype=dtype, device=device, shape=())
    check.false("aux requires grad", aux.requires_grad)


@claim(
    "TFUNC-008",
    "torch.func.grad's argnums picks the inputs to differentiate: for f(a, b) = a*b*b at a = 3, b = 2, argnums=0 "
    "gives 4, argnums=1 gives 12 and argnums=(0, 1) gives (4, 12), as torch.autograd.grad(y, (a, b)) does.",
    section="torch.func transforms",
)
@modes("eager", "func")
def test_grad_argnums(mode, device, dtype, check):
    def f(a, b):
        return a * b * b

    a = torch.tensor(3.0, requires_grad=(mode == "eager"), device=device, dtype=dtype)
    b = torch.tensor(2.0, requires_grad=(mode == "eager"), device=device, dtype=dtype)
    if mode == "eager":
        ga, gb = torch.autograd.grad(f(a, b), (a, b))
        check.tensor("torch.autograd.grad(y, (a, b))[0]", ga, 4.0, dtype=dtype, device=device)
        check.tensor("torch.autograd.grad(y, (a, b))[1]", gb, 12.0, dtype=dtype, device=device)
        return
    check.tensor("argnums=0", torch.func.grad(f, argnums=0)(a, b), 4.0, dtype=dtype, device=device)
    check.tensor("argnums=1", torch.func.grad(f, argnums=1)(a, b), 12.0, dtype=dtype, device=device)
    ga, gb = torch.func.grad(f, argnums=(0, 1))(a, b)
    check.tensor("argnums=(0, 1)[0]", ga, 4.0, dtype=dtype, device=device)
    check.tensor("argnums=(0, 1)[1]", gb, 12.0, dtype=dtype, device=device)


@claim(
    "TFUNC-009",
    "torch.func.grad needs no requires_grad and fills no .grad: torch.func.grad(f)(x) for f = x*x*x at a plain "
    "x = 3 is 27 and x.grad stays None, where torch.autograd.grad on such an x raises 'element 0 of tensors does "
    "not require grad'.",
    section="torch.func transforms",
)
@modes("eager", "func")
def test_grad_without_requires_grad(mode, device, dtype, check):
    x = torch.tensor(3.0, device=device, dtype=dtype)
    expected = INPUT_WITHOUT_REQUIRES_GRAD[mode]
    if expected.raises:
        with check.raises("torch.autograd.grad(x*x*x, x)", RuntimeError, expected.matches):
            torch.autograd.grad(cube(x), x)
        return
    g = check.works("torch.func.grad(f)(x)", lambda: torch.func.grad(cube)(x))
    check.tensor("torch.func.grad(f)(x)", g, expected.value, dtype=dtype, device=device, shape=())
    check.none("x.grad", x.grad)
    check.false("x.requires_grad", x.requires_grad)


#: linearize traces f with make_fx and constant-folds it; the folding warns about a get_attr node (not a claim here).
LINEARIZE_CONST_FOLD = "Attempted to insert a get_attr Node"


@claim(
    "TFUNC-010",
    "The torch.func AD functions return what their documentation says: for sin at [0.5, 1], vjp returns (sin(x), "
    "vjp_fn) with vjp_fn(v) the tuple (v cos(x),), linearize returns (sin(x), jvp_fn) with jvp_fn(v) = v cos(x), and "
    "jacrev and jacfwd the Jacobian diag(cos(x)); for f = sum(x**3) at [1, 2], grad_and_value returns (gradient, "
    "value) = ([3, 12], 9).",
    section="torch.func transforms",
    ref="https://pytorch.org/docs/stable/func.api.html",
)
def test_func_ad_return_values(device, dtype, check):
    x = torch.tensor([0.5, 1.0], device=device, dtype=dtype)
    v = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
    out, vjp_fn = torch.func.vjp(torch.sin, x)
    check.close("vjp(sin, x)[0]", out, torch.sin(x), dtype=dtype, device=device)
    cotangents = vjp_fn(v)
    check.equal("type of vjp_fn(v)", type(cotangents).__name__, "tuple")
    check.close("vjp_fn(v)[0]", cotangents[0], v * torch.cos(x), dtype=dtype, device=device)
    with tolerating(UserWarning, LINEARIZE_CONST_FOLD):
        out, jvp_fn = torch.func.linearize(torch.sin, x)
    check.close("linearize(sin, x)[0]", out, torch.sin(x), dtype=dtype, device=device)
    check.close("linearize's jvp_fn(v)", jvp_fn(v), v * torch.cos(x), dtype=dtype, device=device)
    check.close("jacrev(sin)(x)", torch.func.jacrev(torch.sin)(x), torch.diag(torch.cos(x)), dtype=dtype, device=device)
    check.close("jacfwd(sin)(x)", torch.func.jacfwd(torch.sin)(x), torch.diag(torch.cos(x)), dtype=dtype, device=device)
    g, value = torch.func.grad_and_value(lambda t: (t**3).sum())(torch.tensor([1.0, 2.0], device=device, dtype=dtype))
    check.tensor("grad_and_value(sum(x**3))[0]", g, [3.0, 12.0], dtype=dtype, device=device)
    check.tensor("grad_and_value(sum(x**3))[1]", value, 9.0, dtype=dtype, device=device)


@claim(
    "TFUNC-011",
    "torch.func.stack_module_state stacks M modules' parameters into new leaves that require grad, unrelated to the "
    "originals: for 3 Linear(2, 1), weight has shape (3, 1, 2); vmap of functional_call over them gives each model's "
    "own output, and backward fills the stacked leaves' .grad with each model's gradient while the models' own "
    "parameters keep .grad None.",
    section="torch.func transforms",
    ref="https://pytorch.org/docs/stable/generated/torch.func.stack_module_state.html",
)
def test_stack_module_state(device, dtype, check):
    torch.manual_seed(0)
    models = [torch.nn.Linear(2, 1).to(device=device, dtype=dtype) for _ in range(3)]
    params, buffers = torch.func.stack_module_state(models)
    check.equal("stacked weight shape", tuple(params["weight"].shape), (3, 1, 2))
    for name, p in params.items():
        check.flags(f"stacked {name}", p, requires_grad=True, is_leaf=True, grad_fn=None)
    data = torch.tensor([[1.0, 2.0], [3.0, -1.0]], device=device, dtype=dtype)

    def one(p, b, x):
        return torch.func.functional_call(models[0], (p, b), (x,))

    out = torch.func.vmap(one, in_dims=(0, 0, None))(params, buffers, data)
    expected = torch.stack([m(data) for m in models]).detach()
    check.close("vmap(functional_call) over the stacked state", out, expected, dtype=dtype, device=device)
    out.sum().backward()
    check.tensor("stacked bias .grad", params["bias"].grad, [[2.0], [2.0], [2.0]], dtype=dtype, device=device)
    check.tensor("stacked weight .grad", params["weight"].grad, [[[4.0, 1.0]]] * 3, dtype=dtype, device=device)
    for i, m in enumerate(models):
        check.none(f"models[{i}].weight.grad", m.weight.grad)


@claim(
    "TFUNC-012",
    "torch.func.replace_all_batch_norm_modules_(net) sets every BatchNorm's running_mean and running_var to None and "
    "track_running_stats to False, after which vmap over a BatchNorm1d in train mode works and normalizes each "
    "vmapped sample with its own batch statistics (vmap refused it before, EW-007).",
    section="torch.func transforms",
    ref="https://pytorch.org/docs/stable/generated/torch.func.replace_all_batch_norm_modules_.html",
)
def test_replace_all_batch_norm_modules(device, dtype, check):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)).to(device=device, dtype=dtype)
    check.works("replace_all_batch_norm_modules_(net)", lambda: torch.func.replace_all_batch_norm_modules_(net))
    bn = net[1]
    check.none("running_mean after replace_all_batch_norm_modules_", bn.running_mean)
    check.none("running_var after replace_all_batch_norm_modules_", bn.running_var)
    check.false("track_running_stats after replace_all_batch_norm_modules_", bn.track_running_stats)
    x = torch.randn(3, 4, 2, device=device, dtype=dtype)
    out = check.works("vmap(net) in train mode", lambda: torch.func.vmap(net)(x))
    with torch.no_grad():
        expected = torch.stack([net(xi) for xi in x])
    check.close("vmap(net)(x)", out, expected, dtype=dtype, device=device)


VMAP_OUT = r"Batching rule not implemented for aten::sin\.out; the fallback path doesn't work on out= or view ops"


@claim(
    "TFUNC-013",
    "torch.func.vmap refuses out= operations: vmap of torch.sin(x, out=buffer) raises RuntimeError 'Batching rule "
    "not implemented for aten::sin.out; the fallback path doesn't work on out= or view ops', whether the buffer is "
    "a per-sample tensor made inside or a batched one passed in.",
    section="torch.func transforms",
)
def test_vmap_refuses_out(device, dtype, check):
    xs = torch.ones(3, 2, device=device, dtype=dtype)
    with check.raises("vmap(lambda x: torch.sin(x, out=torch.empty(2)))", RuntimeError, VMAP_OUT):
        torch.func.vmap(lambda x: torch.sin(x, out=torch.empty(2, device=device, dtype=dtype)))(xs)
    with check.raises("vmap(lambda x, o: torch.sin(x, out=o)) over a batched o", RuntimeError, VMAP_OUT):
        torch.func.vmap(lambda x, o: torch.sin(x, out=o))(xs, torch.empty(3, 2, device=device, dtype=dtype))


@claim(
    "TFUNC-014",
    "torch.func.vmap runs the function once for the whole batch, not once per sample: a Python side effect in it "
    "(appending to a list) happens once for a batch of 5, with one sample's shape, while the result holds all 5 "
    "samples.",
    section="torch.func transforms",
)
def test_vmap_runs_the_function_once(device, dtype, check):
    calls = []

    def f(x):
        calls.append(x.shape)
        return x * 2

    out = torch.func.vmap(f)(torch.ones(5, 2, device=device, dtype=dtype))
    check.equal("calls of f under vmap over 5 samples", len(calls), 1)
    check.equal("shape f saw (one sample's)", tuple(calls[0]), (2,))
    check.tensor("vmap(f)(ones(5, 2))", out, [[2.0, 2.0]] * 5, dtype=dtype, device=device)
