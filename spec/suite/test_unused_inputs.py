"""Part 2, "Unused inputs": differentiating with respect to a tensor the output does not depend on."""

import pytest
import torch

from spec import by_version, claim, dtypes
from spec.check import not_applicable
from spec.suite.support import UNUSED, attempt

#: Since torch 2.13 the message names the index of the unused input instead of "One of the differentiated Tensors".
UNUSED_MESSAGE_AB = by_version(
    "UNUSED-001/message, inputs [a, b]",
    {
        "<2.13": r"^One of the differentiated Tensors appears to not have been used in the graph",
        ">=2.13": r"^The differentiated Tensor at index 1 appears to not have been used in the graph",
    },
    ref="https://github.com/pytorch/pytorch/pull/181917",
    note="issue https://github.com/pytorch/pytorch/issues/73697",
)
UNUSED_MESSAGE_B = by_version(
    "UNUSED-001/message, input b",
    {
        "<2.13": r"^One of the differentiated Tensors appears to not have been used in the graph",
        ">=2.13": r"^The differentiated Tensor at index 0 appears to not have been used in the graph",
    },
    ref="https://github.com/pytorch/pytorch/pull/181917",
    note="issue https://github.com/pytorch/pytorch/issues/73697",
)

#: materialize_grads arrived in torch 2.1; torch 2.0's autograd.grad rejects the keyword.

MATERIALIZE_OUTCOME = by_version(
    "UNUSED-003/grad(..., materialize_grads=True)",
    {"<2.1": r"^TypeError: .*unexpected keyword argument 'materialize_grads'", ">=2.1": r"^returned$"},
    ref="https://github.com/pytorch/pytorch/pull/97015",
)
MATERIALIZE_CONFLICT = by_version(
    "UNUSED-004/grad(..., allow_unused=False, materialize_grads=True)",
    {
        "<2.1": r"^TypeError: .*unexpected keyword argument 'materialize_grads'",
        ">=2.1": r"^ValueError: Expected allow_unused to be True or not passed when materialize_grads=True, "
        r"but got: allow_unused=False\.",
    },
    ref="https://github.com/pytorch/pytorch/pull/97015",
)
#: The outcome of a torch without materialize_grads (recorded by the check before it): "n/a", never "pass".
ABSENT = "torch.autograd.grad has no materialize_grads before torch 2.1"
#: Until the fix, the materialized zeros always required grad, whatever create_graph said.
MATERIALIZED_REQUIRES_GRAD = by_version(
    "UNUSED-005/materialized zeros require grad without create_graph",
    {"<2.1": "no materialize_grads", ">=2.1,<2.10": "True", ">=2.10": "False"},
    ref="https://github.com/pytorch/pytorch/pull/168295",
    note="issue https://github.com/pytorch/pytorch/issues/168059; merged 2025-11-21, first in torch 2.10",
)




def two_inputs(device, dtype):
    a = torch.tensor(3.0, requires_grad=True, device=device, dtype=dtype)
    b = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    return a, b


@claim(
    "UNUSED-001",
    "autograd.grad with respect to an input the output does not depend on raises RuntimeError '... appears to not "
    "have been used in the graph. Set allow_unused=True if this is the desired behavior' for y = a * 2 and "
    "inputs [a, b] or b; the message begins 'One of the differentiated Tensors' before torch 2.13 and names the "
    "input's index since.",
    section="Unused inputs",
)
@pytest.mark.parametrize("inputs", ["[a, b]", "b"])
def test_unused_input_raises(inputs, device, dtype, check):
    a, b = two_inputs(device, dtype)
    y = a * 2
    with check.raises(f"grad(a * 2, {inputs})", RuntimeError, UNUSED) as box:
        torch.autograd.grad(y, [a, b] if inputs == "[a, b]" else b)
    which = UNUSED_MESSAGE_AB if inputs == "[a, b]" else UNUSED_MESSAGE_B
    check.matches(f"grad(a * 2, {inputs}): how the message names the input", str(box["exception"]), which)


@claim(
    "UNUSED-002",
    "With allow_unused=True the gradient of an unused input is None: grad(a * 2, [a, b], allow_unused=True) "
    "at a = 3 is (2, None), and grad(a * a, [a, b], allow_unused=True, create_graph=True) is (6, None).",
    section="Unused inputs",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_allow_unused_gives_none(device, dtype, check):
    a, b = two_inputs(device, dtype)
    ga, gb = check.works("grad(a * 2, [a, b], allow_unused=True)", lambda: torch.autograd.grad(a * 2, [a, b], allow_unused=True))
    check.tensor("d(a*2)/da", ga, 2.0, dtype=dtype, device=device, shape=())
    check.none("d(a*2)/db", gb)
    ga, gb = check.works("grad(a * a, [a, b], allow_unused=True, create_graph=True)",
                         lambda: torch.autograd.grad(a * a, [a, b], allow_unused=True, create_graph=True))
    check.tensor("d(a*a)/da, create_graph=True", ga, 6.0, dtype=dtype, device=device, shape=())
    check.none("d(a*a)/db, create_graph=True", gb)


@claim(
    "UNUSED-003",
    "With materialize_grads=True (since torch 2.1) the gradient of an unused input is zeros of its shape instead "
    "of None: grad(a * 2, [a, b], materialize_grads=True) is (2, [0, 0]), with allow_unused=True given or not.",
    section="Unused inputs",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_materialize_grads_gives_zeros(device, dtype, check):
    a, b = two_inputs(device, dtype)
    what, result = attempt(lambda: torch.autograd.grad(a * 2, [a, b], materialize_grads=True))
    check.matches("grad(a * 2, [a, b], materialize_grads=True)", what, MATERIALIZE_OUTCOME)
    if result is None:
        not_applicable(ABSENT)
    ga, gb = result
    check.tensor("d(a*2)/da", ga, 2.0, dtype=dtype, device=device, shape=())
    check.tensor("d(a*2)/db (materialized)", gb, [0.0, 0.0], dtype=dtype, device=device, shape=(2,))
    ga, gb = check.works("grad(a * 2, [a, b], allow_unused=True, materialize_grads=True)", lambda: torch.autograd.grad(
        a * 2, [a, b], allow_unused=True, materialize_grads=True))
    check.tensor("d(a*2)/da, allow_unused=True", ga, 2.0, dtype=dtype, device=device, shape=())
    check.tensor("d(a*2)/db (materialized), allow_unused=True", gb, [0.0, 0.0], dtype=dtype, device=device, shape=(2,))


@claim(
    "UNUSED-004",
    "materialize_grads=True together with allow_unused=False is refused with ValueError 'Expected allow_unused to be "
    "True or not passed when materialize_grads=True' (since torch 2.1).",
    section="Unused inputs",
)
def test_materialize_grads_conflicts_with_allow_unused_false(device, dtype, check):
    a, b = two_inputs(device, dtype)
    what, _ = attempt(lambda: torch.autograd.grad(a * 2, [a, b], allow_unused=False, materialize_grads=True))
    check.matches("grad(a * 2, [a, b], allow_unused=False, materialize_grads=True)", what, MATERIALIZE_CONFLICT)
    if what.startswith("TypeError"):
        not_applicable(ABSENT)


@claim(
    "UNUSED-005",
    "The zeros that materialize_grads=True puts in place of an unused input's gradient require grad only when "
    "create_graph=True (since torch 2.10; from 2.1 to 2.9 they always required grad).",
    section="Unused inputs",
)
def test_materialized_zeros_follow_create_graph(device, dtype, check):
    a, b = two_inputs(device, dtype)
    what, result = attempt(lambda: torch.autograd.grad(a * 2, [a, b], materialize_grads=True))
    gb = None if result is None else result[1]
    observed = "no materialize_grads" if result is None else str(getattr(gb, "requires_grad", f"no tensor: {gb!r}"))
    check.equal("materialized zeros .requires_grad, create_graph=False", observed, MATERIALIZED_REQUIRES_GRAD)
    if result is None:
        not_applicable(ABSENT)
    check.flags("materialized zeros", result[1], is_leaf=True, grad_fn=None)
    _, gb = check.works("grad(a * a, [a, b], materialize_grads=True, create_graph=True)", lambda: torch.autograd.grad(
        a * a, [a, b], materialize_grads=True, create_graph=True))
    check.flags("materialized zeros, create_graph=True", gb, requires_grad=True)
    check.tensor("materialized zeros, create_graph=True", gb, [0.0, 0.0], dtype=dtype, device=device)
