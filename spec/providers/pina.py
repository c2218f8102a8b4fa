"""The PINA provider (function style): ``pina.operator.grad``, ``div`` and ``laplacian`` on LabelTensors.

PINA's conventions: the operators take ``LabelTensor`` s (``pina.LabelTensor``), output and input, and name
coordinates by label (``d=["x0"]``, ``components=["u"]``); they raise a TypeError on a plain tensor.  A
LabelTensor made from a tensor is a new autograd node (``AliasBackward0``), so a ``u`` computed from the plain
``x`` cannot be differentiated with respect to ``LabelTensor(x)``: PINA differentiates the model's output with
respect to the LabelTensor the model was called on.  The adapter therefore takes ``f`` (function style), labels
``x`` (``x0, x1, ...``), calls ``f`` on it, labels the output (``u`` or ``v0, v1, ...``) and calls the
operator; the results come back as plain tensors (``as_subclass(torch.Tensor)``, the same autograd node).
``grad(v, x)`` of an ``(N, m)`` output is ``(N, m * d)`` labelled ``d{v_j}d{x_k}``, components first: the
Jacobian is its reshape to ``(N, m, d)``; the Hessian is ``grad`` of ``grad``; ``partial`` of order k is
``grad(..., d=[x_i])`` applied k times.  Up to PINA 0.1 the module was ``pina.operators`` (plural).
"""

from __future__ import annotations

import torch

try:  # pragma: no cover - depends on the environment
    import importlib

    import pina as _pina

    try:
        _op = importlib.import_module("pina.operator")
    except ImportError:  # PINA <= 0.1
        _op = importlib.import_module("pina.operators")
    from pina import LabelTensor as _LT
except Exception as exc:  # noqa: BLE001 - any failure makes the provider unavailable, with the reason
    _pina, _REASON = None, f"PINA (pina-mathlab) is not importable here ({type(exc).__name__}: {' '.join(str(exc).split())})"
else:
    _REASON = None


def _version() -> str | None:
    try:
        from importlib.metadata import version

        return version("pina-mathlab")
    except Exception:  # noqa: BLE001
        return None


def _labelled(f, x):
    """``(LabelTensor x, LabelTensor f(x))`` with PINA's labels: x0.. for x, u (one column) or v0.. for f(x)."""
    lx = _LT(x, [f"x{i}" for i in range(x.shape[1])])
    out = f(lx)
    out = out.as_subclass(torch.Tensor) if isinstance(out, _LT) else out
    m = out.shape[1]
    return lx, _LT(out, ["u"] if m == 1 else [f"v{j}" for j in range(m)])


def _plain(t):
    return t.as_subclass(torch.Tensor) if isinstance(t, _LT) else t


def grad(f, x):
    lx, u = _labelled(f, x)
    return _plain(_op.grad(u, lx))


def partial(f, x, i, k):
    lx, y = _labelled(f, x)
    for _ in range(k):
        y = _op.grad(y, lx, d=[f"x{i}"])
    return _plain(y)


def hessian(f, x):
    lx, u = _labelled(f, x)
    d = x.shape[1]
    return _plain(_op.grad(_op.grad(u, lx), lx)).reshape(x.shape[0], d, d)


def laplacian(f, x):
    lx, u = _labelled(f, x)
    return _plain(_op.laplacian(u, lx))


def jacobian(f, x):
    lx, v = _labelled(f, x)
    return _plain(_op.grad(v, lx)).reshape(x.shape[0], v.shape[1], x.shape[1])


def divergence(f, x):
    lx, v = _labelled(f, x)
    return _plain(_op.div(v, lx))


class PinaProvider:
    """PINA (pina-mathlab): pina.operator grad / div / laplacian on LabelTensors."""

    name = "pina"
    style = "function"
    protocol = 1
    library = "pina-mathlab"
    version = _version() if _REASON is None else None
    supports_compile = False
    unavailable = _REASON

    def __init__(self):
        if _REASON is None:
            for op in (grad, partial, laplacian, hessian, divergence, jacobian):
                setattr(self, op.__name__, op)


PROVIDER = PinaProvider()
