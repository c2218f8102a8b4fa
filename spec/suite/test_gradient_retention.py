"""Part 1, "Gradient retention": which tensors keep their .grad after backward(), and retain_grad()."""

import torch

from spec import by_version, claim, dtypes
from spec.check import message_text
from spec.suite.support import NON_LEAF_GRAD, scalar

#: The warning's last sentence: a typo ("informations") was fixed in torch 2.9.
NON_LEAF_GRAD_ENDING = by_version(
    "RET-002/warning ending",
    {
        "<2.9": r"See github\.com/pytorch/pytorch/pull/30531 for more informations\.$",
        ">=2.9": r"See github\.com/pytorch/pytorch/pull/30531 for more information\.$",
    },
    ref="https://github.com/pytorch/pytorch/pull/157554",
    note="the warning itself: https://github.com/pytorch/pytorch/pull/30531; the PR of the 2.9 wording fix is not confirmed",
)


@claim(
    "RET-001",
    "backward() fills the .grad of the leaves that require grad: for b = a*a at a = 3, a.grad is 6, the value "
    "torch.autograd.grad(b, a) returns.",
    section="Gradient retention",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_backward_fills_leaf_grad(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a
    check.works("b.backward()", lambda: b.backward())

    check.tensor("a.grad", a.grad, 6.0, dtype=dtype, device=device, shape=a.shape)
    (db_da,) = check.works("torch.autograd.grad(a * a, a)", lambda: torch.autograd.grad(a * a, a))
    check.tensor("torch.autograd.grad(a * a, a)[0]", db_da, 6.0, dtype=dtype, device=device, shape=a.shape)


@claim(
    "RET-002",
    "A non-leaf's .grad stays None after backward(), and every read of it warns to use .retain_grad().",
    section="Gradient retention",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_non_leaf_grad_is_none_and_warns_on_every_read(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a
    b.backward()

    with check.warns("first read of b.grad", UserWarning, NON_LEAF_GRAD) as caught:
        first = b.grad
    with check.warns("second read of b.grad", UserWarning, NON_LEAF_GRAD):
        second = b.grad
    check.matches("the warning's last sentence", message_text(caught[0].message), NON_LEAF_GRAD_ENDING)
    check.none("b.grad", first)
    check.none("b.grad (read again)", second)
    check.false("b.retains_grad", b.retains_grad)


@claim(
    "RET-003",
    "retain_grad() makes a non-leaf keep its gradient: b.grad is 1 for b = a*a, and reading it does not warn.",
    section="Gradient retention",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_retain_grad_keeps_non_leaf_grad(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a
    b.retain_grad()
    b.backward()

    check.true("b.retains_grad", b.retains_grad)
    with check.no_warning("reading b.grad"):
        b_grad = b.grad
    check.tensor("b.grad", b_grad, 1.0, dtype=dtype, device=device, shape=b.shape)
    check.tensor("a.grad", a.grad, 6.0, dtype=dtype, device=device)


@claim(
    "RET-004",
    "retains_grad is True only for a non-leaf after retain_grad(): False for a leaf that requires grad and for "
    "b = a * a before retain_grad(), True after it; retain_grad() on a leaf is a no-op (retains_grad stays False, "
    "and backward() fills a.grad as always).",
    section="Gradient retention",
    ref="https://pytorch.org/docs/stable/generated/torch.Tensor.retains_grad.html",
)
def test_retains_grad_flag(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    check.false("a.retains_grad (a leaf)", a.retains_grad)
    b = a * a
    check.false("b.retains_grad before b.retain_grad()", b.retains_grad)
    b.retain_grad()
    check.true("b.retains_grad after b.retain_grad()", b.retains_grad)
    check.works("a.retain_grad() on a leaf", a.retain_grad)
    check.false("a.retains_grad after a.retain_grad()", a.retains_grad)
    b.backward()
    check.tensor("a.grad", a.grad, 6.0, dtype=dtype, device=device, shape=a.shape)
    check.tensor("b.grad (retained)", b.grad, 1.0, dtype=dtype, device=device, shape=b.shape)
