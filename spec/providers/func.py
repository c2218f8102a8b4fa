"""The ``torch.func`` provider (function style): ``vmap`` over the points of ``jacrev``/``hessian``/``grad``.

It takes the function ``f`` (``(N, d) -> (N, m)``, computed point by point) and evaluates each point alone:
``f(z[None])[0]`` for one point ``z`` of shape ``(d,)``.
"""

from __future__ import annotations

import torch


def _one(f, j=None):
    """f at one point: ``(d,) -> (m,)``, or its component ``j`` (0-dim)."""

    def g(z):
        out = f(z.unsqueeze(0))[0]
        return out if j is None else out[j]

    return g


def grad(f, x):
    return torch.func.vmap(torch.func.grad(_one(f, 0)))(x)


def partial(f, x, i, k):
    scalar = _one(f, 0)

    def along(s, z):
        return scalar(z + (s - z[i]) * torch.nn.functional.one_hot(torch.tensor(i), z.shape[0]).to(z))

    fn = along
    for _ in range(k):
        fn = torch.func.grad(fn, argnums=0)
    return torch.func.vmap(fn)(x[:, i], x).unsqueeze(-1)


def hessian(f, x):
    return torch.func.vmap(torch.func.hessian(_one(f, 0)))(x)


def laplacian(f, x):
    return torch.diagonal(hessian(f, x), dim1=1, dim2=2).sum(-1, keepdim=True)


def jacobian(f, x):
    return torch.func.vmap(torch.func.jacrev(_one(f)))(x)


def divergence(f, x):
    return torch.diagonal(jacobian(f, x), dim1=1, dim2=2).sum(-1, keepdim=True)


class FuncProvider:
    """torch.func: vmap(jacrev / hessian / grad) of f at one point."""

    name = "func"
    style = "function"
    protocol = 1
    supports_compile = False

    def __init__(self):
        for op in (grad, partial, laplacian, hessian, divergence, jacobian):
            setattr(self, op.__name__, op)


PROVIDER = FuncProvider()
