"""A tiny, deterministic tanh MLP u(z) for the physics-informed (PINN) claims.

Plain torch ops only (``@``, ``+``, ``torch.tanh``), so a mutant that patches torch is
what the claims exercise.  The weights come from a seeded generator in float64 and are
then cast, so every dtype and device sees the same network.  ``u`` takes a batch of
points ``(n, d)`` and returns ``(n, 1)``; ``u_one`` takes one point ``(d,)`` and returns
a 0-dim tensor, the form ``torch.func`` transforms want.
"""

import math

import torch

#: The default architecture: 2 inputs (x, t) -> 16 -> 16 -> 1 output.
SIZES = (2, 16, 16, 1)


def params(sizes=SIZES, *, seed=0, dtype=torch.float64, device="cpu"):
    """Weights and biases ``[W1, b1, W2, b2, ...]``, reproducible for a given seed."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = torch.randn(fan_in, fan_out, generator=gen, dtype=torch.float64) / fan_in**0.5
        b = 0.1 * torch.randn(fan_out, generator=gen, dtype=torch.float64)
        out += [w.to(device=device, dtype=dtype), b.to(device=device, dtype=dtype)]
    return out


def points(n, d=2, *, seed=1, dtype=torch.float64, device="cpu"):
    """``n`` points in ``[-1, 1]^d``, reproducible for a given seed."""
    gen = torch.Generator().manual_seed(seed)
    z = 2 * torch.rand(n, d, generator=gen, dtype=torch.float64) - 1
    return z.to(device=device, dtype=dtype)


def u(ps, z, *, act=None):
    """The network on a batch ``z`` of shape ``(n, d)`` (or one point ``(d,)``): tanh hidden layers."""
    act = act or torch.tanh
    h = z
    for i in range(0, len(ps) - 2, 2):
        h = act(h @ ps[i] + ps[i + 1])
    return h @ ps[-2] + ps[-1]


def u_one(ps, *, act=None):
    """The network as a function of one point ``(d,)`` returning a 0-dim tensor (for ``torch.func``)."""

    def f(z):
        return u(ps, z, act=act)[0]

    return f


class MLP(torch.nn.Module):
    """The network ``u`` as an ``nn.Module`` whose parameters are :func:`params` (same values).

    It is built without ``nn.Linear`` (whose initialisation runs under ``torch.no_grad()``), so a
    mutant that changes grad modes changes what the claims test, not how the network is made.
    """

    def __init__(self, sizes=(1, 16, 16, 1), *, seed=0, dtype=torch.float64, device="cpu"):
        super().__init__()
        self.ps = torch.nn.ParameterList(
            [torch.nn.Parameter(p) for p in params(sizes, seed=seed, dtype=dtype, device=device)]
        )

    def forward(self, z):
        return u(list(self.ps), z)


def du_dx(ps, x):
    """du/dx of the tanh network ``u(ps, .)`` with one input, in closed form (no autograd): shape ``(n, 1)``.

    The chain rule by hand: ``h = tanh(a)`` gives ``dh = (1 - h**2) * (dh_prev @ W)``.
    """
    ps = [p.detach() for p in ps]
    h, dh = x.detach(), torch.ones_like(x.detach())
    for i in range(0, len(ps) - 2, 2):
        h = torch.tanh(h @ ps[i] + ps[i + 1])
        dh = (1 - h * h) * (dh @ ps[i])
    return dh @ ps[-2]


def _tanh_jet(s):
    """tanh of a jet ``s = [s, s', s'', s''']`` (derivatives along one direction), by the chain rule."""
    n, s = len(s), list(s) + [0.0] * (4 - len(s))
    t = math.tanh(s[0])
    t1 = 1.0 - t * t  # tanh' = 1 - tanh^2
    t2 = -2.0 * t * t1  # tanh'' = -2 tanh tanh'
    t3 = t1 * (6.0 * t * t - 2.0)  # tanh''' = tanh' (6 tanh^2 - 2)
    out = [t, t1 * s[1], t2 * s[1] ** 2 + t1 * s[2], t3 * s[1] ** 3 + 3.0 * t2 * s[1] * s[2] + t1 * s[3]]
    return out[:n]


def axis_derivatives(ps, z, axis=0, order=3):
    """``[u, du/dz_axis, ..., d^order u/dz_axis^order]`` at each point of ``z`` ``(n, d)``, for the tanh network.

    A float64 reference in plain Python (``math.tanh`` and the chain rule, order <= 3): nothing
    in it goes through torch's autograd, so no change to autograd can change it.
    """
    if not 0 <= order <= 3:
        raise ValueError("order must be 0 .. 3")
    weights = [p.detach().cpu().double().tolist() for p in ps]
    rows = []
    for point in z.detach().cpu().double().tolist():
        jets = [[v] + [float(i == axis and k == 1) for k in range(1, order + 1)] for i, v in enumerate(point)]
        for layer in range(0, len(weights), 2):
            w, b = weights[layer], weights[layer + 1]
            pre = [
                [sum(w[i][j] * jets[i][k] for i in range(len(jets))) + (b[j] if k == 0 else 0.0) for k in range(order + 1)]
                for j in range(len(b))
            ]
            jets = pre if layer + 2 == len(weights) else [_tanh_jet(s) for s in pre]
        rows.append(jets[0])
    return rows
