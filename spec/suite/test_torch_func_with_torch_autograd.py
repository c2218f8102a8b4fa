"""Chapter 3, "torch.func with torch.autograd": what torch.func refuses, what it ignores, and where mixing the two
APIs returns a wrong number without an error (source: docs/source/func.ux_limitations.rst, "UX limitations")."""

import math

import pytest
import torch

from spec import by_version, claim
from spec.suite.support import NO_GRAD_FN, quiet_dynamo

#: The messages, unchanged from torch 2.0 to 2.15 (they still say "functorch", torch.func's old name).
BACKWARD_INSIDE = (r"backward\(\) called inside a functorch transform\. This is not supported, please use "
                   r"functorch\.grad or functorch\.vjp instead")
REQUIRES_GRAD_INSIDE = (r"You are attempting to call Tensor\.requires_grad_\(\) \(or perhaps using "
                        r"torch\.autograd\.functional\.\* APIs\) inside of a function being transformed by a "
                        r"functorch transform")
RANDOM_IN_ERROR_MODE = r"vmap: called random operation while in randomness error mode"
#: The stable start; the link at its end changed (functorch issue 257, later "file an issue" at pytorch).
CONTROL_FLOW = (r"vmap: It looks like you're attempting to use a Tensor in some data-dependent control flow\. "
                r"We don't support that yet")
ITEM_IN_VMAP = r"vmap: It looks like you're calling \.item\(\) on a Tensor"
#: Where the control-flow message sends you: the archived functorch repository's issue 257, then (2.13) pytorch's
#: issue tracker.
CONTROL_FLOW_LINK = by_version(
    "FUNC-006/where the control-flow message sends you",
    {"<2.13": r"please\s+shout\s+over\s+at\s+https://github\.com/pytorch/functorch/issues/257",
     ">=2.13": r"please\s+file\s+an\s+issue\s+at\s+https://github\.com/pytorch/pytorch/issues"},
    ref="https://github.com/pytorch/pytorch/pull/186333",
    note="issue https://github.com/pytorch/pytorch/issues/186301; the old link is still in 2.12.1's libtorch_cpu",
)

#: torch.func.grad/vjp/jvp under torch.inference_mode() returned zeros until the transforms learnt to leave
#: inference mode (pytorch#177318, fixed by #177596; its Python half is in 2.12.1's wheel and not in 2.11.0's).
INFERENCE_ZEROS = by_version(
    "HZ-021/torch.func transforms return zeros under inference_mode",
    {"<2.12": True, ">=2.12": False},
    ref="https://github.com/pytorch/pytorch/pull/177596",
    note="issue https://github.com/pytorch/pytorch/issues/177318; observed present on 2.0.1, 2.4.1, 2.8.0 and "
         "absent on 2.13.0, 2.15.0; 2.9-2.12 not run here, the boundary is read from the wheels' sources",
)


@pytest.fixture(autouse=True)
def _quiet_lazy_import():
    """torch.func's first transform in a process may warn about torch.jit.script (no claim here is about it)."""
    with quiet_dynamo():
        yield


@claim(
    "FUNC-001",
    "Tensor.backward() inside a function transformed by torch.func.vmap or torch.func.grad raises "
    "'backward() called inside a functorch transform. This is not supported, please use functorch.grad or "
    "functorch.vjp instead'.",
    section="torch.func with torch.autograd",
    ref="https://pytorch.org/docs/stable/func.ux_limitations.html",
)
@pytest.mark.parametrize("transform", ["vmap", "grad"])
def test_backward_inside_a_transform_raises(transform, device, dtype, check):
    X = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device, dtype=dtype)

    def residual(x):
        u = (x * x).sum()
        u.backward()  # the torch.autograd habit
        return u

    wrapped = torch.func.vmap(residual) if transform == "vmap" else torch.func.grad(residual)
    with check.raises(f"backward() inside torch.func.{transform}", RuntimeError, BACKWARD_INSIDE):
        wrapped(X if transform == "vmap" else X[0])


@claim(
    "FUNC-002",
    "Tensor.requires_grad_() inside a function transformed by torch.func (vmap or grad), and the "
    "torch.autograd.functional APIs that call it (jacobian), raise 'You are attempting to call "
    "Tensor.requires_grad_() (or perhaps using torch.autograd.functional.* APIs) inside of a function being "
    "transformed by a functorch transform'.",
    section="torch.func with torch.autograd",
    ref="https://pytorch.org/docs/stable/func.ux_limitations.html",
)
def test_requires_grad_inside_a_transform_raises(device, dtype, check):
    X = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device, dtype=dtype)

    with check.raises("x.requires_grad_() inside vmap", RuntimeError, REQUIRES_GRAD_INSIDE):
        torch.func.vmap(lambda x: x.requires_grad_())(X)
    with check.raises("x.requires_grad_() inside torch.func.grad", RuntimeError, REQUIRES_GRAD_INSIDE):
        torch.func.grad(lambda x: x.requires_grad_().sum())(X[0])
    with check.raises("autograd.functional.jacobian inside vmap", RuntimeError, REQUIRES_GRAD_INSIDE):
        torch.func.vmap(lambda x: torch.autograd.functional.jacobian(torch.sin, x))(X)


@claim(
    "FUNC-003",
    "vmap's randomness defaults to 'error': a Dropout in train mode under torch.func.vmap raises 'vmap: called "
    "random operation while in randomness error mode'; randomness='different' draws a mask per sample and "
    "randomness='same' one mask for the batch; in eval mode Dropout draws nothing and vmap works by default.",
    section="torch.func with torch.autograd",
    ref="https://pytorch.org/docs/stable/generated/torch.func.vmap.html",
)
def test_vmap_randomness(device, dtype, check):
    drop = torch.nn.Dropout(0.5)  # a fresh module is in train mode
    X = torch.ones(4, 64, device=device, dtype=dtype)

    with check.raises("vmap(dropout) with the default randomness", RuntimeError, RANDOM_IN_ERROR_MODE):
        torch.func.vmap(drop)(X)
    # 64 draws per row: two rows' masks agree by chance with probability 2**-64, so no seed is needed
    different = check.works("vmap(dropout, randomness='different')",
                            lambda: torch.func.vmap(drop, randomness="different")(X))
    same = check.works("vmap(dropout, randomness='same')", lambda: torch.func.vmap(drop, randomness="same")(X))
    check.equal("'different': rows equal to row 0", [bool(torch.equal(different[0], r)) for r in different[1:]],
                [False, False, False])
    check.equal("'same': rows equal to row 0", [bool(torch.equal(same[0], r)) for r in same[1:]], [True, True, True])
    check.equal("values a 0.5 dropout writes", sorted(set(different.flatten().tolist())), [0.0, 2.0])

    drop.eval()
    check.tensor("vmap(dropout in eval mode)", check.works("vmap(eval dropout)", lambda: torch.func.vmap(drop)(X)),
                 1.0, dtype=dtype, device=device)


@claim(
    "FUNC-004",
    "torch.func.grad ignores an outer torch.no_grad(): torch.func.grad(torch.sin) at 0.5 under no_grad (or "
    "set_grad_enabled(False)) is cos(0.5) = 0.87758, the same as outside it, and so is torch.func.vjp's.",
    section="torch.func with torch.autograd",
    ref="https://pytorch.org/docs/stable/func.ux_limitations.html",
)
def test_func_grad_ignores_an_outer_no_grad(device, dtype, check):
    x = torch.tensor(0.5, device=device, dtype=dtype)
    want = math.cos(0.5)

    check.close("torch.func.grad(torch.sin)(0.5)", torch.func.grad(torch.sin)(x), want, dtype=dtype, device=device)
    with torch.no_grad():
        g = torch.func.grad(torch.sin)(x)
        (v,) = torch.func.vjp(torch.sin, x)[1](torch.ones_like(x))
    check.close("torch.func.grad(torch.sin)(0.5) under no_grad", g, want, dtype=dtype, device=device)
    check.close("torch.func.vjp(torch.sin, 0.5) under no_grad", v, want, dtype=dtype, device=device)
    with torch.set_grad_enabled(False):
        g = torch.func.grad(torch.sin)(x)
    check.close("torch.func.grad(torch.sin)(0.5) under set_grad_enabled(False)", g, want, dtype=dtype, device=device)


@claim(
    "FUNC-005",
    "torch.func.grad respects a torch.no_grad() inside the function: for f(t) = sin(t) + c with c = t*t computed "
    "under no_grad, the gradient at 0.5 is cos(0.5) = 0.87758 (c contributes nothing), not cos(0.5) + 1.",
    section="torch.func with torch.autograd",
    ref="https://pytorch.org/docs/stable/func.ux_limitations.html",
)
def test_func_grad_respects_an_inner_no_grad(device, dtype, check):
    x = torch.tensor(0.5, device=device, dtype=dtype)

    def f(t):
        with torch.no_grad():
            c = t * t
        return torch.sin(t) + c

    check.close("torch.func.grad(f)(0.5)", torch.func.grad(f)(x), math.cos(0.5), dtype=dtype, device=device)
    check.close("f(0.5)", f(x), math.sin(0.5) + 0.25, dtype=dtype, device=device)


@claim(
    "FUNC-006",
    "Data-dependent Python control flow inside torch.func.vmap raises: 'if t.sum() > 0' says 'vmap: It looks like "
    "you're attempting to use a Tensor in some data-dependent control flow' and t.item() says 'vmap: It looks like "
    "you're calling .item() on a Tensor'; torch.where expresses the same choice and works.",
    section="torch.func with torch.autograd",
    ref="https://pytorch.org/docs/stable/func.ux_limitations.html",
)
def test_vmap_refuses_data_dependent_control_flow(device, dtype, check):
    X = torch.tensor([[1.0, 2.0], [-3.0, -4.0]], device=device, dtype=dtype)

    def flip_if_negative(t):
        if t.sum() > 0:
            return t
        return -t

    with check.raises("if t.sum() > 0 inside vmap", RuntimeError, CONTROL_FLOW) as box:
        torch.func.vmap(flip_if_negative)(X)
    check.matches("where the message sends you", str(box["exception"]), CONTROL_FLOW_LINK)
    with check.raises("t.item() inside vmap", RuntimeError, ITEM_IN_VMAP):
        torch.func.vmap(lambda t: t * t.sum().item())(X)
    out = check.works("the torch.where spelling", lambda: torch.func.vmap(lambda t: torch.where(t.sum() > 0, t, -t))(X))
    check.tensor("vmap(torch.where(t.sum() > 0, t, -t))", out, [[1.0, 2.0], [3.0, 4.0]], dtype=dtype, device=device)


@claim(
    "FUNC-007",
    "torch.autograd.grad inside torch.func.vmap, torch.func.jvp or torch.func.jacfwd raises 'element 0 of tensors "
    "does not require grad and does not have a grad_fn', even for points that require grad outside: a residual "
    "written with autograd.grad cannot be vmapped, while vmap(torch.func.grad(u)) gives each point's u_x (3t**2).",
    section="torch.func with torch.autograd",
    ref="https://pytorch.org/docs/stable/func.ux_limitations.html",
)
def test_autograd_grad_inside_vmap_or_forward_transforms_raises(device, dtype, check):
    X = torch.tensor([1.0, 2.0, 3.0], device=device, dtype=dtype, requires_grad=True)
    ones = torch.ones(3, device=device, dtype=dtype)

    def u_x(t):
        return torch.autograd.grad((t**3).sum(), t)[0]

    with check.raises("autograd.grad inside vmap", RuntimeError, NO_GRAD_FN):
        torch.func.vmap(u_x)(X)
    with check.raises("autograd.grad inside torch.func.jvp", RuntimeError, NO_GRAD_FN):
        torch.func.jvp(u_x, (X.detach(),), (ones,))
    with check.raises("autograd.grad inside torch.func.jacfwd", RuntimeError, NO_GRAD_FN):
        torch.func.jacfwd(u_x)(X.detach())
    per_point = check.works("vmap(torch.func.grad(u))", lambda: torch.func.vmap(torch.func.grad(lambda t: t**3))(X))
    check.tensor("vmap(torch.func.grad(u)) at [1, 2, 3]", per_point, [3.0, 12.0, 27.0], dtype=dtype, device=device)


# ------------------------------------------------------------------------------------------ hazards


@claim(
    "HZ-020",
    "torch.autograd.grad without create_graph inside torch.func.grad or torch.func.jacrev returns a wrong zero "
    "without an error: torch.func.grad(lambda t: torch.autograd.grad((t**2).sum(), t)[0].sum())(torch.ones(3)) is "
    "[0, 0, 0] where the truth is [2, 2, 2] (or the error the UX limitations page promises), and jacrev of "
    "u_x = autograd.grad(sum(t**3), t) at [1, 2, 3] is the zero matrix instead of diag(6, 12, 18); with "
    "create_graph=True inside both are right.",
    section="torch.func with torch.autograd",
    kind="hazard",
    ref="https://pytorch.org/docs/stable/func.ux_limitations.html",
)
def test_autograd_grad_inside_func_grad_is_silently_zero(device, dtype, check):
    x = torch.ones(3, device=device, dtype=dtype)

    def d_of_sum_of_squares(t, create_graph):
        (g,) = torch.autograd.grad((t**2).sum(), t, create_graph=create_graph)
        return g.sum()

    check.hazard(
        "torch.func.grad of an autograd.grad without create_graph",
        lambda: torch.func.grad(lambda t: d_of_sum_of_squares(t, False))(x),
        wrong=[0.0, 0.0, 0.0],
        truth=[2.0, 2.0, 2.0],
        fixed_by_error=r"(?i)autograd|functorch|transform",
        exact=True,
    )
    with_graph = check.works("the same with create_graph=True",
                             lambda: torch.func.grad(lambda t: d_of_sum_of_squares(t, True))(x))
    check.tensor("torch.func.grad of an autograd.grad with create_graph=True", with_graph, [2.0, 2.0, 2.0],
                 dtype=dtype, device=device)


@claim("HZ-020")
def test_jacrev_of_autograd_grad_is_silently_zero(device, dtype, check):
    # The Hessian as the Jacobian of a gradient: u = sum(t**3), u_x = 3 t**2, u_xx = diag(6 t).
    x = torch.tensor([1.0, 2.0, 3.0], device=device, dtype=dtype)

    def u_x(t, create_graph):
        return torch.autograd.grad((t**3).sum(), t, create_graph=create_graph)[0]

    check.hazard(
        "torch.func.jacrev of an autograd.grad without create_graph",
        lambda: torch.func.jacrev(lambda t: u_x(t, False))(x),
        wrong=torch.zeros(3, 3, device=device, dtype=dtype),
        truth=torch.diag(torch.tensor([6.0, 12.0, 18.0], device=device, dtype=dtype)),
        fixed_by_error=r"(?i)autograd|functorch|transform",
        exact=True,
    )
    with_graph = check.works("the same with create_graph=True", lambda: torch.func.jacrev(lambda t: u_x(t, True))(x))
    check.tensor("torch.func.jacrev of an autograd.grad with create_graph=True", with_graph,
                 [[6.0, 0.0, 0.0], [0.0, 12.0, 0.0], [0.0, 0.0, 18.0]], dtype=dtype, device=device)


@claim(
    "HZ-021",
    "Before torch 2.12, torch.func.grad, vjp, jvp and jacrev called under torch.inference_mode() returned zeros "
    "without an error: torch.func.grad(lambda t: (t**2).sum()) at [1, 2, 3] gave [0, 0, 0] where the truth is "
    "[2, 4, 6], which they give since 2.12 (the same call under no_grad always did).",
    section="torch.func with torch.autograd",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/177318",
)
@pytest.mark.parametrize("transform", ["grad", "vjp", "jvp", "jacrev"])
def test_func_transforms_under_inference_mode(transform, device, dtype, check):
    x = torch.tensor([1.0, 2.0, 3.0], device=device, dtype=dtype)
    ones = torch.ones(3, device=device, dtype=dtype)
    calls = {
        "grad": lambda: torch.func.grad(lambda t: (t**2).sum())(x),
        "vjp": lambda: torch.func.vjp(lambda t: t**2, x)[1](ones)[0],
        "jvp": lambda: torch.func.jvp(lambda t: t**2, (x,), (ones,))[1],
        "jacrev": lambda: torch.func.jacrev(lambda t: t**2)(x).sum(0),
    }
    with torch.no_grad():
        check.tensor(f"torch.func.{transform} under no_grad", calls[transform](), [2.0, 4.0, 6.0], dtype=dtype,
                     device=device)

    def under_inference_mode():
        with torch.inference_mode():
            return calls[transform]()

    check.hazard(
        f"torch.func.{transform} under inference_mode",
        under_inference_mode,
        wrong=[0.0, 0.0, 0.0],
        truth=[2.0, 4.0, 6.0],
        present=INFERENCE_ZEROS,
        fixed_by_error=r"inference_mode",
        exact=True,
    )


VMAP_INPLACE = r"vmap: inplace arithmetic\(self, \*extra_args\) is not possible"
VMAP_DYNAMIC_SHAPE = r"vmap: We do not support batching operators that can output dynamic shape"


def _diag_embed_zeros(vec):
    result = torch.zeros(vec.shape[0], vec.shape[0], dtype=vec.dtype, device=vec.device)
    result.diagonal().copy_(vec)
    return result


def _diag_embed_new_zeros(vec):
    result = vec.new_zeros(vec.shape[0], vec.shape[0])
    result.diagonal().copy_(vec)
    return result


@claim(
    "FUNC-008",
    "vmap allows an in-place operation on a batched tensor and refuses one that writes a batched value into an "
    "unbatched tensor: x.add_(y) with both vmapped adds in place, while copying a vmapped vec into torch.zeros(3, 3)"
    ".diagonal() raises 'vmap: inplace arithmetic(self, *extra_args) is not possible', and vec.new_zeros(3, 3) (the "
    "documented fix) gives diag_embed of each sample.",
    section="torch.func with torch.autograd",
    ref="https://pytorch.org/docs/stable/func.ux_limitations.html#mutation-in-place-pytorch-operations",
)
def test_vmap_in_place_rules(device, dtype, check):
    x = torch.tensor([[1.0], [2.0], [3.0]], device=device, dtype=dtype)
    y = torch.tensor([[10.0], [20.0], [30.0]], device=device, dtype=dtype)

    def add_into(a, b):
        a.add_(b)
        return a

    out = check.works("vmap(x.add_(y)) with x vmapped", lambda: torch.func.vmap(add_into)(x, y))
    check.tensor("vmap(x.add_(y)) output", out, [[11.0], [22.0], [33.0]], dtype=dtype, device=device)
    check.tensor("x after vmap(x.add_(y))", x, [[11.0], [22.0], [33.0]], dtype=dtype, device=device)
    vecs = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], device=device, dtype=dtype)
    with check.raises("vmap(diag_embed with torch.zeros)", RuntimeError, VMAP_INPLACE):
        torch.func.vmap(_diag_embed_zeros)(vecs)
    out = check.works("vmap(diag_embed with new_zeros)", lambda: torch.func.vmap(_diag_embed_new_zeros)(vecs))
    check.tensor("vmap(diag_embed with new_zeros)", out, torch.diag_embed(vecs), dtype=dtype, device=device)


@claim(
    "FUNC-009",
    "vmap refuses operators whose output shape depends on the data: vmap(torch.nonzero) raises 'vmap: We do not "
    "support batching operators that can output dynamic shape', while the same per-sample loop works.",
    section="torch.func with torch.autograd",
    ref="https://pytorch.org/docs/stable/func.ux_limitations.html#dynamic-shape-operations-nonzero-and-friends",
)
def test_vmap_refuses_dynamic_shapes(device, dtype, check):
    xs = torch.tensor([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]], device=device, dtype=dtype)
    with check.raises("vmap(torch.nonzero)", RuntimeError, VMAP_DYNAMIC_SHAPE):
        torch.func.vmap(torch.nonzero)(xs)
    check.equal("nonzero per sample", [torch.nonzero(x).flatten().tolist() for x in xs], [[1, 2], [2]])


NO_VMAP_SUPPORT = r"does not have vmap support\. Please override and implement the vmap staticmethod or set generate_vmap_rule=True"
BOTH_VMAP_RULES = r"has both generate_vmap_rule=True and an overrid+en vmap staticmethod"


class _Cube(torch.autograd.Function):
    """x**3 in the setup_context style, without vmap support."""

    @staticmethod
    def forward(x):
        return x**3

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g


class _GeneratedCube(_Cube):
    generate_vmap_rule = True


class _CubeWithVmap(_Cube):
    """Its vmap staticmethod adds 100, so that the output shows it was used."""

    @staticmethod
    def vmap(info, in_dims, x):
        return x**3 + 100, in_dims[0]


class _CubeWithBoth(_CubeWithVmap):
    generate_vmap_rule = True


@claim(
    "FUNC-010",
    "An autograd.Function works under vmap only with vmap support: with generate_vmap_rule=True vmap of Cube at "
    "[1, 2] is [1, 8] and vmap(grad(Cube)) is [3, 12]; an overridden vmap staticmethod is what vmap calls; without "
    "either vmap raises '... does not have vmap support', and with both it raises '... has both "
    "generate_vmap_rule=True and an overridden vmap staticmethod'.",
    section="torch.func with torch.autograd",
    ref="https://pytorch.org/docs/stable/notes/extending.func.html",
)
def test_function_vmap_support(device, dtype, check):
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
    out = check.works("vmap(GeneratedCube.apply)", lambda: torch.func.vmap(_GeneratedCube.apply)(x))
    check.tensor("vmap(GeneratedCube.apply)(x)", out, [1.0, 8.0], dtype=dtype, device=device)
    g = check.works("vmap(grad(GeneratedCube.apply))", lambda: torch.func.vmap(torch.func.grad(_GeneratedCube.apply))(x))
    check.tensor("vmap(grad(GeneratedCube.apply))(x)", g, [3.0, 12.0], dtype=dtype, device=device)
    out = check.works("vmap(CubeWithVmap.apply)", lambda: torch.func.vmap(_CubeWithVmap.apply)(x))
    check.tensor("vmap(CubeWithVmap.apply)(x) (its vmap staticmethod adds 100)", out, [101.0, 108.0], dtype=dtype,
                 device=device)
    with check.raises("vmap of a Function without vmap support", RuntimeError, NO_VMAP_SUPPORT):
        torch.func.vmap(_Cube.apply)(x)
    with check.raises("vmap of a Function with both vmap rules", RuntimeError, BOTH_VMAP_RULES):
        torch.func.vmap(_CubeWithBoth.apply)(x)
