"""Part 1, "The create_graph argument" and derivatives with torch.autograd.grad."""

import torch

from spec import claim, dtypes, isolated
from spec.check import message_text, tolerating
from spec.suite.support import NO_GRAD_FN, REFERENCE_CYCLE, SECOND_TIME, read_grad, scalar


@claim(
    "CG-001",
    "backward(create_graph=True) makes a.grad part of the graph (it requires grad and is not a leaf), "
    "while the retained b.grad stays a constant leaf.",
    section="The create_graph argument",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_create_graph_puts_grad_in_graph(device, dtype, form, check):
    a = scalar(5.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a
    b.retain_grad()
    with tolerating(UserWarning, "reference cycle"):
        check.works("b.backward(create_graph=True)", lambda: b.backward(create_graph=True))

    check.flags("a.grad", a.grad, requires_grad=True, is_leaf=False, grad_fn=True)
    check.tensor("a.grad", a.grad, 10.0, dtype=dtype)
    b_grad = read_grad(check, "b.grad", b)
    check.flags("b.grad", b_grad, requires_grad=False, is_leaf=True, grad_fn=None)
    check.tensor("b.grad", b_grad, 1.0, dtype=dtype)


@claim(
    "CG-002",
    "b.grad is constant because backward()'s implicit seed of 1 is constant: seeding with a tensor "
    "that requires grad makes the retained b.grad require grad.",
    section="The create_graph argument",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_grad_of_root_is_the_seed(device, dtype, form, check):
    a = scalar(5.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a
    b.retain_grad()
    seed = scalar(1.0, form, requires_grad=True, device=device, dtype=dtype)
    with tolerating(UserWarning, "reference cycle"):
        check.works("b.backward(seed, create_graph=True)", lambda: b.backward(seed, create_graph=True))

    b_grad = read_grad(check, "b.grad (seeded)", b)
    check.flags("b.grad (seeded)", b_grad, requires_grad=True, is_leaf=False)
    check.tensor("b.grad (seeded)", b_grad, 1.0, dtype=dtype)
    (d_bgrad_d_seed,) = check.works("torch.autograd.grad(b.grad, seed)", lambda: torch.autograd.grad(b_grad, seed))
    check.tensor("d(b.grad)/d(seed)", d_bgrad_d_seed, 1.0, dtype=dtype)


@claim(
    "CG-003",
    "create_graph=True implies retain_graph=True when retain_graph is not given, for backward() and for "
    "torch.autograd.grad: a second backward() works and a.grad doubles, and a second grad() returns 10 again.",
    section="The create_graph argument",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_create_graph_retains_graph(device, dtype, form, check):
    a = scalar(5.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a
    with tolerating(UserWarning, "reference cycle"):
        check.works("b.backward(create_graph=True), call 1", lambda: b.backward(create_graph=True))
        check.tensor("a.grad after call 1", a.grad, 10.0, dtype=dtype)
        check.works("b.backward(create_graph=True), call 2", lambda: b.backward(create_graph=True))
    check.tensor("a.grad after call 2", a.grad, 20.0, dtype=dtype)
    with check.raises("explicit retain_graph=False then backward()", RuntimeError, SECOND_TIME):
        with tolerating(UserWarning, "reference cycle"):
            b.backward(create_graph=True, retain_graph=False)
        b.backward()


@claim("CG-003")
def test_create_graph_retains_graph_in_autograd_grad(device, dtype, check):
    a = torch.tensor(5.0, requires_grad=True, device=device, dtype=dtype)
    b = a * a
    for call in (1, 2):
        (db_da,) = check.works(f"torch.autograd.grad(b, a, create_graph=True), call {call}",
                               lambda: torch.autograd.grad(b, a, create_graph=True))
        check.tensor(f"torch.autograd.grad(b, a, create_graph=True), call {call}", db_da, 10.0, dtype=dtype)
    check.none("a.grad", a.grad)


CG_WARN_ONCE = """
import warnings, torch
a = torch.tensor(5.0, requires_grad=True, device={device!r}, dtype=torch.{dtype})
seen = []
for _ in range(3):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (a * a).backward(create_graph=True)
    seen.append([str(w.message) for w in caught if issubclass(w.category, UserWarning)])
report(seen)
"""


@claim(
    "CG-004",
    "backward(create_graph=True) warns once per process of a reference cycle and recommends autograd.grad.",
    section="The create_graph argument",
)
@isolated.prefetch(lambda device, **_: CG_WARN_ONCE.format(device=device, dtype="float32"))
def test_create_graph_warns_once_per_process(device, check):
    # Once per process: only a fresh interpreter shows the first call, whatever ran here before.
    seen = [[message_text(m) for m in call] for call in isolated.run(CG_WARN_ONCE.format(device=device, dtype="float32"))]

    check.equal("reference-cycle warnings per call in a fresh process", [len(w) for w in seen], [1, 0, 0])
    check.matches("first call's warning", seen[0][0], REFERENCE_CYCLE)


@claim("CG-004")
def test_create_graph_warns_every_time_with_warn_always(device, dtype, warn_always, check):
    a = torch.tensor(5.0, requires_grad=True, device=device, dtype=dtype)
    for call in (1, 2):
        with check.warns(f"backward(create_graph=True) call {call}", UserWarning, REFERENCE_CYCLE):
            (a * a).backward(create_graph=True)


@claim("CG-004")
def test_autograd_grad_never_warns_of_reference_cycle(device, dtype, warn_always, check):
    a = torch.tensor(5.0, requires_grad=True, device=device, dtype=dtype)
    with check.no_warning("torch.autograd.grad(create_graph=True)", UserWarning, "reference cycle"):
        (da,) = torch.autograd.grad(a * a, a, create_graph=True)
    check.tensor("da", da, 10.0)


@claim(
    "AG-001",
    "torch.autograd.grad returns a tuple with one gradient per input, whether inputs is a tensor or a list: for "
    "b = a*a*a at a = 3 it is (27,), and with create_graph=True that gradient requires grad.",
    section="The create_graph argument",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_autograd_grad_returns_tuple(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a * a
    result = torch.autograd.grad(b, a, create_graph=True)

    check.equal("type(result)", type(result), tuple)
    check.equal("len(result)", len(result), 1)
    db_da = result[0]
    check.tensor("db_da", db_da, 27.0, dtype=dtype, device=device, shape=a.shape)
    check.flags("db_da", db_da, requires_grad=True, is_leaf=False)
    listed = check.works("torch.autograd.grad(b, [a])", lambda: torch.autograd.grad(a * a * a, [a]))
    check.equal("type(torch.autograd.grad(b, [a]))", type(listed), tuple)
    check.equal("len(torch.autograd.grad(b, [a]))", len(listed), 1)
    check.tensor("torch.autograd.grad(b, [a])[0]", listed[0], 27.0, dtype=dtype, device=device, shape=a.shape)


@claim(
    "AG-002",
    "Differentiating a first derivative taken with create_graph=True gives the second derivative: "
    "18 for b = a*a*a at a = 3, and it requires grad when create_graph=True again; "
    "torch.func.grad(torch.func.grad(f)) gives the same 18.",
    section="The create_graph argument",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_second_derivative(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a * a
    db_da = check.works("grad(b, a, create_graph=True)", lambda: torch.autograd.grad(b, a, create_graph=True))[0]
    d2b_da2 = check.works("grad(db_da, a, create_graph=True)", lambda: torch.autograd.grad(db_da, a, create_graph=True))[0]

    check.tensor("d2b_da2", d2b_da2, 18.0, dtype=dtype, shape=a.shape)
    check.equal("d2b_da2.item()", d2b_da2.item(), 18.0)
    check.flags("d2b_da2", d2b_da2, requires_grad=True, is_leaf=False)
    d3b_da3 = check.works("grad(d2b_da2, a)", lambda: torch.autograd.grad(d2b_da2, a))[0]
    check.tensor("d3b_da3", d3b_da3, 6.0, dtype=dtype)
    check.flags("d3b_da3", d3b_da3, requires_grad=False, is_leaf=True)

    def first(t):
        return torch.func.grad(lambda s: (s * s * s).sum())(t).sum()

    by_func = check.works("torch.func.grad(torch.func.grad(f))", lambda: torch.func.grad(first)(a.detach()))
    check.tensor("torch.func.grad(torch.func.grad(f))", by_func, 18.0, dtype=dtype, shape=a.shape)


@claim(
    "AG-003",
    "torch.autograd.grad returns gradients without touching .grad: a.grad stays None.",
    section="The create_graph argument",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_autograd_grad_does_not_accumulate(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a * a
    db_da = torch.autograd.grad(b, a, create_graph=True)[0]
    check.works("torch.autograd.grad(db_da, a)", lambda: torch.autograd.grad(db_da, a))

    check.none("a.grad", a.grad)
    check.tensor("db_da", db_da, 27.0)


@claim(
    "AG-004",
    "Without create_graph, the first derivative is a constant, so differentiating it again raises a RuntimeError, "
    "with torch.autograd.grad and with backward().",
    section="The create_graph argument",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_no_second_derivative_without_create_graph(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a * a
    db_da = torch.autograd.grad(b, a)[0]

    check.tensor("db_da", db_da, 27.0)
    check.flags("db_da", db_da, requires_grad=False, is_leaf=True, grad_fn=None)
    with check.raises("grad(db_da, a)", RuntimeError, NO_GRAD_FN):
        torch.autograd.grad(db_da, a)
    with check.raises("db_da.backward()", RuntimeError, NO_GRAD_FN):
        db_da.backward()
    check.none("a.grad", a.grad)


@claim(
    "AG-005",
    "torch.autograd.grad frees the graph like backward(): a second call through it raises unless retain_graph=True "
    "(retain_graph not given or False).",
    section="The create_graph argument",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_autograd_grad_frees_graph(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a * a
    first = check.works("grad(b, a, retain_graph=True)", lambda: torch.autograd.grad(b, a, retain_graph=True))[0]
    second = check.works("grad(b, a) after it", lambda: torch.autograd.grad(b, a))[0]
    check.tensor("grad with retain_graph=True", first, 27.0)
    check.tensor("grad after it", second, 27.0)

    with check.raises("third torch.autograd.grad(b, a)", RuntimeError, SECOND_TIME):
        torch.autograd.grad(b, a)
    c = a * a * a
    check.works("grad(c, a, retain_graph=False)", lambda: torch.autograd.grad(c, a, retain_graph=False))
    with check.raises("grad(c, a) after retain_graph=False", RuntimeError, SECOND_TIME):
        torch.autograd.grad(c, a)
