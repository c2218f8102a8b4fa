"""Chapter 3, "Hooks": tensor hooks, Node hooks, their order, post-accumulate-grad hooks and multi-grad hooks."""

import pytest
import torch

import spec.check
from spec import by_version, claim

NO_REQUIRES_GRAD = r"cannot register a hook on a tensor that doesn't require gradient"
NON_LEAF_POST_ACC = r"post accumulate grad hooks cannot be registered on non-leaf tensors"
#: Tensor.register_post_accumulate_grad_hook arrived in torch 2.1.
HAS_POST_ACCUMULATE = by_version(
    "HOOK-005/Tensor.register_post_accumulate_grad_hook exists",
    {"<2.1": False, ">=2.1": True},
    ref="https://github.com/pytorch/pytorch/pull/107063",
    note="merged in August 2023, first released in 2.1 (2.1 not checked here)",
)
#: register_multi_grad_hook(..., mode=) (with mode "any") arrived in torch 2.3.
HAS_MULTI_GRAD_MODE = by_version(
    "HOOK-007/register_multi_grad_hook accepts mode=",
    {"<2.3": False, ">=2.3": True},
    ref="https://github.com/pytorch/pytorch/pull/117984",
    note="merged in January 2024, after the 2.2 branch cut; 2.1-2.3 not checked here (unconfirmed)",
)


@claim(
    "HOOK-001",
    "A hook registered with register_hook that returns g * 10 replaces the gradient ([20, 40] for (x*x).sum() at "
    "[1, 2], through backward() and autograd.grad), and handle.remove() removes it.",
    section="Hooks",
)
@pytest.mark.parametrize("way", ["backward", "autograd.grad"])
def test_register_hook_changes_the_gradient(device, dtype, way, check):
    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    handle = x.register_hook(lambda g: g * 10)

    def grad():
        if way == "backward":
            x.grad = None
            (x * x).sum().backward()
            return x.grad
        return torch.autograd.grad((x * x).sum(), x)[0]

    check.tensor("gradient with the hook", grad(), [20.0, 40.0], dtype=dtype, device=device)
    handle.remove()
    check.tensor("gradient after handle.remove()", grad(), [2.0, 4.0], dtype=dtype, device=device)


@claim(
    "HOOK-002",
    "register_hook on a tensor that does not require grad raises 'cannot register a hook on a tensor that doesn't "
    "require gradient'.",
    section="Hooks",
)
def test_hook_needs_requires_grad(device, dtype, check):
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
    with check.raises("x.register_hook(...)", RuntimeError, NO_REQUIRES_GRAD):
        x.register_hook(lambda g: g)
    d = (torch.tensor([1.0], requires_grad=True, device=device, dtype=dtype) * 2).detach()
    with check.raises("a detached tensor's register_hook(...)", RuntimeError, NO_REQUIRES_GRAD):
        d.register_hook(lambda g: g)


@claim(
    "HOOK-003",
    "Tensor hooks fire for the tensors passed as inputs of autograd.grad, but the hooks of the grad_fn Node of such "
    "an input fire only under backward(inputs=[y]), not under autograd.grad.",
    section="Hooks",
)
def test_which_hooks_fire_for_inputs(device, dtype, check):
    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    y = x * 2
    z = (y * y).sum()
    fired = []
    y.register_hook(lambda g: fired.append("tensor hook") or g * 10)
    y.grad_fn.register_prehook(lambda grad_outputs: fired.append("Node pre-hook"))
    y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: fired.append("Node post-hook"))

    (gy,) = torch.autograd.grad(z, y, retain_graph=True)
    check.tensor("autograd.grad(z, y), hook applied", gy, [40.0, 80.0], dtype=dtype, device=device)
    check.equal("hooks fired under autograd.grad(z, y)", fired, ["tensor hook"])
    fired.clear()
    check.works("z.backward(inputs=[y])", lambda: z.backward(inputs=[y], retain_graph=True))
    check.equal("hooks fired under backward(inputs=[y])", fired, ["tensor hook", "Node pre-hook", "Node post-hook"])
    fired.clear()
    (gx,) = torch.autograd.grad(z, x)
    check.equal("hooks fired under autograd.grad(z, x)", fired, ["tensor hook", "Node pre-hook", "Node post-hook"])
    check.tensor("autograd.grad(z, x)", gx, [80.0, 160.0], dtype=dtype, device=device)


@claim(
    "HOOK-004",
    "Tensor hooks run before retain_grad() fills .grad, whatever the registration order: for y = x*2 with a g * 100 "
    "hook, y.grad is [100, 100] and x.grad [200, 200].",
    section="Hooks",
)
@pytest.mark.parametrize("order", ["retain_grad first", "hook first"])
def test_tensor_hooks_run_before_retain_grad(device, dtype, order, check):
    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    y = x * 2
    if order == "retain_grad first":
        y.retain_grad()
        y.register_hook(lambda g: g * 100)
    else:
        y.register_hook(lambda g: g * 100)
        y.retain_grad()
    y.sum().backward()

    check.tensor("y.grad", y.grad, [100.0, 100.0], dtype=dtype, device=device)
    check.tensor("x.grad", x.grad, [200.0, 200.0], dtype=dtype, device=device)


@claim(
    "HOOK-005",
    "A tensor hook fires at every order of differentiation: with a g * 10 hook on x, u = x**3 at 2 has u_x = 120 "
    "and u_xx = 1200 (10 times the derivative of the hooked 120), whereas a post-hook on u's grad_fn fires once "
    "(u_x = 120, u_xx = 120).",
    section="Hooks",
)
@pytest.mark.parametrize("way", ["autograd.grad", "backward", "sum trick"])
def test_tensor_hook_fires_at_every_order(device, dtype, way, check):
    x = torch.tensor([1.0, 2.0] if way == "sum trick" else 2.0, requires_grad=True, device=device, dtype=dtype)
    x.register_hook(lambda g: g * 10)
    u = (x**3).sum()
    if way == "backward":
        with spec.check.tolerating(UserWarning, "create_graph=True will create a reference cycle"):
            u.backward(create_graph=True)
        u_x = x.grad
        x.grad = None
        check.tensor("u_x (x.grad)", u_x, 120.0, dtype=dtype, device=device)
        check.works("u_x.backward()", lambda: u_x.backward())
        check.tensor("u_xx (x.grad)", x.grad, 1200.0, dtype=dtype, device=device)
        return
    (u_x,) = torch.autograd.grad(u, x, create_graph=True)
    (u_xx,) = check.works("u_xx", lambda: torch.autograd.grad(u_x.sum(), x))
    if way == "sum trick":
        check.tensor("u_x", u_x, [30.0, 120.0], dtype=dtype, device=device)
        check.tensor("u_xx", u_xx, [600.0, 1200.0], dtype=dtype, device=device)
        return
    check.tensor("u_x", u_x, 120.0, dtype=dtype, device=device)
    check.tensor("u_xx", u_xx, 1200.0, dtype=dtype, device=device)


@claim("HOOK-005")
def test_node_post_hook_fires_once(device, dtype, check):
    x = torch.tensor(2.0, requires_grad=True, device=device, dtype=dtype)
    u = x**3
    u.grad_fn.register_hook(lambda grad_inputs, grad_outputs: (grad_inputs[0] * 10,))
    (u_x,) = torch.autograd.grad(u, x, create_graph=True)
    check.tensor("u_x", u_x, 120.0, dtype=dtype, device=device)
    (u_xx,) = check.works("u_xx", lambda: torch.autograd.grad(u_x, x))
    check.tensor("u_xx", u_xx, 120.0, dtype=dtype, device=device)


@claim(
    "HOOK-006",
    "register_post_accumulate_grad_hook (torch 2.1+) is for leaves only ('post accumulate grad hooks cannot be "
    "registered on non-leaf tensors'), runs after .grad is accumulated ([2, 4], then [4, 8]) with grad mode off, "
    "and does not run under autograd.grad.",
    section="Hooks",
)
def test_post_accumulate_grad_hook(device, dtype, check):
    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    check.equal("Tensor has register_post_accumulate_grad_hook", hasattr(x, "register_post_accumulate_grad_hook"),
                HAS_POST_ACCUMULATE)
    if not hasattr(x, "register_post_accumulate_grad_hook"):
        check.absent("x.register_post_accumulate_grad_hook", lambda: x.register_post_accumulate_grad_hook(print),
                     AttributeError, "register_post_accumulate_grad_hook", reason="no post-accumulate-grad hooks before torch 2.1")
    seen = []
    x.register_post_accumulate_grad_hook(lambda p: seen.append((p.grad.clone(), torch.is_grad_enabled())))
    (x * x).sum().backward()
    (x * x).sum().backward()
    check.equal("calls", len(seen), 2)
    check.tensor("p.grad seen by the first call", seen[0][0], [2.0, 4.0], dtype=dtype, device=device)
    check.tensor("p.grad seen by the second call", seen[1][0], [4.0, 8.0], dtype=dtype, device=device)
    check.equal("grad mode inside the hook", [s[1] for s in seen], [False, False])
    torch.autograd.grad((x * x).sum(), x)
    check.equal("calls after autograd.grad", len(seen), 2)
    y = x * 2
    with check.raises("y.register_post_accumulate_grad_hook(...)", RuntimeError, NON_LEAF_POST_ACC):
        y.register_post_accumulate_grad_hook(lambda p: None)


@claim(
    "HOOK-007",
    "torch.autograd.graph.register_multi_grad_hook calls its hook once per backward with the gradients of all the "
    "tensors (None for those not reached), and with mode='any' (torch 2.3+) once with the first gradient computed.",
    section="Hooks",
)
@pytest.mark.parametrize("hook_mode", ["all", "any"])
def test_multi_grad_hook(device, dtype, hook_mode, check):
    a = torch.tensor([1.0], requires_grad=True, device=device, dtype=dtype)
    b = torch.tensor([2.0], requires_grad=True, device=device, dtype=dtype)
    calls = []
    register = torch.autograd.graph.register_multi_grad_hook
    if hook_mode == "all":
        register((a, b), lambda grads: calls.append(list(grads)))
        (a * 3).sum().backward()
        (a * b).sum().backward()
        check.equal("calls", len(calls), 2)
        check.tensor("first call, a's gradient", calls[0][0], [3.0], dtype=dtype, device=device)
        check.none("first call, b's gradient (b not reached)", calls[0][1])
        check.tensor("second call, a's gradient", calls[1][0], [2.0], dtype=dtype, device=device)
        check.tensor("second call, b's gradient", calls[1][1], [1.0], dtype=dtype, device=device)
        return
    import inspect

    has_mode = "mode" in inspect.signature(register).parameters
    check.equal("register_multi_grad_hook accepts mode=", has_mode, HAS_MULTI_GRAD_MODE)
    if not has_mode:
        check.absent("register_multi_grad_hook(..., mode='any')", lambda: register((a, b), calls.append, mode="any"),
                     TypeError, "mode", reason="register_multi_grad_hook has no mode= before torch 2.3")
    register((a, b), lambda grad: calls.append(grad), mode="any")
    (a * 3).sum().backward()
    (a * b).sum().backward()
    check.equal("calls", len(calls), 2)
    check.tensor("first call", calls[0], [3.0], dtype=dtype, device=device)
    check.true("second call got one gradient", isinstance(calls[1], torch.Tensor))


@claim(
    "HOOK-008",
    "A tensor hook stays bound to the grad_fn the tensor had when it was registered: for t = x * 2 at x = 1, a hook "
    "registered before t.mul_(3) receives 3 (the gradient with respect to t's old value) and one registered after "
    "receives 1, through backward() and autograd.grad.",
    section="Hooks",
)
@pytest.mark.parametrize("way", ["backward", "autograd.grad"])
def test_hook_before_inplace_stays_on_old_node(device, dtype, way, check):
    x = torch.tensor(1.0, requires_grad=True, device=device, dtype=dtype)
    t = x * 2
    seen = {}
    t.register_hook(lambda g: seen.__setitem__("before", g.detach().clone()))
    t.mul_(3)
    t.register_hook(lambda g: seen.__setitem__("after", g.detach().clone()))
    if way == "backward":
        t.backward()
    else:
        torch.autograd.grad(t, x)
    check.tensor("gradient seen by the hook registered before mul_", seen.get("before"), 3.0, dtype=dtype, device=device)
    check.tensor("gradient seen by the hook registered after mul_", seen.get("after"), 1.0, dtype=dtype, device=device)


@claim(
    "HOOK-009",
    "Several hooks on one tensor run in registration order and each sees the gradient the previous one returned: "
    "for (x * x).sum() at x = [1, 2], hooks g * 2 then g + 1 give [5, 9], the second hook sees [4, 8], and the "
    "reverse registration order gives [6, 10].",
    section="Hooks",
)
def test_hooks_run_in_registration_order(device, dtype, check):
    def run(first, second):
        x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
        seen = []
        x.register_hook(first)
        x.register_hook(lambda g: (seen.append(g.detach().clone()), second(g))[1])
        (x * x).sum().backward()
        return x.grad, seen

    grad, seen = run(lambda g: g * 2, lambda g: g + 1)
    check.tensor("x.grad with hooks g*2 then g+1", grad, [5.0, 9.0], dtype=dtype, device=device)
    check.tensor("what the second hook received", seen[0] if seen else None, [4.0, 8.0], dtype=dtype, device=device)
    grad, _ = run(lambda g: g + 1, lambda g: g * 2)
    check.tensor("x.grad with hooks g+1 then g*2", grad, [6.0, 10.0], dtype=dtype, device=device)


@claim(
    "HOOK-010",
    "Hooks fire in the documented order: the tensor hook, then the Node pre-hook of its grad_fn, then the Node "
    "post-hook; a pre-hook that returns new grad_outputs replaces the gradient flowing into the Node ([20, 20] "
    "instead of [2, 2] for y = x * 2 with a pre-hook returning (g * 10,)).",
    section="Hooks",
)
def test_tensor_then_prehook_then_posthook(device, dtype, check):
    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    y = x * 2
    order = []
    y.grad_fn.register_hook(lambda gi, go: order.append("Node post-hook"))
    y.grad_fn.register_prehook(lambda go: (order.append("Node pre-hook"), (go[0] * 10,))[1])
    y.register_hook(lambda g: order.append("tensor hook"))
    y.sum().backward()
    check.equal("order in which the hooks fired", order, ["tensor hook", "Node pre-hook", "Node post-hook"])
    check.tensor("x.grad with the pre-hook returning g * 10", x.grad, [20.0, 20.0], dtype=dtype, device=device)


@claim(
    "HOOK-011",
    "A Node names itself and its edges: for y = x.sin(), y.grad_fn.name() is 'SinBackward0', next_functions is one "
    "(AccumulateGrad, 0) pair whose variable is x, and metadata is a dict, the same object on every access, that "
    "keeps what is stored in it.",
    section="Hooks",
)
def test_node_name_next_functions_metadata(device, dtype, check):
    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    node = x.sin().grad_fn
    check.equal("y.grad_fn.name()", node.name(), "SinBackward0")
    nexts = node.next_functions
    check.equal("len(next_functions)", len(nexts), 1)
    check.equal("next_functions[0] Node name and input number", (nexts[0][0].name(), nexts[0][1]),
                ("torch::autograd::AccumulateGrad", 0))
    check.true("next_functions[0][0].variable is x", nexts[0][0].variable is x)
    node.metadata["tag"] = "residual"
    check.true("metadata is a dict", isinstance(node.metadata, dict))
    check.equal("metadata keeps what is stored", node.metadata.get("tag"), "residual")


#: torch.autograd.graph.get_gradient_edge / GradientEdge, and GradientEdge as an input of the autograd APIs.
HAS_GRADIENT_EDGE = by_version(
    "HOOK-012/torch.autograd.graph.get_gradient_edge exists",
    {"<2.2": False, ">=2.2": True},
    ref="https://github.com/pytorch/pytorch/pull/110867",
    note="merged in October 2023, first released in 2.2 (absent on 2.0.1; present on 2.8.0, 2.13.0, 2.15.0)",
)
#: A GradientEdge as the output (first argument) of torch.autograd.grad.
HAS_GRADIENT_EDGE_OUTPUT = by_version(
    "HOOK-013/torch.autograd.grad accepts a GradientEdge as output",
    {"<2.5": False, ">=2.5": True},
    ref="https://github.com/pytorch/pytorch/pull/127766",
    note="merged in June 2024 after the 2.4 branch cut: on 2.4.1 autograd.grad of an edge raises AttributeError (no is_nested); absent on 2.0.1; works on 2.8.0 to 2.15.0; 2.5 is the first release with it (the matrix)",
)
NO_EDGE = r"It is not possible to get the gradient edge for a Tensor that does not require gradients"


@claim(
    "HOOK-012",
    "torch.autograd.graph.get_gradient_edge(t) (torch 2.2+) is a GradientEdge (node, output_nr) that "
    "autograd.grad and backward(inputs=...) accept as an input, and it keeps the value t had: for y = 3x at "
    "x = [1, 2], an edge taken before y.mul_(2) gives d sum(y*y)/d(old y) = [24, 48] where y itself gives [12, 24]; "
    "a tensor that does not require grad has no edge (RuntimeError).",
    section="Hooks",
)
def test_gradient_edge_as_input(device, dtype, check):
    graph = torch.autograd.graph
    check.equal("torch.autograd.graph.get_gradient_edge exists", hasattr(graph, "get_gradient_edge"), HAS_GRADIENT_EDGE)
    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    if not hasattr(graph, "get_gradient_edge"):
        check.absent("torch.autograd.graph.get_gradient_edge(x)", lambda: graph.get_gradient_edge(x), AttributeError,
                     "get_gradient_edge", reason="GradientEdge and get_gradient_edge arrived in torch 2.2")
    y = x * 3
    edge = graph.get_gradient_edge(y)
    check.true("get_gradient_edge(y) is a GradientEdge", isinstance(edge, graph.GradientEdge))
    check.equal("(edge.node.name(), edge.output_nr)", (edge.node.name(), edge.output_nr), ("MulBackward0", 0))
    y.mul_(2)
    z = (y * y).sum()
    (g_edge,) = check.works("autograd.grad(z, edge of the old y)", lambda: torch.autograd.grad(z, edge, retain_graph=True))
    check.tensor("d z / d(old y) through its GradientEdge", g_edge, [24.0, 48.0], dtype=dtype, device=device)
    (g_y,) = torch.autograd.grad(z, y, retain_graph=True)
    check.tensor("d z / d(new y)", g_y, [12.0, 24.0], dtype=dtype, device=device)
    x_edge = graph.get_gradient_edge(x)
    check.equal("a leaf's edge node", x_edge.node.name(), "torch::autograd::AccumulateGrad")
    check.works("z.backward(inputs=[edge of x])", lambda: z.backward(inputs=[x_edge]))
    check.tensor("x.grad through backward(inputs=[edge of x])", x.grad, [72.0, 144.0], dtype=dtype, device=device)
    with check.raises("get_gradient_edge of a tensor without requires_grad", RuntimeError, NO_EDGE):
        graph.get_gradient_edge(torch.ones(2, device=device, dtype=dtype))


@claim(
    "HOOK-013",
    "torch.autograd.grad accepts a GradientEdge as its output (torch 2.5+) with an explicit grad_outputs: for "
    "z = sum((3x)^2) at x = [1, 2], grad(get_gradient_edge(z), x, grad_outputs=1) is [18, 36], as grad(z, x) is.",
    section="Hooks",
)
def test_gradient_edge_as_output(device, dtype, check):
    graph = torch.autograd.graph
    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    z = ((x * 3) ** 2).sum()
    if not hasattr(graph, "get_gradient_edge"):
        check.equal("torch.autograd.grad accepts a GradientEdge as output", False, HAS_GRADIENT_EDGE_OUTPUT)
        check.absent("torch.autograd.graph.get_gradient_edge(z)", lambda: graph.get_gradient_edge(z), AttributeError,
                     "get_gradient_edge", reason="GradientEdge arrived in torch 2.2, as an output of grad in 2.5")
    edge = graph.get_gradient_edge(z)
    seed = torch.tensor(1.0, device=device, dtype=dtype)

    def grad_of_edge():
        return torch.autograd.grad(edge, x, grad_outputs=seed, retain_graph=True)

    if not HAS_GRADIENT_EDGE_OUTPUT.current():
        # 2.4.1 raises AttributeError ('SumBackward0' object has no attribute 'is_nested'), 2.2 and 2.3 likewise
        check.absent("autograd.grad(GradientEdge, x)", grad_of_edge, Exception, r".",
                     reason="a GradientEdge as the output of autograd.grad arrived in torch 2.5")
    (g,) = check.works("autograd.grad(edge of z, x, grad_outputs=1)", grad_of_edge)
    check.tensor("d z / d x through z's GradientEdge", g, [18.0, 36.0], dtype=dtype, device=device)
    (ref,) = torch.autograd.grad(z, x)
    check.tensor("d z / d x", ref, [18.0, 36.0], dtype=dtype, device=device)
