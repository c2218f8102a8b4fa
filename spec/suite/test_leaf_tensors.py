"""Part 1, "Leaf tensors": which tensors are leaves, and how requires_grad is inherited."""

import itertools

import pytest
import torch

from spec import claim, dtypes
from spec.suite.support import scalar


@claim("LEAF-001", "A tensor created by the user with requires_grad=True is a leaf.", section="Leaf tensors")
@dtypes("float32", "float64", "float16", "bfloat16")
def test_user_tensor_with_requires_grad_is_leaf(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)

    check.flags("a", a, requires_grad=True, is_leaf=True, grad_fn=None)


@claim(
    "LEAF-002",
    "The result of an operation on a tensor that requires grad is not a leaf: it requires grad and has a grad_fn.",
    section="Leaf tensors",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_result_of_op_is_not_leaf(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a

    check.flags("b", b, requires_grad=True, is_leaf=False, grad_fn=True)
    check.equal("type(b.grad_fn).__name__", type(b.grad_fn).__name__, "MulBackward0")


@claim("LEAF-003", "A tensor that does not require grad is a leaf.", section="Leaf tensors")
@dtypes("float32", "float64", "float16", "bfloat16")
def test_constant_is_leaf(device, dtype, form, check):
    c = scalar(5.0, form, device=device, dtype=dtype)

    check.flags("c", c, requires_grad=False, is_leaf=True, grad_fn=None)


@claim(
    "LEAF-004",
    "A computed tensor that does not require grad is still a leaf, by convention, and has no grad_fn.",
    section="Leaf tensors",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_computed_constant_is_leaf(device, dtype, form, check):
    c = scalar(5.0, form, device=device, dtype=dtype)
    d = c * c  # sic!

    check.flags("d", d, requires_grad=False, is_leaf=True, grad_fn=None)


@claim(
    "LEAF-005",
    "PyTorch documents the convention: every tensor whose requires_grad is False is a leaf.",
    section="Leaf tensors",
)
def test_leaf_convention_is_documented(check):
    doc = torch.Tensor.is_leaf.__doc__ or ""

    check.matches(
        "torch.Tensor.is_leaf.__doc__",
        doc,
        r"All Tensors that have\s+:attr:`requires_grad`\s+which is\s+``False``\s+will be leaf Tensors\s+by convention",
    )


@claim(
    "INHERIT-001",
    "The result of an operation requires grad if and only if at least one of its inputs requires grad.",
    section="Leaf tensors",
)
@pytest.mark.parametrize("flags", list(itertools.product([True, False], repeat=3)), ids=lambda f: "".join("TF"[not x] for x in f))
def test_requires_grad_is_inherited_from_any_input(device, dtype, flags, check):
    a, b, c = (torch.tensor(5.0, requires_grad=f, device=device, dtype=dtype) for f in flags)

    d = torch.sin(a * b * c)

    check.equal("d.requires_grad", d.requires_grad, any(x.requires_grad for x in (a, b, c)))
    check.equal("d.is_leaf", d.is_leaf, not any(flags))
    check.equal("d.grad_fn is None", d.grad_fn is None, not any(flags))
