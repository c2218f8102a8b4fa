"""Small helpers the claims share (kept tiny, so each test still reads like the article)."""

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
