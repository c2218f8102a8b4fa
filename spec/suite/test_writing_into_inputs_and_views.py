"""Chapter 3, "Writing into inputs and views": writing boundary values into slices of a PINN's input points, and what
in-place writes through views and detached aliases do to the graph (source: docs/source/notes/autograd.rst, "In-place
operations with autograd"; torch.autograd.graph.allow_mutation_on_saved_tensors)."""

import pytest
import torch

from spec import claim

VIEW_OF_LEAF = r"a view of a leaf Variable that requires grad is being used in an in-place operation\."
MODIFIED_SAVED = r"one of the variables needed for gradient computation has been modified by an inplace operation"
OUTSIDE_ALLOW_MUTATION = r"Trying to backward outside of the 'allow_mutation_on_saved_tensors' context"
#: The stable part of the version-counter error (the node it names, "output 0 of SigmoidBackward0" on 2.0-2.8 and
#: "output 0 of Sigmoid" on 2.13, is left out).
MODIFIED_INPLACE = r"modified by an inplace operation: .*is at version 1; expected version 0 instead"


def points(device, dtype, **kwargs):
    """Three collocation points (x, t)."""
    return torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], device=device, dtype=dtype, **kwargs)


@claim(
    "HZ-005",
    "Hazard: out = a.sigmoid(); out.data.zero_(); out.sum().backward() gives a.grad = [0, 0, 0] at a = [1, 2, 3] "
    "without an error, where the true gradient is sigmoid'(a) = [0.19661, 0.10499, 0.04518]: .data hides the "
    "in-place change from the version counter (out._version stays 0); the same through autograd.grad.",
    section="Writing into inputs and views",
    kind="hazard",
    ref="https://github.com/pytorch/pytorch/issues/6990",
)
@pytest.mark.parametrize("way", ["backward", "autograd.grad"])
def test_data_inplace_gives_wrong_gradient(way, device, dtype, check):
    a = torch.tensor([1.0, 2.0, 3.0], device=device, dtype=dtype, requires_grad=True)
    truth = (torch.sigmoid(a) * (1 - torch.sigmoid(a))).detach()
    out = a.sigmoid()
    out.data.zero_()
    version = out._version

    def grad():
        if way == "backward":
            out.sum().backward()
            return a.grad
        return torch.autograd.grad(out.sum(), a)[0]

    check.hazard(f"a.grad after out.data.zero_() ({way})", grad, wrong=[0.0, 0.0, 0.0], truth=truth,
                 fixed_by_error=MODIFIED_INPLACE)
    check.equal("out._version after out.data.zero_()", version, 0)


@claim(
    "VIEW-001",
    "Writing into a slice of a leaf that requires grad raises: for the input points X, X[:, 0] = 0 and "
    "X[:, 0].zero_() say 'a view of a leaf Variable that requires grad is being used in an in-place operation.' "
    "and leave X unchanged.",
    section="Writing into inputs and views",
    ref="https://pytorch.org/docs/stable/notes/autograd.html#in-place-operations-with-autograd",
)
@pytest.mark.parametrize("spelling", ["X[:, 0] = 0", "X[:, 0].zero_()", "X[:, 0].fill_(0)"])
def test_writing_into_a_slice_of_a_leaf_raises(spelling, device, dtype, check):
    X = points(device, dtype, requires_grad=True)

    with check.raises(spelling, RuntimeError, VIEW_OF_LEAF):
        if spelling == "X[:, 0] = 0":
            X[:, 0] = 0
        elif spelling == "X[:, 0].zero_()":
            X[:, 0].zero_()
        else:
            X[:, 0].fill_(0)
    check.tensor("X after the refused write", X, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=dtype, device=device)
    check.flags("X", X, requires_grad=True, is_leaf=True, grad_fn=None)


@claim(
    "VIEW-002",
    "Writing into a slice of a non-leaf rewrites its graph and keeps the gradient right: for Xb = X.clone(), "
    "Xb[:, 0] = 0 makes Xb.grad_fn a CopySlices, and u = (Xb**2).sum() has du/dX = [0, 2x] per row (column 0 "
    "no longer depends on X), by backward() and by autograd.grad.",
    section="Writing into inputs and views",
    ref="https://pytorch.org/docs/stable/notes/autograd.html#in-place-operations-with-autograd",
)
@pytest.mark.parametrize("spelling", ["Xb[:, 0] = 0", "Xb[:, 0].zero_()"])
def test_writing_into_a_slice_of_a_non_leaf(spelling, device, dtype, check):
    X = points(device, dtype, requires_grad=True)
    Xb = X.clone()  # boundary points: same t, x moved to the boundary x = 0
    if spelling == "Xb[:, 0] = 0":
        Xb[:, 0] = 0
    else:
        Xb[:, 0].zero_()

    check.equal("type(Xb.grad_fn).__name__", type(Xb.grad_fn).__name__, "CopySlices")
    check.tensor("Xb", Xb, [[0.0, 2.0], [0.0, 4.0], [0.0, 6.0]], dtype=dtype, device=device)
    u = (Xb**2).sum()
    want = [[0.0, 4.0], [0.0, 8.0], [0.0, 12.0]]
    (g,) = torch.autograd.grad(u, X, retain_graph=True)
    check.tensor("autograd.grad(u, X)", g, want, dtype=dtype, device=device)
    u.backward()
    check.tensor("X.grad after u.backward()", X.grad, want, dtype=dtype, device=device)


@claim(
    "VIEW-003",
    "detach() shares the version counter: for out = a.sigmoid(), out.detach().zero_() moves out._version from 0 to "
    "1, and out.sum().backward() and torch.autograd.grad then raise 'one of the variables needed for gradient "
    "computation has been modified by an inplace operation' (the safe spelling of HZ-005's .data).",
    section="Writing into inputs and views",
    ref="https://pytorch.org/docs/stable/generated/torch.Tensor.detach.html",
)
def test_detach_then_in_place_is_caught(device, dtype, check):
    a = torch.tensor([1.0, 2.0, 3.0], device=device, dtype=dtype, requires_grad=True)
    out = a.sigmoid()  # sigmoid saves its output for backward
    d = out.detach()

    check.equal("out._version before", out._version, 0)
    d.zero_()
    check.equal("out._version after out.detach().zero_()", out._version, 1)
    check.equal("the detached alias's _version", d._version, 1)
    check.tensor("out (shares storage with the alias)", out, 0.0, dtype=dtype, device=device)
    with check.raises("out.sum().backward()", RuntimeError, MODIFIED_SAVED):
        out.sum().backward()
    check.none("a.grad", a.grad)
    with check.raises("torch.autograd.grad(out.sum(), a)", RuntimeError, MODIFIED_SAVED):
        torch.autograd.grad(out.sum(), a)


@claim(
    "VIEW-004",
    "Under torch.autograd.graph.allow_mutation_on_saved_tensors() modifying a saved tensor in place is safe: for "
    "a = [1, 2, 3], b = a + 1, c = b*b, b.mul_(2), c.sum().backward() gives a.grad = [4, 6, 8] (the derivative at "
    "the values c was computed from); a backward outside the context raises 'Trying to backward outside of the "
    "'allow_mutation_on_saved_tensors' context'.",
    section="Writing into inputs and views",
    ref="https://pytorch.org/docs/stable/autograd.html#torch.autograd.graph.allow_mutation_on_saved_tensors",
)
def test_allow_mutation_on_saved_tensors(device, dtype, check):
    a = torch.tensor([1.0, 2.0, 3.0], device=device, dtype=dtype, requires_grad=True)
    with torch.autograd.graph.allow_mutation_on_saved_tensors():
        b = a + 1
        c = b * b
        b.mul_(2)
        check.tensor("b after b.mul_(2)", b, [4.0, 6.0, 8.0], dtype=dtype, device=device)
        check.tensor("c", c, [4.0, 9.0, 16.0], dtype=dtype, device=device)
        check.works("c.sum().backward() inside the context", lambda: c.sum().backward())
    check.tensor("a.grad", a.grad, [4.0, 6.0, 8.0], dtype=dtype, device=device)

    with torch.autograd.graph.allow_mutation_on_saved_tensors():
        b = a + 1
        c = b * b
        b.mul_(2)
    with check.raises("c.sum().backward() after leaving the context", AssertionError, OUTSIDE_ALLOW_MUTATION):
        c.sum().backward()


@claim(
    "VIEW-005",
    "Under torch.no_grad() writing into a slice of a leaf is allowed: X[:, 0] = 0 writes the boundary values, X stays "
    "a leaf that requires grad, and u = (X**2).sum() then has du/dX = 2X = [0, 2t] per row.",
    section="Writing into inputs and views",
    ref="https://pytorch.org/docs/stable/notes/autograd.html#locally-disabling-gradient-computation",
)
def test_writing_into_a_leaf_under_no_grad(device, dtype, check):
    X = points(device, dtype, requires_grad=True)
    with torch.no_grad():
        X[:, 0] = 0

    check.flags("X", X, requires_grad=True, is_leaf=True, grad_fn=None)
    check.tensor("X", X, [[0.0, 2.0], [0.0, 4.0], [0.0, 6.0]], dtype=dtype, device=device)
    (X**2).sum().backward()
    check.tensor("X.grad", X.grad, [[0.0, 4.0], [0.0, 8.0], [0.0, 12.0]], dtype=dtype, device=device)
