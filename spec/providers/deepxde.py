"""The DeepXDE provider (graph style, pytorch backend): ``deepxde.grad.jacobian`` and ``deepxde.grad.hessian``.

DeepXDE's conventions: ``jacobian(ys, xs, i, j)`` is dy_i/dx_j as an ``(N, 1)`` column (``j=None``: the row
``(N, d)``, the gradient of y_i); ``hessian(ys, xs, component, i, j)`` is d2y_component/dx_i dx_j, ``(N, 1)``.
Higher orders are DeepXDE's own idiom, the Hessian of a Hessian (its Euler-beam example computes u'''' as
``hessian(hessian(u, x), x)``): order 3 is ``jacobian(hessian(u, x, i=i, j=i), x, j=i)``.  Both functions
cache their results keyed on the ``(ys, xs)`` tensors (``deepxde.Model`` calls ``deepxde.grad.clear()`` after
each training step); the adapter calls them as a user's own training loop would, and never clears the cache:
what the cache does is what the claims see.  The backend must be pytorch: ``DDE_BACKEND=pytorch`` is set here
unless the environment already chose one; another backend makes the provider ``unavailable``.  Importing
DeepXDE on a machine with CUDA makes CUDA torch's default device (deepxde/backend/pytorch/tensor.py).
"""

from __future__ import annotations

import os

import torch

os.environ.setdefault("DDE_BACKEND", "pytorch")
try:  # pragma: no cover - depends on the environment
    import deepxde as _dde
except Exception as exc:  # noqa: BLE001 - any failure makes the provider unavailable, with the reason
    _dde, _REASON = None, f"DeepXDE is not importable here ({type(exc).__name__}: {' '.join(str(exc).split())})"
else:
    _backend = getattr(_dde.backend, "backend_name", None)
    _REASON = None if _backend == "pytorch" else (
        f"DeepXDE runs on the {_backend} backend here; the adapter needs DDE_BACKEND=pytorch")

VERSION = getattr(_dde, "__version__", None)


def grad(u, x):
    return _dde.grad.jacobian(u, x, i=0, j=None)


def partial(u, x, i, k):
    y = u
    while k >= 2:
        y, k = _dde.grad.hessian(y, x, i=i, j=i), k - 2
    return _dde.grad.jacobian(y, x, i=0, j=i) if k else y


def hessian(u, x):
    d = x.shape[1]
    return torch.stack([torch.cat([_dde.grad.hessian(u, x, i=a, j=b) for b in range(d)], 1) for a in range(d)], 1)


def laplacian(u, x):
    return sum(_dde.grad.hessian(u, x, i=a, j=a) for a in range(x.shape[1]))


def jacobian(v, x):
    return torch.stack([_dde.grad.jacobian(v, x, i=j, j=None) for j in range(v.shape[1])], dim=1)


def divergence(v, x):
    return sum(_dde.grad.jacobian(v, x, i=a, j=a) for a in range(v.shape[1]))


class DeepXDEProvider:
    """DeepXDE (pytorch backend): deepxde.grad.jacobian / hessian, cached as the library caches them."""

    name = "deepxde"
    style = "graph"
    protocol = 1
    library = "deepxde"
    version = VERSION
    supports_compile = False
    unavailable = _REASON

    def __init__(self):
        if _REASON is None:
            for op in (grad, partial, laplacian, hessian, divergence, jacobian):
                setattr(self, op.__name__, op)
            #: Not part of the protocol (the claims never call it): what deepxde.Model does after each training
            #: step; the benchmarks (tests/bench) call it after each timed call so the cache does not grow.
            self.end_step = _dde.grad.clear


PROVIDER = DeepXDEProvider()
