"""The weird side, "Graph construction and constants": what may require grad, and what the graph lets you do."""

import pytest
import torch

from spec import by_version, claim
from spec.suite.support import attempt, scalar

NOT_FLOATING = r"Only Tensors of floating point and complex dtype can require gradients"
NOT_FLOATING_ANY_CASE = r"(?i)only Tensors of floating point (and complex )?dtype can require gradients"
RETAIN_WITHOUT_GRAD = r"can't retain_grad on Tensor that has requires_grad=False"
NON_LEAF_FLAG = r"you can only change requires_grad flags of leaf variables"
CONSTANT_INPUT = r"One of the differentiated Tensors does not require grad"
#: backward(inputs=a) with a 0-dim a called len(inputs) before wrapping the tensor in a tuple.
INPUTS_0DIM = by_version(
    "GRAPH-006/backward(inputs=a) with a 0-dim a",
    {"<2.8": r"^TypeError: len\(\) of a 0-d tensor$", ">=2.8": r"^returned$"},
    ref="https://github.com/pytorch/pytorch/pull/150975",
    note="issue https://github.com/pytorch/pytorch/issues/150883; merged 2025-04-10, first in torch 2.8 "
    "(observed: 2.4.1 raises, 2.8.0 returns)",
)


@claim(
    "GRAPH-001",
    "Integer and bool tensors cannot require grad: torch.tensor(3, requires_grad=True) raises "
    "'Only Tensors of floating point and complex dtype can require gradients', and so does requires_grad_().",
    section="Graph construction and constants",
)
@pytest.mark.parametrize("int_dtype", ["int64", "int32", "uint8", "bool"])
def test_integer_tensors_cannot_require_grad(device, int_dtype, check):
    int_dtype = getattr(torch, int_dtype)

    with check.raises("torch.tensor(3, requires_grad=True)", RuntimeError, NOT_FLOATING):
        torch.tensor(3, dtype=int_dtype, requires_grad=True, device=device)
    t = torch.tensor(3, dtype=int_dtype, device=device)
    with check.raises("t.requires_grad_()", RuntimeError, NOT_FLOATING_ANY_CASE):
        t.requires_grad_()
    check.false("t.requires_grad", t.requires_grad)


@claim(
    "GRAPH-002",
    "retain_grad() on a tensor that does not require grad raises "
    "\"can't retain_grad on Tensor that has requires_grad=False\".",
    section="Graph construction and constants",
)
def test_retain_grad_without_requires_grad_raises(device, dtype, form, check):
    c = scalar(3.0, form, device=device, dtype=dtype)
    d = c * c

    with check.raises("c.retain_grad()", RuntimeError, RETAIN_WITHOUT_GRAD):
        c.retain_grad()
    with check.raises("(c*c).retain_grad()", RuntimeError, RETAIN_WITHOUT_GRAD):
        d.retain_grad()


@claim(
    "GRAPH-003",
    "requires_grad cannot be switched off on a non-leaf: b.requires_grad_(False) for b = a*a raises "
    "'you can only change requires_grad flags of leaf variables' (and suggests detach()).",
    section="Graph construction and constants",
)
def test_requires_grad_off_on_non_leaf_raises(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a

    with check.raises("b.requires_grad_(False)", RuntimeError, NON_LEAF_FLAG + r"[\s\S]*detach\(\)"):
        b.requires_grad_(False)
    with check.raises("b.requires_grad = False", RuntimeError, NON_LEAF_FLAG):
        b.requires_grad = False
    check.flags("b", b, requires_grad=True, is_leaf=False, grad_fn=True)


@claim(
    "GRAPH-004",
    "torch.autograd.grad with respect to a tensor that does not require grad raises "
    "'One of the differentiated Tensors does not require grad', even when the output depends on it.",
    section="Graph construction and constants",
)
def test_grad_with_respect_to_a_constant_raises(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    c = scalar(2.0, form, device=device, dtype=dtype)
    b = a * c

    with check.raises("torch.autograd.grad(b, c)", RuntimeError, CONSTANT_INPUT):
        torch.autograd.grad(b, c)
    with check.raises("torch.autograd.grad(b, [a, c])", RuntimeError, CONSTANT_INPUT):
        torch.autograd.grad(b, [a, c])


@claim(
    "GRAPH-005",
    "A graph that saved no tensors can be backwarded twice without retain_graph: for b = a + 1, "
    "a.grad is 1 after the first backward() and 2 after the second, and torch.autograd.grad(b, a) returns 1 twice.",
    section="Graph construction and constants",
)
def test_graph_with_nothing_saved_backwards_twice(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a + 1

    check.works("the first b.backward()", lambda: b.backward())
    check.tensor("a.grad after the first backward()", a.grad, 1.0, dtype=dtype, device=device)
    check.works("the second b.backward()", lambda: b.backward())
    check.tensor("a.grad after the second backward()", a.grad, 2.0, dtype=dtype, device=device)

    c = a + 1
    for call in ("first", "second"):
        (g,) = check.works(f"the {call} torch.autograd.grad(c, a)", lambda: torch.autograd.grad(c, a))
        check.tensor(f"the {call} torch.autograd.grad(c, a)", g, 1.0, dtype=dtype, device=device)


@claim(
    "GRAPH-006",
    "backward(inputs=[a]) fills only a.grad: for b = a*c with a = 3 and c = 2 both requiring grad, "
    "a.grad is 2 and c.grad stays None; inputs=a (a tensor, not a list) does the same (for a 0-dim a since "
    "torch 2.8; before, it raised TypeError 'len() of a 0-d tensor').",
    section="Graph construction and constants",
)
def test_backward_inputs_fills_only_those(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    c = scalar(2.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * c

    check.works("b.backward(inputs=[a])", lambda: b.backward(inputs=[a]))

    check.tensor("a.grad", a.grad, 2.0, dtype=dtype, device=device, shape=a.shape)
    check.none("c.grad", c.grad)

    a.grad = None
    what, _ = attempt(lambda: (a * c).backward(inputs=a))
    if form == "0-dim":
        check.matches("(a * c).backward(inputs=a), a 0-dim", what, INPUTS_0DIM)
    else:
        check.equal("(a * c).backward(inputs=a)", what, "returned")
    if what == "returned":
        check.tensor("a.grad, inputs=a", a.grad, 2.0, dtype=dtype, device=device, shape=a.shape)
        check.none("c.grad, inputs=a", c.grad)


@claim(
    "GRAPH-007",
    "detach() gives a constant leaf: b.detach() for b = a*a neither requires grad nor has a grad_fn, "
    "is a leaf, and shares b's storage.",
    section="Graph construction and constants",
)
def test_detach_gives_a_constant_leaf(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a
    d = b.detach()

    check.flags("b.detach()", d, requires_grad=False, is_leaf=True, grad_fn=None)
    check.tensor("b.detach()", d, 9.0, dtype=dtype, device=device)
    check.true("b.detach() shares b's storage", d.data_ptr() == b.data_ptr())


@claim(
    "GRAPH-008",
    "Under torch.no_grad() the result of an operation on a tensor that requires grad is a constant leaf: "
    "a*a neither requires grad nor has a grad_fn, inside the block as in a function decorated with @torch.no_grad().",
    section="Graph construction and constants",
)
def test_no_grad_gives_a_constant_leaf(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)

    with torch.no_grad():
        b = a * a

    check.flags("a*a under torch.no_grad()", b, requires_grad=False, is_leaf=True, grad_fn=None)
    check.tensor("a*a under torch.no_grad()", b, 9.0, dtype=dtype, device=device)
    check.true("torch.is_grad_enabled() after the block", torch.is_grad_enabled())

    @torch.no_grad()
    def square(t):
        return t * t

    d = check.works("a function decorated with @torch.no_grad()", lambda: square(a))
    check.flags("a*a in a function decorated with @torch.no_grad()", d, requires_grad=False, is_leaf=True, grad_fn=None)
    check.true("torch.is_grad_enabled() after the call", torch.is_grad_enabled())
