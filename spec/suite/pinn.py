"""A tiny, deterministic tanh MLP u(z) for the physics-informed (PINN) claims.

Plain torch ops only (``@``, ``+``, ``torch.tanh``), so a mutant that patches torch is
what the claims exercise.  The weights come from a seeded generator in float64 and are
then cast, so every dtype and device sees the same network.  ``u`` takes a batch of
points ``(n, d)`` and returns ``(n, 1)``; ``u_one`` takes one point ``(d,)`` and returns
a 0-dim tensor, the form ``torch.func`` transforms want.
"""

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
