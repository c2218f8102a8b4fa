"""Chapter 3, "Custom autograd.Function": saved tensors, mark_dirty, non-differentiable outputs, double backward,
@once_differentiable, forward mode and the torch.func style -- and the hazards of double backward through them."""

import pytest
import torch

from spec import claim
from spec.suite.support import NO_GRAD_FN, quiet_dynamo

#: The version-counter error (its producer's name changed in 2.13: INPLACE-003 records that).
MODIFIED_SAVED = r"one of the variables needed for gradient computation has been modified by an inplace operation"
LEAF_INPLACE = r"a leaf Variable that requires grad has been used in an in-place operation"
TWICE = r"trying to differentiate twice a function that was marked with @once_differentiable"
NO_JVP = r"You must implement the jvp function for custom autograd\.Function to use it with forward mode AD"
NEEDS_SETUP_CONTEXT = (
    r"In order to use an autograd\.Function with functorch transforms \(vmap, grad, jvp, jacrev, \.\.\.\), "
    r"it must override the setup_context staticmethod"
)


@pytest.fixture(autouse=True)
def _tolerate_lazy_import():
    """torch.func and forward AD may import torch._dynamo, which warns about torch.jit.script on some releases."""
    with quiet_dynamo():
        yield


class Cube(torch.autograd.Function):
    """x**3 with a backward written in differentiable torch operations."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2


class OnceCube(torch.autograd.Function):
    """The same Cube, its backward marked @once_differentiable."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2


class MyTanh(torch.autograd.Function):
    """A PINN-style custom activation: tanh, its backward written with the saved output."""

    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


class MySiLU(torch.autograd.Function):
    """x * sigmoid(x), the sigmoid saved as an intermediate (neither an input nor an output)."""

    @staticmethod
    def forward(ctx, x):
        s = torch.sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad):
        x, s = ctx.saved_tensors
        return grad * (s + x * s * (1 - s))


class AddOneInPlace(torch.autograd.Function):
    """Adds 1 to its input in place and declares it with ctx.mark_dirty."""

    @staticmethod
    def forward(ctx, x):
        x.add_(1)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        return grad


class AddOneUndeclared(torch.autograd.Function):
    """Adds 1 to its input in place and does not tell autograd."""

    @staticmethod
    def forward(ctx, x):
        x.add_(1)
        return x

    @staticmethod
    def backward(ctx, grad):
        return grad


class DoubleWithIndex(torch.autograd.Function):
    """Returns (2x, positions); the positions are marked non-differentiable; backward records what it receives."""

    received = []

    @staticmethod
    def forward(ctx, x, materialize):
        ctx.set_materialize_grads(materialize)
        index = torch.arange(x.numel(), dtype=x.dtype, device=x.device)
        ctx.mark_non_differentiable(index)
        return x * 2, index

    @staticmethod
    def backward(ctx, grad, grad_index):
        DoubleWithIndex.received.append(grad_index)
        return grad * 2, None


class CubeWithJvp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        ctx.x = x
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2

    @staticmethod
    def jvp(ctx, tangent):
        return 3 * ctx.x**2 * tangent


class FuncCube(torch.autograd.Function):
    """The torch.func style: forward without ctx, setup_context, and a generated vmap rule."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x):
        return x**3

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2


# ------------------------------------------------------------------ rules


@claim(
    "FN-001",
    "Tensors saved with ctx.save_for_backward are version-checked when backward reads them: modifying the input "
    "of a custom Cube in place after its forward makes backward raise 'has been modified by an inplace operation'.",
    section="Custom autograd.Function",
)
def test_saved_tensors_are_version_checked(device, dtype, check):
    a = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    b = a * 1
    y = Cube.apply(b)  # saves b
    b.mul_(2)

    with check.raises("y.sum().backward() after b.mul_(2)", RuntimeError, MODIFIED_SAVED):
        y.sum().backward()
    check.none("a.grad", a.grad)


@claim(
    "FN-002",
    "An input that a custom Function modifies in place and passes to ctx.mark_dirty becomes the output (the same "
    "object, its grad_fn the Function's node, the gradient correct), and a leaf that requires grad is refused "
    "with 'a leaf Variable that requires grad has been used in an in-place operation'.",
    section="Custom autograd.Function",
)
def test_mark_dirty(device, dtype, check):
    a = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    b = a * 2
    y = AddOneInPlace.apply(b)

    check.true("the output is the input object", y is b)
    check.true("b.grad_fn is the Function's node", b.grad_fn is y.grad_fn and "AddOneInPlace" in type(b.grad_fn).__name__)
    check.tensor("b", b, [3.0, 5.0], dtype=dtype, device=device)
    check.works("(y*y).sum().backward()", lambda: (y * y).sum().backward())
    check.tensor("a.grad = 2 * 2y", a.grad, [12.0, 20.0], dtype=dtype, device=device)

    leaf = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    with check.raises("AddOneInPlace.apply(leaf)", RuntimeError, LEAF_INPLACE):
        AddOneInPlace.apply(leaf)


@claim(
    "FN-003",
    "Without ctx.mark_dirty autograd does not learn of a custom Function's in-place change: the output is a new "
    "tensor object, the input keeps its grad_fn, and a leaf that requires grad is modified without an error.",
    section="Custom autograd.Function",
)
def test_without_mark_dirty(device, dtype, check):
    a = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    b = a * 2
    y = AddOneUndeclared.apply(b)

    check.false("the output is the input object", y is b)
    check.equal("b.grad_fn", type(b.grad_fn).__name__, "MulBackward0")
    check.tensor("b (modified all the same)", b, [3.0, 5.0], dtype=dtype, device=device)

    leaf = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    out = check.works("AddOneUndeclared.apply(leaf)", lambda: AddOneUndeclared.apply(leaf))
    check.tensor("the leaf after it", leaf, [2.0, 3.0], dtype=dtype, device=device)
    check.flags("the leaf", leaf, is_leaf=True, requires_grad=True, grad_fn=None)
    check.flags("the output", out, requires_grad=True, grad_fn=True)


@claim(
    "FN-004",
    "An output passed to ctx.mark_non_differentiable does not require grad, and backward receives zeros for it, "
    "or None after ctx.set_materialize_grads(False).",
    section="Custom autograd.Function",
)
@pytest.mark.parametrize("materialize", [True, False], ids=["materialized", "set_materialize_grads(False)"])
def test_mark_non_differentiable(device, dtype, materialize, check):
    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    DoubleWithIndex.received.clear()
    y, index = DoubleWithIndex.apply(x, materialize)

    check.flags("the marked output", index, requires_grad=False, grad_fn=None)
    check.flags("the other output", y, requires_grad=True, grad_fn=True)
    y.sum().backward()
    check.tensor("x.grad", x.grad, [2.0, 2.0], dtype=dtype, device=device)
    check.equal("backward calls", len(DoubleWithIndex.received), 1)
    if materialize:
        check.tensor("the gradient backward receives for the marked output", DoubleWithIndex.received[0],
                     [0.0, 0.0], dtype=dtype, device=device)
    else:
        check.none("the gradient backward receives for the marked output", DoubleWithIndex.received[0])


@claim(
    "FN-005",
    "A custom Function whose backward is written in differentiable torch operations has correct higher derivatives: "
    "for Cube(x) = x**3 at 2 the first, second and third derivatives are 12, 12 and 6.",
    section="Custom autograd.Function",
)
@pytest.mark.parametrize("way", ["autograd.grad", "backward", "sum trick", "functional.hessian"])
def test_differentiable_backward_gives_higher_derivatives(device, dtype, way, check):
    if way == "sum trick":
        x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
        (d1,) = torch.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
        check.tensor("u_x", d1, [3.0, 12.0], dtype=dtype, device=device)
        (d2,) = check.works("u_xx", lambda: torch.autograd.grad(d1.sum(), x, create_graph=True))
        check.tensor("u_xx", d2, [6.0, 12.0], dtype=dtype, device=device)
        return
    if way == "functional.hessian":
        x = torch.tensor(2.0, device=device, dtype=dtype)
        h = torch.autograd.functional.hessian(Cube.apply, x)
        check.tensor("hessian", h, 12.0, dtype=dtype, device=device)
        return
    x = torch.tensor(2.0, requires_grad=True, device=device, dtype=dtype)
    (d1,) = torch.autograd.grad(Cube.apply(x), x, create_graph=True)
    check.tensor("first derivative", d1, 12.0, dtype=dtype, device=device)
    if way == "backward":
        check.works("d1.backward()", lambda: d1.backward())
        check.tensor("x.grad (second derivative)", x.grad, 12.0, dtype=dtype, device=device)
        return
    (d2,) = check.works("second derivative", lambda: torch.autograd.grad(d1, x, create_graph=True))
    check.tensor("second derivative", d2, 12.0, dtype=dtype, device=device)
    (d3,) = check.works("third derivative", lambda: torch.autograd.grad(d2, x))
    check.tensor("third derivative", d3, 6.0, dtype=dtype, device=device)


@claim("FN-005")
@pytest.mark.parametrize("way", ["autograd.grad", "backward"])
def test_custom_tanh_in_a_pinn_gives_u_xx(device, dtype, way, check):
    torch.manual_seed(0)
    layers = [torch.nn.Linear(1, 8), torch.nn.Linear(8, 8), torch.nn.Linear(8, 1)]
    layers = [m.to(device=device, dtype=dtype) for m in layers]

    def net(x, act):
        h = act(layers[0](x))
        h = act(layers[1](h))
        return layers[2](h)

    def u_xx(act):
        x = torch.linspace(-1, 1, 5, device=device, dtype=dtype).reshape(5, 1).requires_grad_()
        (u_x,) = torch.autograd.grad(net(x, act).sum(), x, create_graph=True)
        if way == "backward":
            check.works("u_x.sum().backward(inputs=[x])", lambda: u_x.sum().backward(inputs=[x]))
            return x.grad
        return check.works("u_xx", lambda: torch.autograd.grad(u_x.sum(), x)[0])

    reference = u_xx(torch.tanh)
    check.close("u_xx with the custom tanh (reference: torch.tanh)", u_xx(MyTanh.apply), reference)


@claim(
    "FN-006",
    "Differentiating through the first derivative of a @once_differentiable backward with backward() raises "
    "'trying to differentiate twice a function that was marked with @once_differentiable' (for Cube(x)*x at 2, "
    "whose first derivative 32 is correct).",
    section="Custom autograd.Function",
)
def test_once_differentiable_refuses_backward_through_d1(device, dtype, check):
    x = torch.tensor(2.0, requires_grad=True, device=device, dtype=dtype)
    y = OnceCube.apply(x) * x
    (d1,) = torch.autograd.grad(y, x, create_graph=True)

    check.tensor("d1 = 4x**3", d1, 32.0, dtype=dtype, device=device)
    with check.raises("d1.backward()", RuntimeError, TWICE):
        d1.backward()
    x2 = torch.tensor(2.0, requires_grad=True, device=device, dtype=dtype)
    (g,) = torch.autograd.grad(OnceCube.apply(x2), x2, create_graph=True)
    check.flags("the first derivative of OnceCube alone", g, requires_grad=False, grad_fn=None)
    with check.raises("its grad", RuntimeError, NO_GRAD_FN):
        torch.autograd.grad(g, x2)


@claim(
    "FN-007",
    "Forward-mode AD through a custom Function without a jvp staticmethod raises 'You must implement the jvp "
    "function for custom autograd.Function to use it with forward mode AD', and with one it gives the tangent "
    "(12 for Cube at 2).",
    section="Custom autograd.Function",
)
def test_forward_mode_needs_jvp(device, dtype, check):
    fwAD = torch.autograd.forward_ad
    with fwAD.dual_level():
        dual = fwAD.make_dual(torch.tensor(2.0, device=device, dtype=dtype), torch.tensor(1.0, device=device, dtype=dtype))
        with check.raises("Cube.apply(dual)", NotImplementedError, NO_JVP):
            Cube.apply(dual)
        out = check.works("CubeWithJvp.apply(dual)", lambda: CubeWithJvp.apply(dual))
        check.tensor("the tangent", fwAD.unpack_dual(out).tangent, 12.0, dtype=dtype, device=device)


@claim(
    "FN-008",
    "torch.func transforms accept a custom Function written in the setup_context style (torch.func.grad of Cube at 2 "
    "is 12, vmap over grad at [1, 2] is [3, 12]) and refuse the ctx-in-forward style with 'it must override the "
    "setup_context staticmethod'.",
    section="Custom autograd.Function",
)
def test_setup_context_style_for_torch_func(device, dtype, check):
    two = torch.tensor(2.0, device=device, dtype=dtype)
    g = check.works("torch.func.grad(FuncCube.apply)(2)", lambda: torch.func.grad(FuncCube.apply)(two))
    check.tensor("torch.func.grad(FuncCube.apply)(2)", g, 12.0, dtype=dtype, device=device)
    xs = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
    gs = check.works("vmap(grad(FuncCube.apply))", lambda: torch.func.vmap(torch.func.grad(FuncCube.apply))(xs))
    check.tensor("vmap(grad(FuncCube.apply))([1, 2])", gs, [3.0, 12.0], dtype=dtype, device=device)
    x = torch.tensor(2.0, requires_grad=True, device=device, dtype=dtype)
    FuncCube.apply(x).backward()
    check.tensor("x.grad through backward()", x.grad, 12.0, dtype=dtype, device=device)
    with check.raises("torch.func.grad(Cube.apply)(2)", RuntimeError, NEEDS_SETUP_CONTEXT):
        torch.func.grad(Cube.apply)(two)


# ------------------------------------------------------------------ hazards


@claim(
    "HZ-030",
    "For a custom Cube with a @once_differentiable backward, the second derivative of y = Cube(x)*x at 2 is 48, but "
    "torch.autograd.grad of the first derivative returns 12 without an error (the sum trick at [1, 2]: [3, 12] "
    "instead of [12, 48]).",
    section="Custom autograd.Function",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/76185",
)
@pytest.mark.parametrize("way", ["autograd.grad", "backward(inputs=[x])", "sum trick", "functional.hessian"])
def test_once_differentiable_drops_a_term(device, dtype, way, check):
    def second_derivative():
        if way == "functional.hessian":
            xs = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
            return torch.autograd.functional.hessian(lambda t: (OnceCube.apply(t) * t).sum(), xs).diagonal()
        x = torch.tensor([1.0, 2.0] if way == "sum trick" else 2.0, requires_grad=True, device=device, dtype=dtype)
        (d1,) = torch.autograd.grad((OnceCube.apply(x) * x).sum(), x, create_graph=True)
        if way == "backward(inputs=[x])":
            d1.backward(inputs=[x])
            return x.grad
        return torch.autograd.grad(d1.sum(), x)[0]

    batched = way in ("sum trick", "functional.hessian")
    check.hazard(
        "second derivative of Cube(x)*x",
        second_derivative,
        wrong=[3.0, 12.0] if batched else 12.0,
        truth=[12.0, 48.0] if batched else 48.0,
        fixed_by_error=TWICE,
        exact=True,
    )


@claim(
    "HZ-031",
    "For a custom Cube with a @once_differentiable backward, u = Cube(x) + x**2 has u_xx = 14 at 2, but "
    "torch.autograd.grad and backward() return 2 without an error (the sum trick at [1, 2]: [2, 2] instead of [8, 14]).",
    section="Custom autograd.Function",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/76185",
)
@pytest.mark.parametrize("way", ["autograd.grad", "backward", "sum trick", "sum trick with backward", "functional.hessian"])
def test_once_differentiable_u_xx(device, dtype, way, check):
    def u_xx():
        if way == "functional.hessian":
            xs = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
            return torch.autograd.functional.hessian(lambda t: (OnceCube.apply(t) + t**2).sum(), xs).diagonal()
        x = torch.tensor([1.0, 2.0] if way.startswith("sum trick") else 2.0, requires_grad=True, device=device,
                         dtype=dtype)
        (u_x,) = torch.autograd.grad((OnceCube.apply(x) + x**2).sum(), x, create_graph=True)
        if "backward" in way:
            u_x.sum().backward()
            return x.grad
        return torch.autograd.grad(u_x.sum(), x)[0]

    batched = way.startswith("sum trick") or way == "functional.hessian"
    check.hazard(
        "u_xx of Cube(x) + x**2",
        u_xx,
        wrong=[2.0, 2.0] if batched else 2.0,
        truth=[8.0, 14.0] if batched else 14.0,
        fixed_by_error=TWICE,
        exact=True,
    )


@claim(
    "HZ-032",
    "A custom SiLU x*sigmoid(x) that saves the sigmoid (an intermediate) with save_for_backward has u_xx = 0.5 at 0, "
    "but double backward returns 0.25 without an error, because the saved intermediate is a constant to autograd.",
    section="Custom autograd.Function",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/104040",
)
@pytest.mark.parametrize("way", ["autograd.grad", "backward", "sum trick", "functional.hessian"])
def test_saved_intermediate_drops_a_term(device, dtype, way, check):
    points = [0.0, 1.0]
    x_ref = torch.tensor(points, requires_grad=True, device=device, dtype=torch.float64)
    (ref_x,) = torch.autograd.grad(torch.nn.functional.silu(x_ref).sum(), x_ref, create_graph=True)
    (ref_xx,) = torch.autograd.grad(ref_x.sum(), x_ref)
    s = torch.sigmoid(torch.tensor(points, device=device, dtype=torch.float64))
    dropped = s * (1 - s)  # the derivative of the backward formula with the sigmoid held constant

    def u_xx():
        if way == "functional.hessian":
            xs = torch.tensor(points, device=device, dtype=dtype)
            return torch.autograd.functional.hessian(lambda t: MySiLU.apply(t).sum(), xs).diagonal()
        x = torch.tensor(points if way in ("sum trick", "backward") else 0.0, requires_grad=True, device=device,
                         dtype=dtype)
        (u_x,) = torch.autograd.grad(MySiLU.apply(x).sum(), x, create_graph=True)
        if way == "backward":
            u_x.sum().backward()
            return x.grad
        return torch.autograd.grad(u_x.sum(), x)[0]

    scalar_way = way == "autograd.grad"
    check.hazard(
        "u_xx of the custom SiLU",
        u_xx,
        wrong=0.25 if scalar_way else dropped.to(dtype).tolist(),
        truth=0.5 if scalar_way else ref_xx.to(dtype).tolist(),
    )


class _Scale(torch.autograd.Function):
    """a * b (b a tensor), recording ctx.needs_input_grad; backward returns what the test class attribute says."""

    seen: list = []
    wrong: str = ""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        _Scale.seen.append(tuple(ctx.needs_input_grad))
        if _Scale.wrong == "count":
            return (g * b,)
        if _Scale.wrong == "shape":
            return torch.cat([g * b, g[:1]]), None
        return g * b, g * a


@claim(
    "FN-009",
    "ctx.needs_input_grad tells backward which inputs need a gradient: (True, False) for a Function of a that "
    "requires grad and b that does not, (False, True) the other way round, and gradients returned for an input that "
    "does not need one are dropped.",
    section="Custom autograd.Function",
)
def test_needs_input_grad(device, dtype, check):
    for flags, expected in (((True, False), (True, False)), ((False, True), (False, True))):
        a = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=flags[0])
        b = torch.tensor([3.0, 4.0], device=device, dtype=dtype, requires_grad=flags[1])
        _Scale.seen, _Scale.wrong = [], ""
        _Scale.apply(a, b).sum().backward()
        check.equal(f"ctx.needs_input_grad with requires_grad {flags}", _Scale.seen, [expected])
        check.none(f"grad of the input that does not require grad {flags}", (b if flags[0] else a).grad)


@claim(
    "FN-010",
    "A custom backward must return one gradient per forward input: returning one for a Function of two tensors "
    "raises 'function _ScaleBackward returned an incorrect number of gradients (expected 2, got 1)'.",
    section="Custom autograd.Function",
)
def test_backward_returns_wrong_count(device, dtype, check):
    a = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=True)
    b = torch.tensor([3.0, 4.0], device=device, dtype=dtype)
    _Scale.seen, _Scale.wrong = [], "count"
    try:
        with check.raises("backward returning 1 gradient for 2 inputs", RuntimeError,
                          r"returned an incorrect number of gradients \(expected 2, got 1\)"):
            _Scale.apply(a, b).sum().backward()
    finally:
        _Scale.wrong = ""


@claim(
    "FN-011",
    "A custom backward must return gradients of the input's shape: a gradient of shape [3] for an input of shape "
    "[2] raises 'returned an invalid gradient at index 0 - got [3] but expected shape compatible with [2]'.",
    section="Custom autograd.Function",
)
def test_backward_returns_wrong_shape(device, dtype, check):
    a = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=True)
    b = torch.tensor([3.0, 4.0], device=device, dtype=dtype)
    _Scale.seen, _Scale.wrong = [], "shape"
    try:
        with check.raises("backward returning a [3] gradient for a [2] input", RuntimeError,
                          r"returned an invalid gradient at index 0 - got \[3\] but expected shape compatible "
                          r"with \[2\]"):
            _Scale.apply(a, b).sum().backward()
    finally:
        _Scale.wrong = ""


class _Failing(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a):
        return a * 2

    @staticmethod
    def backward(ctx, g):
        raise ValueError("backward of _Failing failed")


@claim(
    "FN-012",
    "Under torch.autograd.detect_anomaly() (and set_detect_anomaly(True)) an error in a backward propagates "
    "unchanged and is preceded by a UserWarning 'Error detected in _FailingBackward. Traceback of forward call that "
    "caused the error' that names the forward line; without anomaly mode no such warning.",
    section="Custom autograd.Function",
)
@pytest.mark.parametrize("way", ["detect_anomaly", "set_detect_anomaly", "off"])
def test_anomaly_mode_names_the_forward_call(device, dtype, way, check):
    import contextlib
    import warnings

    a = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=True)
    ctx = {"detect_anomaly": torch.autograd.detect_anomaly, "set_detect_anomaly": lambda: torch.autograd.set_detect_anomaly(True),
           "off": contextlib.nullcontext}[way]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ctx():
            y = _Failing.apply(a)  # the forward line the traceback names
            with check.raises(f"backward error under {way}", ValueError, r"backward of _Failing failed"):
                y.sum().backward()
    texts = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    found = [t for t in texts if "Error detected in _FailingBackward" in t]
    check.equal(f"warnings naming _FailingBackward under {way}", len(found), 0 if way == "off" else 1)
    if found:
        check.matches("the warning's traceback", found[0], r"Traceback of forward call that caused the error:[\s\S]*"
                      r"y = _Failing\.apply\(a\)")


NOT_USED = r"differentiated Tensors? (at index 0 )?appears to not have been used in the graph"


class _WithList(torch.autograd.Function):
    """2x + 3 ys[0]: a tensor inside a list argument (its backward returns None for the list)."""

    @staticmethod
    def forward(ctx, x, ys):
        return x * 2 + ys[0] * 3

    @staticmethod
    def backward(ctx, g):
        return g * 2, None


class _WithDict(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, d):
        return x * 2 + d["y"] * 3

    @staticmethod
    def backward(ctx, g):
        return g * 2, None


@claim(
    "FN-013",
    "Only tensors passed directly to Function.apply are tracked: a tensor inside a list or dict argument gets no "
    "gradient (y.grad stays None, autograd.grad(out, y) raises 'appears to not have been used in the graph'), and an "
    "output that depends only on such tensors does not require grad.",
    section="Custom autograd.Function",
)
@pytest.mark.parametrize("container", ["list", "dict"])
def test_tensors_inside_containers_are_not_tracked(device, dtype, container, check):
    def apply(x, y):
        return _WithList.apply(x, [y]) if container == "list" else _WithDict.apply(x, {"y": y})

    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=True)
    y = torch.tensor([5.0, 6.0], device=device, dtype=dtype, requires_grad=True)
    apply(x, y).sum().backward()
    check.tensor("x.grad (a direct argument)", x.grad, [2.0, 2.0], dtype=dtype, device=device)
    check.none(f"y.grad (y inside a {container})", y.grad)
    with check.raises(f"autograd.grad(out, y) for y inside a {container}", RuntimeError, NOT_USED):
        torch.autograd.grad(apply(x, y).sum(), y)
    out = apply(torch.tensor([1.0, 2.0], device=device, dtype=dtype), y)
    check.false(f"out.requires_grad when only the {container}'s tensor requires grad", out.requires_grad)


class _IntegerOutputs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2, x.argmax(), x > 1

    @staticmethod
    def backward(ctx, g, g_index, g_mask):
        return g * 2


@claim(
    "FN-014",
    "Outputs of a custom Function of integer or bool dtype never require grad (argmax's int64 and a comparison's "
    "bool come back with requires_grad False and no grad_fn), while its floating-point output does; backward "
    "through the float output gives x.grad = 2 for 2x.",
    section="Custom autograd.Function",
)
def test_integer_outputs_never_require_grad(device, dtype, check):
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=True)
    out, index, mask = _IntegerOutputs.apply(x)
    check.equal("dtypes of the outputs", (out.dtype, index.dtype, mask.dtype), (dtype, torch.int64, torch.bool))
    check.flags("the floating-point output", out, requires_grad=True, grad_fn=True)
    check.flags("the int64 output (argmax)", index, requires_grad=False, grad_fn=None)
    check.flags("the bool output (x > 1)", mask, requires_grad=False, grad_fn=None)
    out.sum().backward()
    check.tensor("x.grad", x.grad, [2.0, 2.0], dtype=dtype, device=device)
