"""The Taylor-mode provider (function style), on the ``jet-for-pytorch`` package where it installs.

``jet(f, (x,))`` maps the input jet ``(x0, x1, ..., xK)`` to the output jet ``(f0, f1, ..., fK)``; with
``x1 = e_i`` and ``x2 = ... = xK = 0``, ``fK`` is the K-th derivative along ``x[:, i]`` (the package's
quickstart: https://pypi.org/project/jet-for-pytorch/).  ``f`` is point by point, so the batch carries the
jet of every point at once.  jet-for-pytorch 1.0 needs Python >= 3.12 and torch >= 2.10: elsewhere the
provider is ``unavailable`` and every operator claim is n/a with that reason.  Not exercised on this
project's Python 3.11 environments: where it installs, ``--provider jet`` is its first check.
"""

from __future__ import annotations

import sys

import torch

try:  # pragma: no cover - depends on the environment
    import jet as _jet
except Exception as exc:  # noqa: BLE001 - any failure makes the provider unavailable, with the reason
    _jet = None
    _REASON = (f"jet-for-pytorch is not importable here ({type(exc).__name__}: {exc}); it needs Python >= 3.12 "
               f"(this is {sys.version_info.major}.{sys.version_info.minor}) and torch >= 2.10")
else:
    _REASON = None


def partial(f, x, i, k):
    e = torch.zeros_like(x)
    e[:, i] = 1
    series = (x, e) + tuple(torch.zeros_like(x) for _ in range(k - 1))
    return _jet.jet(f, (x,))(series)[k]


def laplacian(f, x):
    return sum(partial(f, x, i, 2) for i in range(x.shape[1]))


def grad(f, x):
    return torch.cat([partial(f, x, i, 1) for i in range(x.shape[1])], dim=1)


class JetProvider:
    """Taylor mode (jet-for-pytorch): directional jets along each coordinate axis."""

    name = "jet"
    style = "function"
    protocol = 1
    supports_compile = False
    unavailable = _REASON

    def __init__(self):
        if _jet is not None:
            self.grad, self.partial, self.laplacian = grad, partial, laplacian


PROVIDER = JetProvider()
