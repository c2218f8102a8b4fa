"""The weird side, "In-place operations and views": in-place ops, saved tensors, and leaves that are not leaves."""

import pytest
import torch

from spec import by_version, claim
from spec.suite.support import scalar

#: The stable part of the messages below (the tensor's repr and the grad_fn named after them change).
INPLACE_ON_LEAF = r"a leaf Variable that requires grad is being used in an in-place operation"
MODIFIED_SAVED = r"one of the variables needed for gradient computation has been modified by an inplace operation"
#: The non-leaf .grad warning, to its last sentence (a typo, "informations", was fixed in torch 2.9;
#: RET-002 states the warning itself).
NON_LEAF_GRAD_ENDING = by_version(
    "INPLACE-005/non-leaf .grad warning",
    {
        "<2.9": r"(?s)not a leaf Tensor is being accessed.*\.retain_grad\(\).*pull/30531 for more informations\.",
        ">=2.9": r"(?s)not a leaf Tensor is being accessed.*\.retain_grad\(\).*pull/30531 for more information\.",
    },
    ref="https://github.com/pytorch/pytorch/pull/157554",
)
#: How the message names the modified tensor's producer: the node name lost its "Backward0" in
#: torch 2.13.
MODIFIED_SAVED_NODE = by_version(
    "INPLACE-003/producer named in the message",
    {"<2.13": r"which is output 0 of MulBackward0, is at version 1; expected version 0 instead",
     ">=2.13": r"which is output 0 of Mul, is at version 1; expected version 0 instead"},
    ref="https://github.com/pytorch/pytorch/pull/180383",
)
#: The hint at its end: since torch 2.11 it suggests anomaly mode without NaN checks.
MODIFIED_SAVED_HINT = by_version(
    "INPLACE-003/hint",
    {"<2.11": r"Hint: enable anomaly detection .* with torch\.autograd\.set_detect_anomaly\(True\)\.$",
     ">=2.11": r"Hint: enable anomaly detection .* with torch\.autograd\.set_detect_anomaly\(True, check_nan=False\)\.$"},
    ref="https://github.com/pytorch/pytorch/pull/83481",
    note="check_nan came with #83481 (torch 2.0); the PR that put it into this hint in 2.11 is not identified",
)


@claim(
    "INPLACE-001",
    "An in-place operation on a leaf that requires grad raises: a.add_(1) refuses with "
    "'a leaf Variable that requires grad is being used in an in-place operation'.",
    section="In-place operations and views",
)
def test_inplace_on_leaf_that_requires_grad_raises(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)

    with check.raises("a.add_(1)", RuntimeError, INPLACE_ON_LEAF):
        a.add_(1)
    check.tensor("a after the refused a.add_(1)", a, 3.0, dtype=dtype, device=device)
    check.flags("a", a, requires_grad=True, is_leaf=True, grad_fn=None)


@claim(
    "INPLACE-002",
    "Under torch.no_grad() (and torch.set_grad_enabled(False)) an in-place operation on a leaf that requires grad "
    "is allowed: a.add_(1) turns 3 into 4, and a stays a leaf that requires grad.",
    section="In-place operations and views",
)
def test_inplace_on_leaf_is_fine_under_no_grad(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)

    with torch.no_grad():
        check.works("a.add_(1) under torch.no_grad()", lambda: a.add_(1))

    check.tensor("a", a, 4.0, dtype=dtype, device=device)
    check.flags("a", a, requires_grad=True, is_leaf=True, grad_fn=None)
    b = a * a
    check.works("b.backward()", lambda: b.backward())
    check.tensor("a.grad for b = a*a after the update", a.grad, 8.0, dtype=dtype, device=device)

    other = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    with torch.set_grad_enabled(False):
        check.works("a.add_(1) under torch.set_grad_enabled(False)", lambda: other.add_(1))
    check.tensor("a after torch.set_grad_enabled(False)", other, 4.0, dtype=dtype, device=device)
    check.flags("a after torch.set_grad_enabled(False)", other, requires_grad=True, is_leaf=True, grad_fn=None)


@claim(
    "INPLACE-003",
    "Modifying in place a tensor that the graph saved for backward is allowed, but the backward pass then raises: "
    "for b = a + 1, c = b*b, b.mul_(2), c.sum().backward() says b 'has been modified by an inplace operation', "
    "and so does torch.autograd.grad(c.sum(), a).",
    section="In-place operations and views",
)
def test_modifying_a_saved_tensor_raises_at_backward(device, dtype, check):
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device, dtype=dtype)
    b = a + 1
    c = b * b  # saves b
    b.mul_(2)  # b is not a leaf: the in-place op itself is allowed

    check.tensor("b after b.mul_(2)", b, [4.0, 6.0, 8.0], dtype=dtype, device=device)
    with check.raises("c.sum().backward()", RuntimeError, MODIFIED_SAVED) as box:
        c.sum().backward()
    message = str(box["exception"])
    check.matches("the producer it names", message, MODIFIED_SAVED_NODE)
    check.matches("its hint", message, MODIFIED_SAVED_HINT)
    check.none("a.grad", a.grad)

    b = a + 1
    c = b * b
    b.mul_(2)
    with check.raises("torch.autograd.grad(c.sum(), a)", RuntimeError, MODIFIED_SAVED):
        torch.autograd.grad(c.sum(), a)


@claim(
    "INPLACE-004",
    "A view of a leaf that requires grad is not a leaf: a.view(3) requires grad and has a grad_fn, "
    "and backward() through it fills a.grad with 2a for (v*v).sum(), the gradient torch.autograd.grad returns.",
    section="In-place operations and views",
)
def test_view_of_a_leaf_is_not_a_leaf(device, dtype, check):
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device, dtype=dtype)
    v = a.view(3)

    check.flags("a.view(3)", v, requires_grad=True, is_leaf=False, grad_fn=True)
    check.works("(v * v).sum().backward()", lambda: (v * v).sum().backward())
    check.tensor("a.grad", a.grad, [2.0, 4.0, 6.0], dtype=dtype, device=device)
    (g,) = check.works("torch.autograd.grad((v * v).sum(), a)", lambda: torch.autograd.grad((v * v).sum(), a))
    check.tensor("torch.autograd.grad((v * v).sum(), a)", g, [2.0, 4.0, 6.0], dtype=dtype, device=device)


@claim(
    "INPLACE-005",
    "A 'leaf' built as torch.randn(3, requires_grad=True).double() is not a leaf: after backward() its .grad "
    "is None (reading it warns), because the gradient went to the discarded float32 tensor.",
    section="In-place operations and views",
)
def test_converted_leaf_has_no_grad(device, check):
    x = torch.randn(3, requires_grad=True, device=device).double()

    check.flags("x", x, requires_grad=True, is_leaf=False, grad_fn=True)
    check.works("x.sum().backward()", lambda: x.sum().backward())
    with check.warns("reading x.grad", UserWarning, NON_LEAF_GRAD_ENDING):
        grad = x.grad
    check.none("x.grad", grad)
    hidden = x.grad_fn.next_functions[0][0].variable  # the float32 tensor randn made
    check.flags("the discarded float32 leaf", hidden, requires_grad=True, is_leaf=True)
    check.tensor("the discarded leaf's .grad", hidden.grad, [1.0, 1.0, 1.0], dtype=torch.float32, device=device)


#: The node's name in the message changed (UnbindBackward0 on 2.0-2.8, Unbind on 2.13+); the rest is stable.
MULTI_OUTPUT_VIEW = (r"Output 0 of \w+ is a view and is being modified inplace\. This view is the output of a "
                     r"function that returns multiple views\. Such functions do not allow the output views to be "
                     r"modified inplace\.")

MULTI_VIEW_SPLITS = {
    "unbind()": lambda t: t.unbind(),
    "torch.unbind(t)": lambda t: torch.unbind(t),
    "split(2)": lambda t: t.split(2),
    "chunk(2)": lambda t: t.chunk(2),
}


@claim(
    "INPLACE-006",
    "An output of unbind (and of split and chunk) is a view that cannot be modified in place when autograd records: "
    "for t = x * 1 with x of 4 elements that requires grad, t.unbind()[0].mul_(2) raises RuntimeError 'Output 0 of "
    "... is a view and is being modified inplace. This view is the output of a function that returns multiple "
    "views', while the same write into a piece of a tensor that does not require grad works.",
    section="In-place operations and views",
    ref="https://pytorch.org/docs/stable/generated/torch.unbind.html",
)
@pytest.mark.parametrize("spelling", list(MULTI_VIEW_SPLITS))
def test_multi_output_views_refuse_in_place(spelling, device, dtype, check):
    split = MULTI_VIEW_SPLITS[spelling]
    x = torch.tensor([1.0, 2.0, 3.0, 4.0], device=device, dtype=dtype, requires_grad=True)
    pieces = split(x * 1)
    check.flags(f"(x * 1).{spelling}[0]", pieces[0], requires_grad=True, is_leaf=False, grad_fn=True)
    with check.raises(f"(x * 1).{spelling}[0].mul_(2)", RuntimeError, MULTI_OUTPUT_VIEW):
        pieces[0].mul_(2)
    plain = torch.tensor([1.0, 2.0, 3.0, 4.0], device=device, dtype=dtype)
    check.works(f"plain.{spelling}[0].mul_(2) without autograd", lambda: split(plain)[0].mul_(2))
    check.tensor(f"plain after plain.{spelling}[0].mul_(2)", plain[0], 2.0, dtype=dtype, device=device)
