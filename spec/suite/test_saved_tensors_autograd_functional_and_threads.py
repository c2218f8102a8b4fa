"""Chapter 3, "Saved tensors, autograd.functional and threads": saved-tensor hooks, the options of
torch.autograd.functional.jacobian, and backward from several threads."""

import threading

import pytest
import torch

from spec import by_version, claim
from spec.suite.support import SECOND_TIME

PACK_IN_PLACE = r"A saved tensor pack hook is modifying its input in place"
STRICT_INDEPENDENT = (
    r"Output 0 of the user-provided function is independent of input 1\. This is not allowed in strict mode\."
)


@claim(
    "SAVED-001",
    "Under torch.autograd.graph.saved_tensors_hooks the pack hook runs once per saved tensor when the graph is built "
    "(3 times for (x*x).sin()) and the unpack hook each time backward or a _saved_ attribute reads one.",
    section="Saved tensors, autograd.functional and threads",
)
def test_pack_and_unpack_counts(device, dtype, check):
    packs, unpacks = [], []

    def pack(t):
        packs.append(1)
        return t

    def unpack(t):
        unpacks.append(1)
        return t

    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        y = (x * x).sin()
    check.equal("pack calls after the forward", len(packs), 3)
    check.equal("unpack calls after the forward", len(unpacks), 0)
    y.sum().backward(retain_graph=True)
    check.equal("unpack calls after backward", len(unpacks), 3)
    check.equal("pack calls after backward", len(packs), 3)
    y.grad_fn._saved_self  # noqa: B018 - reading a saved tensor is the point
    check.equal("unpack calls after reading y.grad_fn._saved_self", len(unpacks), 4)
    check.close("x.grad = 2x cos(x*x)", x.grad, (2 * x * torch.cos(x * x)).detach())


@claim(
    "SAVED-002",
    "A saved-tensor pack hook that modifies its input in place raises 'A saved tensor pack hook is modifying its "
    "input in place'.",
    section="Saved tensors, autograd.functional and threads",
)
def test_pack_hook_must_not_modify_its_input(device, dtype, check):
    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    with check.raises("forward under a pack hook that does t.mul_(2)", RuntimeError, PACK_IN_PLACE):
        with torch.autograd.graph.saved_tensors_hooks(lambda t: t.mul_(2), lambda t: t):
            (x * 1) * (x * 1)


@claim(
    "SAVED-003",
    "torch.autograd.functional.jacobian with strict=True raises 'Output 0 of the user-provided function is "
    "independent of input 1' for an input the output does not depend on, and with strict=False (the default) it "
    "returns zeros for it.",
    section="Saved tensors, autograd.functional and threads",
)
def test_jacobian_strict(device, dtype, check):
    a = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
    b = torch.tensor([3.0, 4.0], device=device, dtype=dtype)

    def f(a, b):
        return a * 2

    with check.raises("jacobian(f, (a, b), strict=True)", RuntimeError, STRICT_INDEPENDENT):
        torch.autograd.functional.jacobian(f, (a, b), strict=True)
    ja, jb = check.works("jacobian(f, (a, b))", lambda: torch.autograd.functional.jacobian(f, (a, b)))
    check.tensor("d f / d a", ja, [[2.0, 0.0], [0.0, 2.0]], dtype=dtype, device=device)
    check.tensor("d f / d b", jb, [[0.0, 0.0], [0.0, 0.0]], dtype=dtype, device=device)


@claim(
    "SAVED-004",
    "torch.autograd.functional.jacobian with create_graph=True returns a Jacobian that can be differentiated (for "
    "a**3 at [1, 2] the gradient of its sum is [6, 12]); without it the Jacobian does not require grad.",
    section="Saved tensors, autograd.functional and threads",
)
def test_jacobian_create_graph(device, dtype, check):
    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    jac = torch.autograd.functional.jacobian(lambda a: a**3, x, create_graph=True)
    check.tensor("jacobian", jac, [[3.0, 0.0], [0.0, 12.0]], dtype=dtype, device=device)
    check.flags("the jacobian with create_graph=True", jac, requires_grad=True)
    (g,) = check.works("its gradient", lambda: torch.autograd.grad(jac.sum(), x))
    check.tensor("d/dx of its sum", g, [6.0, 12.0], dtype=dtype, device=device)
    plain = torch.autograd.functional.jacobian(lambda a: a**3, x)
    check.flags("the jacobian without it", plain, requires_grad=False)


@claim(
    "SAVED-005",
    "A graph that one thread has backwarded cannot be backwarded from another thread: the second thread's backward() "
    "fails with 'Trying to backward through the graph a second time' (x.grad stays [2, 4] for (x*x).sum() at "
    "[1, 2]), and with retain_graph=True two threads backwarding it concurrently both succeed and accumulate [4, 8].",
    section="Saved tensors, autograd.functional and threads",
)
@pytest.mark.parametrize("retain", [False, True], ids=["retain_graph=False", "retain_graph=True"])
def test_threads_on_a_shared_graph(device, dtype, retain, check):
    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    y = (x * x).sum()
    errors = []

    def work():
        try:
            y.backward(retain_graph=retain)
        except RuntimeError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=work) for _ in range(2)]
    if retain:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        # One after the other: started together, both may run before either frees the buffers (a race).
        for t in threads:
            t.start()
            t.join()
    check.equal("threads that failed", len(errors), 0 if retain else 1)
    for message in errors:
        check.matches("the failing thread's error", message, SECOND_TIME)
    check.tensor("x.grad", x.grad, [4.0, 8.0] if retain else [2.0, 4.0], dtype=dtype, device=device)


@claim("SAVED-005")
def test_threads_with_their_own_graphs(device, dtype, check):
    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    results = [None] * 4

    def work(i):
        results[i] = torch.autograd.grad((x * x).sum(), x)[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, r in enumerate(results):
        check.tensor(f"thread {i}'s autograd.grad", r, [2.0, 4.0], dtype=dtype, device=device)


DISABLED_HOOKS_MESSAGE = "saved-tensor hooks are off in this block"


@claim(
    "SAVED-006",
    "Inside torch.autograd.graph.disable_saved_tensors_hooks(message), entering saved_tensors_hooks raises "
    "RuntimeError with exactly that message; after the block they can be entered again.",
    section="Saved tensors, autograd.functional and threads",
)
def test_disable_saved_tensors_hooks(check):
    graph = torch.autograd.graph
    with graph.disable_saved_tensors_hooks(DISABLED_HOOKS_MESSAGE):
        with check.raises("saved_tensors_hooks inside disable_saved_tensors_hooks", RuntimeError,
                          DISABLED_HOOKS_MESSAGE):
            with graph.saved_tensors_hooks(lambda t: t, lambda t: t):
                pass

    def enter_again():
        with graph.saved_tensors_hooks(lambda t: t, lambda t: t):
            pass

    check.works("saved_tensors_hooks after the block", enter_again)


@claim(
    "SAVED-007",
    "saved_tensors_hooks are thread-local: a graph built in a thread started inside the context calls no pack hook "
    "(0 packs for (x*x).sin() there, 3 in the starting thread).",
    section="Saved tensors, autograd.functional and threads",
)
def test_saved_tensors_hooks_are_thread_local(device, dtype, check):
    counts = {"main": 0, "thread": 0}
    where = threading.local()

    def pack(t):
        counts[getattr(where, "name", "main")] += 1
        return t

    def build(name):
        where.name = name
        x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
        (x * x).sin().sum().backward()

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        thread = threading.Thread(target=build, args=("thread",))
        thread.start()
        thread.join(timeout=30)
        build("main")
    check.equal("pack calls for the graph built in the other thread", counts["thread"], 0)
    check.equal("pack calls for the graph built in the starting thread", counts["main"], 3)


@claim(
    "SAVED-008",
    "SavedTensor.register_hooks (on grad_fn._raw_saved_self) calls the pack hook once, at registration, and the "
    "unpack hook at every read of _saved_self and in backward, which then uses what unpack returns; after backward "
    "freed the graph, register_hooks raises 'after it has been freed'.",
    section="Saved tensors, autograd.functional and threads",
)
def test_register_hooks_on_a_saved_tensor(device, dtype, check):
    x = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    y = x.pow(2)
    calls = []
    y.grad_fn._raw_saved_self.register_hooks(lambda t: (calls.append("pack"), t)[1],
                                             lambda t: (calls.append("unpack"), t * 10)[1])
    check.equal("hook calls right after register_hooks", calls, ["pack"])
    check.tensor("grad_fn._saved_self through the unpack hook", y.grad_fn._saved_self, [10.0, 20.0],
                 dtype=dtype, device=device)
    y.sum().backward()
    check.equal("hook calls after one read and a backward", calls, ["pack", "unpack", "unpack"])
    check.tensor("x.grad computed from the unpacked (x * 10)", x.grad, [20.0, 40.0], dtype=dtype, device=device)
    with check.raises("register_hooks after backward freed the graph", RuntimeError, r"after it has been freed"):
        y.grad_fn._raw_saved_self.register_hooks(lambda t: t, lambda t: t)


#: torch.autograd.graph.increment_version arrived in torch 2.1; it takes a list of tensors since 2.5.
HAS_INCREMENT_VERSION = by_version(
    "SAVED-009/torch.autograd.graph.increment_version exists",
    {"<2.1": False, ">=2.1": True},
    ref="https://github.com/pytorch/pytorch/pull/96852",
    note="merged in March 2023, after the 2.0 branch cut: first released in 2.1 (absent on 2.0.1)",
)
INCREMENT_VERSION_TAKES_A_LIST = by_version(
    "SAVED-009/increment_version accepts a list of tensors",
    {"<2.5": False, ">=2.5": True},
    ref="https://github.com/pytorch/pytorch/pull/132652",
    note="merged in August 2024, first released in 2.5 (seen on 2.8.0, 2.13.0, 2.15.0)",
)
MODIFIED_SAVED = r"one of the variables needed for gradient computation has been modified by an inplace operation"
NOT_DETERMINISTIC = r"put_ does not have a deterministic implementation, but you set 'torch\.use_deterministic_algorithms"
WARN_ONLY = NOT_DETERMINISTIC + r"\(True, warn_only=True\)'"


@claim(
    "SAVED-009",
    "torch.autograd.graph.increment_version(t) (torch 2.1+) raises t._version by one without changing its values, "
    "so a backward that needs t as a saved tensor raises 'modified by an inplace operation' as after a real in-place "
    "change (for b = a * 1, c = b * b); since 2.5 it also takes a list of tensors.",
    section="Saved tensors, autograd.functional and threads",
)
def test_increment_version(device, dtype, check):
    graph = torch.autograd.graph
    check.equal("torch.autograd.graph.increment_version exists", hasattr(graph, "increment_version"),
                HAS_INCREMENT_VERSION)
    a = torch.tensor([1.0, 2.0], requires_grad=True, device=device, dtype=dtype)
    b = a * 1
    c = b * b
    if not hasattr(graph, "increment_version"):
        check.absent("torch.autograd.graph.increment_version(b)", lambda: graph.increment_version(b), AttributeError,
                     "increment_version", reason="torch.autograd.graph.increment_version arrived in torch 2.1")
    before = b._version
    graph.increment_version(b)
    check.equal("b._version after increment_version(b)", b._version - before, 1)
    check.tensor("b's values after increment_version(b)", b, [1.0, 2.0], dtype=dtype, device=device)
    with check.raises("c.sum().backward() after increment_version(b)", RuntimeError, MODIFIED_SAVED):
        c.sum().backward()
    p, q = torch.ones(1, device=device, dtype=dtype), torch.ones(1, device=device, dtype=dtype)
    if INCREMENT_VERSION_TAKES_A_LIST.current():
        check.works("increment_version([p, q])", lambda: graph.increment_version([p, q]))
        check.equal("versions of p and q after increment_version([p, q])", (p._version, q._version), (1, 1))


def put_graph(device, dtype):
    """y = x.put(idx, src) (accumulate=False) built outside deterministic mode: its backward needs put_ too."""
    x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True, device=device, dtype=dtype)
    src = torch.tensor([10.0, 20.0], requires_grad=True, device=device, dtype=dtype)
    return x, src, x.put(torch.tensor([0, 2], device=device), src)


@claim(
    "SAVED-010",
    "torch.use_deterministic_algorithms(True) reaches the backward: on the CPU the backward of Tensor.put "
    "(accumulate=False), whose forward ran outside the mode, raises RuntimeError 'put_ does not have a "
    "deterministic implementation', while the CPU backward of the operations documented as nondeterministic on "
    "CUDA (index_select, gather, index_add, scatter_add, bilinear interpolation) runs and gives the usual gradients.",
    section="Saved tensors, autograd.functional and threads",
    apis=("Tensor.backward", "torch.autograd.grad", "torch.use_deterministic_algorithms"),
)
def test_deterministic_mode_reaches_the_backward(dtype, check):
    x, src, y = put_graph("cpu", dtype)
    was, was_warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    v = torch.tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=dtype)
    idx = torch.tensor([0, 2, 2])
    img = torch.ones(1, 1, 2, 2, requires_grad=True, dtype=dtype)
    try:
        torch.use_deterministic_algorithms(True)
        check.true("torch.are_deterministic_algorithms_enabled()", torch.are_deterministic_algorithms_enabled())
        with check.raises("backward of x.put(idx, src) in deterministic mode", RuntimeError, NOT_DETERMINISTIC):
            y.sum().backward()
        cases = {
            "index_select": (lambda: v.index_select(0, idx), [1.0, 0.0, 2.0]),
            "gather": (lambda: v.gather(0, idx), [1.0, 0.0, 2.0]),
            "index_add": (lambda: torch.zeros(3, dtype=dtype).index_add(0, idx, v), [1.0, 1.0, 1.0]),
            "scatter_add": (lambda: torch.zeros(3, dtype=dtype).scatter_add(0, idx, v), [1.0, 1.0, 1.0]),
        }
        for name, (fn, want) in cases.items():
            (g,) = check.works(f"grad of {name} in deterministic mode",
                               lambda fn=fn: torch.autograd.grad(fn().sum(), v))
            check.tensor(f"d sum({name}) / dv", g, want, dtype=dtype, device="cpu")
        (g,) = check.works("grad of bilinear interpolation in deterministic mode", lambda: torch.autograd.grad(
            torch.nn.functional.interpolate(img, scale_factor=2, mode="bilinear").sum(), img))
        check.tensor("d sum(interpolate(img, 2x, bilinear)) / d img", g, [[[[4.0, 4.0], [4.0, 4.0]]]], dtype=dtype,
                     device="cpu")
    finally:
        torch.use_deterministic_algorithms(was, warn_only=was_warn)


@claim(
    "SAVED-011",
    "With torch.use_deterministic_algorithms(True, warn_only=True) the same put backward warns (UserWarning "
    "'... warn_only=True') instead of raising and gives the gradients of put: x.grad = [0, 1, 0, 1] (the written "
    "places get none) and src.grad = [1, 1]; is_deterministic_algorithms_warn_only_enabled() is then True.",
    section="Saved tensors, autograd.functional and threads",
)
def test_deterministic_warn_only(dtype, check):
    x, src, y = put_graph("cpu", dtype)
    was, was_warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
        check.true("torch.is_deterministic_algorithms_warn_only_enabled()",
                   torch.is_deterministic_algorithms_warn_only_enabled())
        with check.warns("backward of x.put(idx, src) with warn_only=True", UserWarning, WARN_ONLY):
            check.works("y.sum().backward() with warn_only=True", lambda: y.sum().backward())
    finally:
        torch.use_deterministic_algorithms(was, warn_only=was_warn)
    check.tensor("x.grad", x.grad, [0.0, 1.0, 0.0, 1.0], dtype=dtype, device="cpu")
    check.tensor("src.grad", src.grad, [1.0, 1.0], dtype=dtype, device="cpu")
