"""Chapter 4, "Module hooks": nn.Module full backward hooks and pre-hooks, the deprecated non-full backward hook,
forward hooks whose replacement output is differentiated, and the global module hooks."""

import pytest
import torch

import spec.check
from spec import by_version, claim, dtypes

#: The deprecated non-full hook on a module whose forward records several autograd Nodes.
NON_FULL_MULTI_NODE = r"Using a non-full backward hook when the forward contains multiple autograd Nodes is deprecated"
#: The warning of a full backward hook whose module has no input that requires grad.
NO_INPUT_REQUIRES_GRAD = r"Full backward hook is firing when gradients are computed with respect to module outputs"
WARNS_WITHOUT_INPUT_GRAD = by_version(
    "MHOOK-006/a full backward hook warns when no input requires grad",
    {"<2.8": False, ">=2.8": True},
    ref="https://github.com/pytorch/pytorch/pull/155339",
    note="merged in June 2025, first released in 2.8 (absent in 2.0.1, present in 2.8.0; 2.1-2.7 not checked here)",
)
#: register_full_backward_pre_hook arrived in torch 2.0 (https://github.com/pytorch/pytorch/pull/86700): every
#: recorded release has it.
#: The deprecation warning of a non-full backward hook became a FutureWarning (a UserWarning before).
NON_FULL_CATEGORY = by_version(
    "MHOOK-005/category of the non-full backward hook warning",
    {"<2.4": "UserWarning", ">=2.4": "FutureWarning"},
    ref="https://github.com/pytorch/pytorch/pull/127689",
    note="deprecation warnings got category=FutureWarning in June 2024; UserWarning seen on 2.0.1, FutureWarning on "
    "2.8.0 and 2.13.0; the release in between is the matrix's to confirm",
)


class Cube(torch.nn.Module):
    def forward(self, x):
        return x**3


class ExpPlusTwo(torch.nn.Module):
    """A module whose forward records three autograd Nodes: mul, exp, add."""

    def forward(self, x):
        return (x * 3).exp() + 2


def _x(device, dtype, value=1.0):
    return torch.tensor(value, requires_grad=True, device=device, dtype=dtype)


@claim(
    "MHOOK-001",
    "A full backward hook receives grad_input (the gradients with respect to the module's inputs) and grad_output "
    "(with respect to its outputs): for m(x) = x**3 at 1, grad_output (1,) and grad_input (3,); a returned tuple "
    "replaces grad_input, so (g*10,) gives 30, through backward() and autograd.grad.",
    section="Module hooks",
)
@pytest.mark.parametrize("way", ["backward", "autograd.grad"])
def test_full_backward_hook_sees_and_replaces(device, dtype, way, check):
    m = Cube()
    seen = []

    def hook(module, grad_input, grad_output):
        seen.append((module, grad_input, grad_output))
        return (grad_input[0] * 10,)

    handle = m.register_full_backward_hook(hook)
    x = _x(device, dtype)

    def grad():
        if way == "backward":
            x.grad = None
            m(x).backward()
            return x.grad
        return torch.autograd.grad(m(x), x)[0]

    check.tensor("gradient with the hook", grad(), 30.0, dtype=dtype, device=device)
    check.equal("calls", len(seen), 1)
    module, grad_input, grad_output = seen[0]
    check.true("the hook gets the module", module is m)
    check.tensor("grad_output[0]", grad_output[0], 1.0, dtype=dtype, device=device)
    check.tensor("grad_input[0]", grad_input[0], 3.0, dtype=dtype, device=device)
    handle.remove()
    check.tensor("gradient after handle.remove()", grad(), 3.0, dtype=dtype, device=device)
    check.equal("calls after handle.remove()", len(seen), 1)


@claim(
    "MHOOK-002",
    "A full backward pre-hook runs before the module's backward with grad_output alone, and a tuple it returns "
    "replaces grad_output: with a (g*10,) pre-hook on m(x) = x**3 at 1 the full backward hook then sees "
    "grad_output 10 and grad_input 30, and x's gradient is 30.",
    section="Module hooks",
)
@pytest.mark.parametrize("way", ["backward", "autograd.grad"])
def test_full_backward_pre_hook_replaces_grad_output(device, dtype, way, check):
    m = Cube()
    order = []
    m.register_full_backward_hook(lambda mod, gi, go: order.append(("hook", go[0].item(), gi[0].item())))
    m.register_full_backward_pre_hook(lambda mod, go: order.append(("pre-hook", go[0].item())) or (go[0] * 10,))
    x = _x(device, dtype)
    if way == "backward":
        m(x).backward()
        g = x.grad
    else:
        (g,) = torch.autograd.grad(m(x), x)
    check.tensor("x's gradient", g, 30.0, dtype=dtype, device=device)
    check.equal("calls, in order", order, [("pre-hook", 1.0), ("hook", 10.0, 30.0)])


@claim(
    "MHOOK-003",
    "With create_graph=True a full backward hook fires once, at the first order only, and the gradient it returns is "
    "differentiable: with a (g*10,) hook on m(x) = x**3 at 1, u_x = 30 and u_xx = 60 (the derivative of the hooked "
    "30x^2), with no error since the 1.13 regression was fixed, through autograd.grad and backward().",
    section="Module hooks",
)
@pytest.mark.parametrize("way", ["autograd.grad", "backward"])
@dtypes("float64")
def test_full_backward_hook_with_create_graph(device, dtype, way, check):
    m = Cube()
    calls = []
    m.register_full_backward_hook(lambda mod, gi, go: calls.append(torch.is_grad_enabled()) or (gi[0] * 10,))
    x = _x(device, dtype)
    if way == "autograd.grad":
        (u_x,) = torch.autograd.grad(m(x), x, create_graph=True)
        check.tensor("u_x", u_x, 30.0, dtype=dtype, device=device)
        (u_xx,) = check.works("u_xx = grad(u_x, x)", lambda: torch.autograd.grad(u_x, x))
    else:
        with spec.check.tolerating(UserWarning, "create_graph=True will create a reference cycle"):
            m(x).backward(create_graph=True)
        u_x = x.grad
        x.grad = None
        check.tensor("u_x (x.grad)", u_x, 30.0, dtype=dtype, device=device)
        check.works("u_x.backward()", lambda: u_x.backward())
        u_xx = x.grad
    check.tensor("u_xx", u_xx, 60.0, dtype=dtype, device=device)
    check.equal("hook calls (grad mode inside each)", calls, [True])


@claim(
    "MHOOK-004",
    "A full backward hook that returns None leaves every order unchanged: the u_x and u_xx of a tanh PINN network "
    "with such a hook on the network and on its Tanh layer equal, bit for bit, those of the same network without "
    "hooks.",
    section="Module hooks",
)
@dtypes("float64")
def test_observing_hook_leaves_u_xx_unchanged(device, dtype, check):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).to(device, dtype)
    xs = torch.linspace(0, 1, 5, device=device, dtype=dtype).unsqueeze(1)

    def derivatives():
        x = xs.clone().requires_grad_()
        (u_x,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)
        (u_xx,) = torch.autograd.grad(u_x.sum(), x)
        return u_x.detach(), u_xx

    ref_x, ref_xx = derivatives()
    calls = []
    net.register_full_backward_hook(lambda mod, gi, go: calls.append("net"))
    net[1].register_full_backward_hook(lambda mod, gi, go: calls.append("tanh"))
    u_x, u_xx = check.works("u_x and u_xx with observing hooks", derivatives)
    check.tensor("u_x with the hooks", u_x, ref_x, dtype=dtype, device=device)
    check.tensor("u_xx with the hooks", u_xx, ref_xx, dtype=dtype, device=device)
    check.equal("hook calls (inner module first)", calls, ["tanh", "net"])


@claim(
    "MHOOK-005",
    "Hazard: the deprecated register_backward_hook on a module whose forward is (3x).exp() + 2 reports as grad_input "
    "the gradient of the last operation's input, [1, 1] at x = [0, 1], where the gradient with respect to the "
    "module's input is [3, 3e^3] = [3, 60.26]; it only warns that the hook 'will be missing some grad_input'.",
    section="Module hooks",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/7040",
)
@dtypes("float64")
def test_non_full_hook_reports_the_last_node(device, dtype, check):
    m = ExpPlusTwo()
    seen = []
    with check.warns("register_backward_hook on a multi-node module", Warning, NON_FULL_MULTI_NODE) as caught:
        m.register_backward_hook(lambda mod, gi, go: seen.append(gi[0]))
        x = torch.tensor([0.0, 1.0], requires_grad=True, device=device, dtype=dtype)
        m(x).sum().backward()
    check.equal("the warning's category (recorded by release)", [w.category.__name__ for w in caught
                if "non-full backward hook" in str(w.message)], [NON_FULL_CATEGORY.current()])
    truth = (3 * torch.exp(3 * x.detach())).tolist()
    check.tensor("x.grad (autograd itself is right)", x.grad, truth, exact=False, dtype=dtype, device=device)
    check.equal("hook calls", len(seen), 1)
    check.hazard("grad_input[0] seen by the non-full hook", seen[0], wrong=[1.0, 1.0], truth=truth)


@claim(
    "MHOOK-006",
    "When no input of the module requires grad, a full backward hook still fires (when the gradient with respect to "
    "the outputs is computed) with grad_input (None,), and the parameters' gradients are filled; torch 2.8+ warns "
    "'Full backward hook is firing when gradients are computed with respect to module outputs'.",
    section="Module hooks",
)
@dtypes("float64")
def test_full_backward_hook_without_input_grad(device, dtype, warn_always, check):
    lin = torch.nn.Linear(2, 1).to(device, dtype)
    seen = []
    lin.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go)))
    x = torch.ones(1, 2, device=device, dtype=dtype)
    if WARNS_WITHOUT_INPUT_GRAD.for_version(torch.__version__):
        with check.warns("backward through the hooked module", UserWarning, NO_INPUT_REQUIRES_GRAD):
            lin(x).sum().backward()
    else:
        with check.no_warning("backward through the hooked module", UserWarning, NO_INPUT_REQUIRES_GRAD):
            lin(x).sum().backward()
    check.equal("warns (recorded by release)", WARNS_WITHOUT_INPUT_GRAD.for_version(torch.__version__),
                WARNS_WITHOUT_INPUT_GRAD)
    check.equal("hook calls", len(seen), 1)
    check.equal("grad_input", seen[0][0], (None,))
    check.tensor("grad_output[0]", seen[0][1][0], [[1.0]], dtype=dtype, device=device)
    check.tensor("weight.grad", lin.weight.grad, [[1.0, 1.0]], dtype=dtype, device=device)


@claim(
    "MHOOK-007",
    "A forward hook's or forward pre-hook's return value replaces the module's output or input, and the replacement "
    "is what gets differentiated: for m(x) = x**3 at 1, a forward hook returning out*2 gives d/dx = 6 and a forward "
    "pre-hook returning (2x,) gives d/dx = 24.",
    section="Module hooks",
)
@pytest.mark.parametrize("hook_kind", ["forward hook", "forward pre-hook"])
def test_forward_hooks_replace_what_is_differentiated(device, dtype, hook_kind, check):
    m = Cube()
    if hook_kind == "forward hook":
        m.register_forward_hook(lambda mod, inputs, out: out * 2)
        value, grad = 2.0, 6.0
    else:
        m.register_forward_pre_hook(lambda mod, inputs: (inputs[0] * 2,))
        value, grad = 8.0, 24.0
    x = _x(device, dtype)
    y = m(x)
    check.tensor("m(1)", y, value, dtype=dtype, device=device)
    check.tensor("d/dx m(x) at 1", torch.autograd.grad(y, x)[0], grad, dtype=dtype, device=device)


@claim(
    "MHOOK-008",
    "torch.nn.modules.module.register_module_full_backward_hook registers a full backward hook on every module: for "
    "Sequential(Linear, Tanh) it fires for Tanh, Linear, then Sequential (the reverse of the forward order), and no "
    "longer after handle.remove().",
    section="Module hooks",
)
@dtypes("float64")
def test_global_full_backward_hook(device, dtype, check):
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh()).to(device, dtype)
    seen = []
    handle = torch.nn.modules.module.register_module_full_backward_hook(
        lambda mod, gi, go: seen.append(type(mod).__name__))
    try:
        x = torch.ones(1, 2, requires_grad=True, device=device, dtype=dtype)
        net(x).sum().backward()
    finally:
        handle.remove()
    check.equal("modules whose hook fired, in order", seen, ["Tanh", "Linear", "Sequential"])
    net(x).sum().backward()
    check.equal("after handle.remove()", seen, ["Tanh", "Linear", "Sequential"])
