"""A small physics-informed network: u'' = -pi^2 sin(pi x) on [0, 1] with u(0) = u(1) = 0 (the solution is sin(pi x)).

The example of docs/upgrade.md: ``autograd-spec scan docs/examples/pinn_train.py`` lists the claims that touch it.
Run it with ``python docs/examples/pinn_train.py --steps 200``.
"""

import argparse
import math

import torch
from torch.utils.checkpoint import checkpoint


class MLP(torch.nn.Module):
    def __init__(self, width: int = 32):
        super().__init__()
        self.inp = torch.nn.Linear(1, width)
        self.hidden = torch.nn.Linear(width, width)
        self.out = torch.nn.Linear(width, 1)

    def block(self, h):
        return torch.tanh(self.hidden(h))

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        h = checkpoint(self.block, h, use_reentrant=False)  # recompute the hidden layer in backward
        return self.out(h)


def residual(model, x):
    """u_xx + pi^2 sin(pi x): the network's second derivative in its input, kept in the graph for the loss."""
    u = model(x)
    (u_x,) = torch.autograd.grad(u, x, grad_outputs=torch.ones_like(u), create_graph=True)
    (u_xx,) = torch.autograd.grad(u_x, x, grad_outputs=torch.ones_like(u_x), create_graph=True)
    return u_xx + math.pi**2 * torch.sin(math.pi * x)


def curvature(model, x0):
    """d2u/dx2 at one point, by the Hessian of u (a check of the residual's second derivative)."""
    return torch.autograd.functional.hessian(lambda x: model(x).sum(), x0)


def train(steps: int, seed: int = 0):
    torch.manual_seed(seed)
    model = MLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    boundary = torch.tensor([[0.0], [1.0]])
    for _ in range(steps):
        optimizer.zero_grad()
        x = torch.rand(64, 1, requires_grad=True)
        loss = residual(model, x).pow(2).mean() + model(boundary).pow(2).mean()
        loss.backward()
        optimizer.step()
    predict = torch.compile(model, backend="aot_eager")  # fast inference, no second derivative through it
    grid = torch.linspace(0, 1, 11).unsqueeze(1)
    with torch.no_grad():
        error = (predict(grid) - torch.sin(math.pi * grid)).abs().max()
    return float(loss.detach()), float(error), float(curvature(model, torch.tensor([[0.5]])).squeeze())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    loss, error, u_xx = train(parser.parse_args().steps)
    print(f"loss {loss:.3g}, max error {error:.3g}, u_xx(0.5) {u_xx:.3g}")
