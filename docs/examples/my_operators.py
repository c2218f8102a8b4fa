"""A derivative provider written by hand: the worked example of docs/providers.md.

Check it with the operator claims (from the folder that holds this file, or with it on PYTHONPATH):

    PYTHONPATH=docs/examples autograd-spec run --provider my_operators:PROVIDER -k derivative_operators

It implements protocol version 1 (spec/providers/__init__.py) in graph style: every operator takes the
network's output ``u`` (or a field ``v``) and the input ``x`` that produced it, and returns a tensor that
stays differentiable with respect to the network's parameters.  It offers no ``jacobian``: the claims that
need one are n/a for it, with the reason.
"""

import torch


def _d(y, x):
    """d(sum y)/dx, kept in the graph; zeros where y does not depend on x."""
    if not y.requires_grad:
        return torch.zeros_like(x)
    (g,) = torch.autograd.grad(y, x, grad_outputs=torch.ones_like(y), create_graph=True, allow_unused=True)
    return torch.zeros_like(x) if g is None else g


class MyOperators:
    name = "my_operators"
    style = "graph"
    protocol = 1
    max_order = 4

    def grad(self, u, x):
        return _d(u, x)

    def partial(self, u, x, i, k):
        for _ in range(k):
            u = _d(u, x)[:, i : i + 1]
        return u

    def hessian(self, u, x):
        g = _d(u, x)
        return torch.stack([_d(g[:, i : i + 1], x) for i in range(x.shape[1])], dim=1)

    def laplacian(self, u, x):
        # the trace: each second derivative along its own axis (not grad(u_x, x, ones_like(u_x)).sum(1))
        g = _d(u, x)
        return sum(_d(g[:, i : i + 1], x)[:, i : i + 1] for i in range(x.shape[1]))

    def divergence(self, v, x):
        return sum(_d(v[:, i : i + 1], x)[:, i : i + 1] for i in range(v.shape[1]))


PROVIDER = MyOperators()
