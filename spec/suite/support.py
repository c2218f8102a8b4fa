"""Small helpers the claims share (kept tiny, so each test still reads like the article)."""

import contextlib

import torch

#: Stable fragments of torch messages that several claims match.
SECOND_TIME = r"(?s)Trying to backward through the graph a second time.*retain_graph=True"
NO_GRAD_FN = r"element 0 of tensors does not require grad and does not have a grad_fn"
NON_LEAF_GRAD = r"(?s)\.grad attribute of a Tensor that is not a leaf Tensor is being accessed.*\.retain_grad\(\)"
REFERENCE_CYCLE = r"(?s)backward\(\) with create_graph=True will create a reference cycle.*autograd\.grad"


def scalar(value, form, **kwargs):
    """``torch.tensor(value)`` in the 0-dim form, ``torch.tensor([value])`` in the 1-element form."""
    return torch.tensor(value if form == "0-dim" else [value], **kwargs)

#: The stable part of the unused-input error, in every torch 2.0 .. 2.15 (the start of the
#: message changed in 2.13: see UNUSED-001).
UNUSED = r"appears to not have been used in the graph\. Set allow_unused=True if this is the desired behavior"

#: The first torch.func transform in a process may import torch._dynamo, which warns that
#: torch.jit.script is deprecated (a DeprecationWarning on 2.10-2.13, a FutureWarning from
#: 2.14; nothing before 2.10). Claims that are not about it tolerate it: see spec.check.tolerating.
LAZY_IMPORT = "torch.jit.script. is deprecated"

#: Tracing a higher-order operator may warn that torch.jit.script_method is deprecated (2.10 and later).
JIT_SCRIPT_METHOD = "torch.jit.script_method. is deprecated"

#: Warnings that torch's compile machinery (Dynamo's imports and its tracing) raises on its own way, which no claim
#: is about: (category, stable fragment, where it comes from).  :func:`quiet_dynamo` tolerates them all, so a claim
#: that compiles or traces states only what it is about, and a new one of these is added here, once.
DYNAMO_NOISE = (
    (Warning, LAZY_IMPORT, "the first import of torch._dynamo (DeprecationWarning on 2.10-2.13, FutureWarning from 2.14)"),
    (Warning, JIT_SCRIPT_METHOD, "tracing a higher-order operator (cond, scan, while_loop, export; 2.10 and later)"),
    (UserWarning, "Dynamo does not know how to trace the builtin", "a guard builtin that Dynamo graph-breaks on (2.7, inductor)"),
)


@contextlib.contextmanager
def quiet_dynamo(*extra):
    """Tolerate :data:`DYNAMO_NOISE` (and ``extra`` ``(category, fragment)`` pairs) in the block; see
    :func:`spec.check.tolerating`, which each of them goes through."""
    from spec.check import tolerating

    with contextlib.ExitStack() as stack:
        for category, fragment, *_why in (*DYNAMO_NOISE, *extra):
            stack.enter_context(tolerating(category, fragment))
        yield


def outcome(fn):
    """``"returned"``, or ``"<ExceptionType>: <message>"``: what a call did, as one recordable string."""
    return attempt(fn)[0]


def attempt(fn):
    """``("returned", value)`` or ``("<ExceptionType>: <message>", None)``: what a call did."""
    from spec.check import message_text

    try:
        return "returned", fn()
    except Exception as exc:  # noqa: BLE001 - the outcome is what we observe
        return f"{type(exc).__name__}: {message_text(exc)}", None


def read_grad(check, name, tensor):
    """``tensor.grad``, read inside a recorded "no warning" check: a non-leaf whose gradient was not
    retained warns on the read, and that must fail a recorded check, not end the test with the warning."""
    with check.no_warning(f"reading {name}", UserWarning, NON_LEAF_GRAD):
        grad = tensor.grad
    return grad
