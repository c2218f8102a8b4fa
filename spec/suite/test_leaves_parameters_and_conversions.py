"""Chapter 3, "Leaves, Parameters and conversions": moving, creating, freezing and converting tensors that require grad.

Sources: docs/source/notes/autograd.rst; the docstrings of ``Tensor.to``, ``Tensor.numpy`` and
``nn.Module.requires_grad_``; the PyTorch FAQ on ``.grad`` being None after ``.cuda()``.
"""

import copy

import pytest
import torch

from spec import claim
from spec.suite import pinn
from spec.suite.support import scalar
from spec.torch_import import has_numpy

NUMPY_REFUSED = r"^Can't call numpy\(\) on Tensor that requires grad\. Use tensor\.detach\(\)\.numpy\(\) instead\.$"
VERSION_ERROR = r"modified by an inplace operation"


def needs_numpy():
    if not has_numpy():
        pytest.skip("numpy is not installed (or torch cannot use it): Tensor.numpy() is unavailable")


@claim(
    "PARAM-001",
    "Moving or casting a leaf that requires grad gives a non-leaf: a.to('meta') and a.to(<other dtype>) have grad_fn "
    "ToCopyBackward0, require grad and are not leaves, and backward through the cast fills a.grad, not the cast's.",
    section="Leaves, Parameters and conversions",
)
@pytest.mark.parametrize("to", ["meta", "other dtype"])
def test_to_gives_non_leaf(to, device, dtype, check):
    a = torch.tensor([1.0, 2.0, 3.0], dtype=dtype, device=device, requires_grad=True)
    other = torch.float64 if dtype == torch.float32 else torch.float32
    b = a.to("meta") if to == "meta" else a.to(other)
    check.flags(f"a.to({to!r})", b, requires_grad=True, is_leaf=False, grad_fn=True)
    check.equal(f"a.to({to!r}).grad_fn", type(b.grad_fn).__name__, "ToCopyBackward0")
    if to == "other dtype":
        (b * b).sum().backward()
        check.tensor("a.grad after backward through the cast", a.grad, [2.0, 4.0, 6.0], dtype=dtype, device=device)


@claim(
    "PARAM-002",
    "torch.rand(..., device=d, requires_grad=True) and torch.rand(...).to(d).requires_grad_() are leaves that require "
    "grad, and backward fills their .grad (for sum(x * x), 2x).",
    section="Leaves, Parameters and conversions",
)
@pytest.mark.parametrize("made_by", ["rand(..., requires_grad=True)", ".to(device).requires_grad_()"])
def test_created_on_device_is_leaf(made_by, device, dtype, check):
    if made_by == "rand(..., requires_grad=True)":
        x = torch.rand(4, dtype=dtype, device=device, requires_grad=True)
    else:
        x = torch.rand(4, dtype=dtype).to(device).requires_grad_()
    check.flags(made_by, x, requires_grad=True, is_leaf=True, grad_fn=None)
    (x * x).sum().backward()
    check.tensor(f"{made_by}: x.grad", x.grad, 2 * x.detach(), dtype=dtype, device=device, shape=(4,))


@claim(
    "PARAM-003",
    "Tensor.numpy() on a tensor that requires grad raises RuntimeError \"Can't call numpy() on Tensor that requires "
    "grad. Use tensor.detach().numpy() instead.\" for a leaf and for a non-leaf alike.",
    section="Leaves, Parameters and conversions",
)
@pytest.mark.parametrize("which", ["leaf", "non-leaf"])
def test_numpy_refuses_requires_grad(which, dtype, check):
    needs_numpy()
    a = torch.tensor([1.0, 2.0], dtype=dtype, requires_grad=True)
    t = a if which == "leaf" else a * 2
    with check.raises(f"{which}.numpy()", RuntimeError, NUMPY_REFUSED):
        t.numpy()


@claim(
    "PARAM-004",
    "numpy(force=True) (since torch 1.13), numpy() under torch.no_grad() and detach().numpy() convert a tensor that "
    "requires grad, leaf or not: for a = [1, 2] and a * 2 the arrays are [1, 2] and [2, 4].",
    section="Leaves, Parameters and conversions",
)
@pytest.mark.parametrize("which", ["leaf", "non-leaf"])
@pytest.mark.parametrize("how", ["numpy(force=True)", "numpy() under no_grad", "detach().numpy()"])
def test_numpy_conversions_that_work(how, which, dtype, check):
    needs_numpy()
    a = torch.tensor([1.0, 2.0], dtype=dtype, requires_grad=True)
    t = a if which == "leaf" else a * 2
    if how == "numpy(force=True)":
        arr = check.works(f"{which}.{how}", lambda: t.numpy(force=True))
    elif how == "detach().numpy()":
        arr = check.works(f"{which}.{how}", lambda: t.detach().numpy())
    else:
        with torch.no_grad():
            arr = check.works(f"{which}.{how}", lambda: t.numpy())
    check.equal(f"{which}.{how} as a list", arr.tolist(), [1.0, 2.0] if which == "leaf" else [2.0, 4.0])


@claim(
    "PARAM-005",
    "net.requires_grad_(False) freezes every parameter (requires_grad False) while u_x with respect to an input that "
    "requires grad still works and equals the closed-form derivative, by autograd.grad and by backward, and the "
    "parameters' .grad stays None.",
    section="Leaves, Parameters and conversions",
)
@pytest.mark.parametrize("api", ["autograd.grad", "backward"])
def test_frozen_net_still_differentiates_input(api, device, dtype, check):
    net = pinn.MLP(dtype=dtype, device=device)
    returned = net.requires_grad_(False)
    check.true("net.requires_grad_(False) returns the module", returned is net)
    check.equal("parameters that require grad", [p.requires_grad for p in net.parameters()].count(True), 0)
    x = pinn.points(6, 1, dtype=dtype, device=device).requires_grad_()
    u = net(x)
    check.flags("u of the frozen net", u, requires_grad=True, grad_fn=True)
    if api == "autograd.grad":
        u_x = check.works("grad(u.sum(), x)", lambda: torch.autograd.grad(u.sum(), x)[0])
    else:
        check.works("u.sum().backward()", lambda: u.sum().backward())
        u_x = x.grad
    check.close(f"u_x by {api}", u_x, pinn.du_dx(list(net.ps), x), dtype=dtype, device=device, shape=(6, 1))
    check.equal("parameters with a .grad", [p.grad is not None for p in net.parameters()].count(True), 0)


@claim(
    "HZ-060",
    "Writing into the NumPy array of a tensor that autograd saved (got by y.detach().numpy(), the conversion numpy()'s "
    "error recommends, by y.numpy(force=True) or by y.numpy() under no_grad) bypasses the version counter: for "
    "y = exp(a) at a = [0, 1], doubling the array in place makes the gradient of y.sum() [2, 5.43656] instead of the "
    "true [1, 2.71828] (or the in-place error), by autograd.grad and by backward, with no error.",
    section="Leaves, Parameters and conversions",
    kind="hazard",
    ref="https://pytorch.org/docs/stable/notes/autograd.html#in-place-correctness-checks",
)
@pytest.mark.parametrize("api", ["autograd.grad", "backward"])
@pytest.mark.parametrize("how", ["detach().numpy()", "numpy(force=True)", "numpy() under no_grad"])
def test_numpy_write_bypasses_version_counter(how, api, dtype, check):
    needs_numpy()
    a = torch.tensor([0.0, 1.0], dtype=dtype, requires_grad=True)
    y = a.exp()  # ExpBackward0 saves its result y
    if how == "detach().numpy()":
        arr = y.detach().numpy()
    elif how == "numpy(force=True)":
        arr = y.numpy(force=True)
    else:
        with torch.no_grad():
            arr = y.numpy()
    arr *= 2
    check.equal("y._version after writing through the array", y._version, 0)

    def gradient():
        if api == "autograd.grad":
            return torch.autograd.grad(y.sum(), a)[0]
        y.sum().backward()
        return a.grad

    truth = torch.tensor([0.0, 1.0], dtype=dtype).exp()
    check.hazard(
        f"d sum(exp(a))/da by {api} after {how} was doubled in place",
        gradient,
        wrong=2 * truth,
        truth=truth,
        fixed_by_error=VERSION_ERROR,
    )



#: Tensor.__deepcopy__ (torch/_tensor.py) refuses non-leaves; later releases append a hint about weight_norm.
DEEPCOPY_NON_LEAF = r"^Only Tensors created explicitly by the user \(graph leaves\) support the deepcopy protocol"
DETACH_VIEW_IN_PLACE = r"^Can't detach views in-place\. Use detach\(\) instead\."


def _to(a, spelling, **kwargs):
    """a.to(...) with the target that a already has, spelled four ways."""
    if spelling == "dtype":
        return a.to(a.dtype, **kwargs)
    if spelling == "device":
        return a.to(a.device, **kwargs)
    if spelling == "device and dtype":
        return a.to(a.device, a.dtype, **kwargs)
    return a.to(torch.empty(0, dtype=a.dtype, device=a.device), **kwargs)


@claim(
    "PARAM-006",
    "Tensor.to() returns self when nothing changes: for a leaf a that requires grad, a.to(a.dtype), a.to(a.device), "
    "a.to(a.device, a.dtype) and a.to(other) with other of a's dtype and device are a itself (a leaf, no grad_fn), "
    "while the same call with copy=True gives a new tensor with grad_fn ToCopyBackward0 whose backward fills a.grad.",
    section="Leaves, Parameters and conversions",
    ref="https://pytorch.org/docs/stable/generated/torch.Tensor.to.html",
)
@pytest.mark.parametrize("spelling", ["dtype", "device", "device and dtype", "other tensor"])
def test_to_without_change_returns_self(spelling, device, dtype, check):
    a = torch.tensor([1.0, 2.0, 3.0], dtype=dtype, device=device, requires_grad=True)
    same = _to(a, spelling)
    check.true(f"a.to({spelling} of a) is a", same is a)
    check.flags(f"a.to({spelling} of a)", same, requires_grad=True, is_leaf=True, grad_fn=None)
    copied = _to(a, spelling, copy=True)
    check.false(f"a.to({spelling} of a, copy=True) is a", copied is a)
    check.flags(f"a.to({spelling} of a, copy=True)", copied, requires_grad=True, is_leaf=False, grad_fn=True)
    check.equal(f"a.to({spelling} of a, copy=True).grad_fn", type(copied.grad_fn).__name__, "ToCopyBackward0")
    (copied * copied).sum().backward()
    check.tensor("a.grad after backward through the copy", a.grad, [2.0, 4.0, 6.0], dtype=dtype, device=device)


@claim(
    "PARAM-007",
    "Only leaves support copy.deepcopy: deepcopy of a leaf that requires grad is a new leaf that requires grad, with "
    "the same values and a copy of its .grad; deepcopy of a non-leaf (a * 2) raises RuntimeError 'Only Tensors "
    "created explicitly by the user (graph leaves) support the deepcopy protocol', while a computed tensor that does "
    "not require grad (a leaf by convention) copies.",
    section="Leaves, Parameters and conversions",
    ref="https://github.com/pytorch/pytorch/blob/main/torch/_tensor.py",
)
def test_deepcopy_only_leaves(device, dtype, check):
    a = torch.tensor([1.0, 2.0, 3.0], dtype=dtype, device=device, requires_grad=True)
    a.grad = torch.tensor([5.0, 6.0, 7.0], dtype=dtype, device=device)
    c = check.works("copy.deepcopy(a)", lambda: copy.deepcopy(a))
    check.false("copy.deepcopy(a) is a", c is a)
    check.flags("copy.deepcopy(a)", c, requires_grad=True, is_leaf=True, grad_fn=None)
    check.tensor("copy.deepcopy(a) values", c.detach(), [1.0, 2.0, 3.0], dtype=dtype, device=device)
    check.tensor("copy.deepcopy(a).grad", c.grad, [5.0, 6.0, 7.0], dtype=dtype, device=device)
    check.false("copy.deepcopy(a).grad is a.grad", c.grad is a.grad)
    b = a * 2
    with check.raises("copy.deepcopy(a * 2)", RuntimeError, DEEPCOPY_NON_LEAF):
        copy.deepcopy(b)
    const = torch.tensor([1.0, 2.0], dtype=dtype, device=device) * 2
    k = check.works("copy.deepcopy of a computed constant", lambda: copy.deepcopy(const))
    check.tensor("copy.deepcopy of a computed constant", k, [2.0, 4.0], dtype=dtype, device=device)


@claim(
    "PARAM-008",
    "detach_() detaches a tensor in place, making it a leaf: for b = a * 2, b.detach_() returns b itself, which then "
    "neither requires grad nor has a grad_fn; on a view it raises \"Can't detach views in-place\" (use detach() "
    "there).",
    section="Leaves, Parameters and conversions",
    ref="https://pytorch.org/docs/stable/generated/torch.Tensor.detach_.html",
)
def test_detach_in_place(device, dtype, check):
    a = torch.tensor([1.0, 2.0, 3.0], dtype=dtype, device=device, requires_grad=True)
    b = a * 2
    r = b.detach_()
    check.true("b.detach_() is b", r is b)
    check.flags("b after b.detach_()", b, requires_grad=False, is_leaf=True, grad_fn=None)
    check.tensor("b after b.detach_()", b, [2.0, 4.0, 6.0], dtype=dtype, device=device)
    v = (a * 2)[:2]
    with check.raises("(a * 2)[:2].detach_()", RuntimeError, DETACH_VIEW_IN_PLACE):
        v.detach_()


@claim(
    "PARAM-009",
    "item() is not differentiable: for y = a * a at a = 3 that requires grad, y.item() is the Python float 9.0, "
    "and a * y.item() has the gradient 9 (the item is a constant), not the 27 of a * y.",
    section="Leaves, Parameters and conversions",
    ref="https://pytorch.org/docs/stable/generated/torch.Tensor.item.html",
)
def test_item_is_not_differentiable(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    y = a * a
    v = y.item()
    check.equal("type of (a * a).item()", type(v).__name__, "float")
    check.equal("(a * a).item()", v, 9.0)
    (g,) = torch.autograd.grad((a * v).sum(), a)
    check.tensor("d/da (a * (a * a).item())", g, 9.0, dtype=dtype, device=device, shape=a.shape)


@claim(
    "PARAM-010",
    "requires_grad_() sets the flag in place and returns the tensor itself: for a plain leaf t, t.requires_grad_() "
    "is t and makes it require grad (the default argument is True), and t.requires_grad_(False) is t again and "
    "switches the flag off.",
    section="Leaves, Parameters and conversions",
    ref="https://pytorch.org/docs/stable/generated/torch.Tensor.requires_grad_.html",
)
def test_requires_grad_in_place_returns_self(device, dtype, check):
    t = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
    r = t.requires_grad_()
    check.true("t.requires_grad_() is t", r is t)
    check.flags("t after t.requires_grad_()", t, requires_grad=True, is_leaf=True, grad_fn=None)
    r = t.requires_grad_(False)
    check.true("t.requires_grad_(False) is t", r is t)
    check.flags("t after t.requires_grad_(False)", t, requires_grad=False, is_leaf=True, grad_fn=None)
