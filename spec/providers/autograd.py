"""The reference provider: the operators spelled with ``torch.autograd.grad(..., create_graph=True)``.

Graph style: each operator takes the output ``u`` (or field ``v``) and the input ``x`` that produced it.  A
``u`` that does not depend on ``x`` (or on one coordinate) gives zeros of ``x``'s shape, never None.  torch
is reached through its module attributes at call time, so a patched torch is what runs.
"""

from __future__ import annotations

import torch


def _d(y, x):
    """d(sum y)/dx with create_graph: zeros where y does not depend on x (y of shape (N, 1) computed per point)."""
    if not y.requires_grad:
        return torch.zeros_like(x)
    (g,) = torch.autograd.grad(y, x, torch.ones_like(y), create_graph=True, allow_unused=True)
    return torch.zeros_like(x) if g is None else g


def grad(u, x):
    return _d(u, x)


def partial(u, x, i, k):
    y = u
    for _ in range(k):
        y = _d(y, x)[:, i : i + 1]
    return y


def hessian(u, x):
    g = _d(u, x)
    return torch.stack([_d(g[:, i : i + 1], x) for i in range(x.shape[1])], dim=1)


def laplacian(u, x):
    g = _d(u, x)
    return sum(_d(g[:, i : i + 1], x)[:, i : i + 1] for i in range(x.shape[1]))


def jacobian(v, x):
    return torch.stack([_d(v[:, j : j + 1], x) for j in range(v.shape[1])], dim=1)


def divergence(v, x):
    return sum(_d(v[:, i : i + 1], x)[:, i : i + 1] for i in range(v.shape[1]))


class AutogradProvider:
    """torch.autograd.grad with create_graph=True, one coordinate at a time."""

    name = "autograd"
    style = "graph"
    protocol = 1
    #: First-order values only: a derivative of a compiled graph's backward raises "torch.compile with aot_autograd
    #: does not currently support double backward" (https://github.com/pytorch/pytorch/pull/92348, issue #91469).
    supports_compile = ("grad", "jacobian", "divergence")

    def __init__(self):
        for op in (grad, partial, laplacian, hessian, divergence, jacobian):
            setattr(self, op.__name__, op)


PROVIDER = AutogradProvider()
