"""The torchphysics provider (function style): ``torchphysics.utils`` grad, partial, laplacian, div and jac.

torchphysics' conventions: an operator takes the model's output and one or more *variables*, each a tensor of
shape ``(N, k)`` that the model's input was assembled from (``tp.spaces.R1("x") * R1("y")`` gives one
variable per coordinate); ``partial(u, x, x)`` differentiates twice with respect to the variable ``x``, summing
over its columns, so a per-axis partial needs one variable per axis.  The adapter takes ``f`` and gives each
coordinate its own variable, ``x[:, i:i+1]`` (views of ``x``, so derivatives reach ``x`` and the network's
parameters as usual), calls ``f`` on their concatenation, and passes the variables in coordinate order: ``grad``
is ``(N, d)``, ``jac`` is ``(N, m, d)``, the Hessian is ``jac(grad(u, *xs), *xs)``, ``partial(u, x_i, ..., x_i)``
(k times) the k-th derivative along axis i.
"""

from __future__ import annotations

import torch

try:  # pragma: no cover - depends on the environment
    from torchphysics import utils as _tpu
except Exception as exc:  # noqa: BLE001 - any failure makes the provider unavailable, with the reason
    _tpu, _REASON = None, f"torchphysics is not importable here ({type(exc).__name__}: {' '.join(str(exc).split())})"
else:
    _REASON = None


def _version() -> str | None:
    try:
        from importlib.metadata import version

        return version("torchphysics")
    except Exception:  # noqa: BLE001
        return None


def _variables(f, x):
    """One variable per coordinate (views of x) and f at their concatenation."""
    xs = [x[:, i : i + 1] for i in range(x.shape[1])]
    return xs, f(torch.cat(xs, dim=1))


def grad(f, x):
    xs, u = _variables(f, x)
    return _tpu.grad(u, *xs)


def partial(f, x, i, k):
    xs, u = _variables(f, x)
    return _tpu.partial(u, *([xs[i]] * k))


def hessian(f, x):
    xs, u = _variables(f, x)
    return _tpu.jac(_tpu.grad(u, *xs), *xs)


def laplacian(f, x):
    xs, u = _variables(f, x)
    return _tpu.laplacian(u, *xs)


def jacobian(f, x):
    xs, v = _variables(f, x)
    return _tpu.jac(v, *xs)


def divergence(f, x):
    xs, v = _variables(f, x)
    return _tpu.div(v, *xs)


class TorchPhysicsProvider:
    """torchphysics: torchphysics.utils grad / partial / laplacian / div / jac, one variable per coordinate."""

    name = "torchphysics"
    style = "function"
    protocol = 1
    library = "torchphysics"
    version = _version() if _REASON is None else None
    supports_compile = False
    unavailable = _REASON

    def __init__(self):
        if _REASON is None:
            for op in (grad, partial, laplacian, hessian, divergence, jacobian):
                setattr(self, op.__name__, op)


PROVIDER = TorchPhysicsProvider()
