"""Part 1, "Multiple backward calls and retain_graph"."""

from spec import claim, dtypes
from spec.suite.support import SECOND_TIME, read_grad, scalar


@claim(
    "BWD-001",
    "A second backward() through a graph whose saved tensors were freed raises a RuntimeError "
    "that suggests retain_graph=True.",
    section="Multiple backward calls and retain_graph",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_second_backward_raises(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a
    b.retain_grad()
    check.works("first b.backward()", lambda: b.backward())

    with check.raises("second b.backward()", RuntimeError, SECOND_TIME):
        b.backward()
    check.tensor("a.grad after the failed call", a.grad, 6.0)


@claim(
    "BWD-002",
    "With retain_graph=True, repeated backward() calls accumulate into .grad: a.grad is 6, 12, 18 "
    "and the retained b.grad is 1, 2, 3.",
    section="Multiple backward calls and retain_graph",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_retained_graph_accumulates(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a
    b.retain_grad()

    check.works("b.backward(retain_graph=True), call 1", lambda: b.backward(retain_graph=True))
    check.tensor("a.grad after call 1", a.grad, 6.0, dtype=dtype)
    check.tensor("b.grad after call 1", read_grad(check, "b.grad", b), 1.0, dtype=dtype)

    check.works("b.backward(retain_graph=True), call 2", lambda: b.backward(retain_graph=True))
    check.tensor("a.grad after call 2", a.grad, 12.0, dtype=dtype)
    check.tensor("b.grad after call 2", read_grad(check, "b.grad", b), 2.0, dtype=dtype)

    check.works("b.backward(retain_graph=False), call 3", lambda: b.backward(retain_graph=False))
    check.tensor("a.grad after call 3", a.grad, 18.0, dtype=dtype)
    check.tensor("b.grad after call 3", read_grad(check, "b.grad", b), 3.0, dtype=dtype)


@claim(
    "BWD-003",
    "After a backward() call with retain_graph=False, the next backward() through that graph raises.",
    section="Multiple backward calls and retain_graph",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_backward_after_retain_graph_false_raises(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a
    for call, retain in enumerate([True, True, False], start=1):
        check.works(f"b.backward(retain_graph={retain}), call {call}", lambda r=retain: b.backward(retain_graph=r))

    with check.raises("fourth b.backward()", RuntimeError, SECOND_TIME):
        b.backward(retain_graph=False)
    check.tensor("a.grad", a.grad, 18.0)
