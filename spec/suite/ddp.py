"""The scenarios of the "Distributed data parallel" claims, run in two gloo ranks by :mod:`spec.distributed`.

Each scenario is ``fn(rank, world_size)`` and returns what that rank observed as JSON (gradients as
nested lists of float64 values, errors as ``"Type: message"``).  The claims compare these reports
with what one process computes on the whole batch (their own reference, in the test's process),
so a scenario computes only what happens under DistributedDataParallel.  Every rank runs the same
collectives in the same order: a scenario whose call raises raises on both ranks.

The network is :class:`spec.suite.pinn.MLP` (float64, plain torch ops); rank ``r`` of ``w`` gets
rows ``[r*n/w, (r+1)*n/w)`` of the whole batch :func:`whole`.
"""

import math
import warnings

import torch
import torch.utils.checkpoint

from spec.suite import pinn

#: The network of the first-order scenarios: 2 inputs -> 4 -> 1.
SIZES = (2, 4, 1)
#: The network of the PINN scenario: x -> 8 -> 8 -> u.
PINN_SIZES = (1, 8, 8, 1)
#: Rows in the whole batch (split evenly between the ranks).
N = 4


def whole(seed=1, d=2, n=N):
    """The whole batch: what one process would train on."""
    return pinn.points(n, d, seed=seed)


def shard(rank, world, seed=1, d=2, n=N):
    """Rank ``rank``'s rows of :func:`whole`."""
    per = n // world
    return whole(seed, d, n)[rank * per : (rank + 1) * per]


def ddp(module, **options):
    return torch.nn.parallel.DistributedDataParallel(module, **options)


def grads(module):
    return [None if p.grad is None else p.grad.tolist() for p in module.parameters()]


def error_text(exc):
    return f"{type(exc).__name__}: {exc}"


def caught_messages(caught):
    return [f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in caught]


def square_mean(out):
    return out.pow(2).mean()


def pinn_loss(u, x):
    """The residual of u'' = -pi^2 sin(pi x), squared and averaged: u_x and u_xx with create_graph=True."""
    u_x = torch.autograd.grad(u.sum(), x, create_graph=True)[0]
    u_xx = torch.autograd.grad(u_x.sum(), x, create_graph=True)[0]
    return (u_xx + math.pi**2 * torch.sin(math.pi * x)).pow(2).mean()


def input_penalty_loss(out, x):
    """out.mean() plus the gradient penalty mean((|d out/d x_i| - 1)^2) of each row (WGAN-GP style)."""
    g = torch.autograd.grad(out.sum(), x, create_graph=True)[0]
    return out.mean() + (g.norm(dim=1) - 1).pow(2).mean()


def param_penalty_loss(loss, params):
    """loss plus the squared norm of its gradient with respect to the parameters (create_graph=True)."""
    g = torch.autograd.grad(loss, params, create_graph=True)
    return loss + sum((gi * gi).sum() for gi in g)


class WithUnused(torch.nn.Module):
    """The MLP, an ``extra`` parameter used only where ``use_extra`` and a parameter never used."""

    def __init__(self):
        super().__init__()
        self.net = pinn.MLP(SIZES)
        self.extra = torch.nn.Parameter(torch.tensor([2.0], dtype=torch.float64))
        self.unused = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))

    def forward(self, z, use_extra=False):
        out = self.net(z)
        return out * self.extra if use_extra else out


class WithBuffer(torch.nn.Module):
    def __init__(self, value):
        super().__init__()
        self.w = torch.nn.Parameter(torch.full((2,), float(value), dtype=torch.float64))
        self.register_buffer("b", torch.full((2,), float(value), dtype=torch.float64))

    def forward(self, z):
        return z @ self.w + self.b.sum()


# ---------------------------------------------------------------- scenarios


def backward_mean_and_sum(rank, world):
    z = shard(rank, world)
    m = ddp(pinn.MLP(SIZES))
    square_mean(m(z)).backward()
    s = ddp(pinn.MLP(SIZES))
    s(z).pow(2).sum().backward()
    return {"mean": grads(m), "sum": grads(s)}


def autograd_grad(rank, world):
    z = shard(rank, world)
    m = ddp(pinn.MLP(SIZES))
    g = torch.autograd.grad(square_mean(m(z)), list(m.parameters()))
    out = {"grad": [t.tolist() for t in g], ".grad after": grads(m)}
    try:  # the next iteration, with backward()
        square_mean(m(z)).backward()
        out["next backward"] = grads(m)
    except Exception as exc:  # noqa: BLE001
        out["next backward"] = error_text(exc)
    return out


def no_sync(rank, world):
    m = ddp(pinn.MLP(SIZES))
    with m.no_sync():
        square_mean(m(shard(rank, world, seed=1))).backward()
    inside = grads(m)
    square_mean(m(shard(rank, world, seed=2))).backward()
    return {"inside": inside, "after": grads(m)}


def pinn_residual(rank, world):
    """The PINN residual loss alone, with DDP's defaults and with find_unused_parameters=True."""
    out = {}
    for way in ("default", "find_unused_parameters"):
        x = shard(rank, world, d=1).requires_grad_(True)
        m = ddp(pinn.MLP(PINN_SIZES), find_unused_parameters=way == "find_unused_parameters")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pinn_loss(m(x), x).backward()
        out[way] = {"grads": grads(m), "warnings": caught_messages(caught)}
    return out


def pinn_with_boundary(rank, world):
    """The PINN residual loss plus a boundary term that uses every parameter, with DDP's defaults."""
    x = shard(rank, world, d=1).requires_grad_(True)
    m = ddp(pinn.MLP(PINN_SIZES))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (pinn_loss(m(x), x) + boundary_loss(m)).backward()
    return {"grads": grads(m), "warnings": caught_messages(caught)}


def boundary_loss(m):
    """u(0)^2 + u(1)^2: the Dirichlet term of the PINN loss, which depends on every parameter."""
    return m(torch.tensor([[0.0], [1.0]], dtype=torch.float64)).pow(2).sum()


def input_penalty(rank, world):
    x = shard(rank, world).requires_grad_(True)
    m = ddp(pinn.MLP(SIZES))
    input_penalty_loss(m(x), x).backward()
    return {"grads": grads(m)}


def param_penalty(rank, world):
    m = ddp(pinn.MLP(SIZES))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        param_penalty_loss(square_mean(m(shard(rank, world))), list(m.parameters())).backward()
    return {"grads": grads(m), "warnings": caught_messages(caught)}


def unused_default(rank, world):
    z = shard(rank, world)
    m = ddp(WithUnused())
    square_mean(m(z)).backward()
    out = {"first": grads(m)}
    try:
        square_mean(m(z)).backward()
        out["second"] = "returned"
    except Exception as exc:  # noqa: BLE001
        out["second"] = error_text(exc)
    return out


def unused_found(rank, world):
    z = shard(rank, world)
    m = ddp(WithUnused(), find_unused_parameters=True)
    out = {}
    for step in ("first", "second"):
        m.zero_grad(set_to_none=True)
        square_mean(m(z, use_extra=rank == 0)).backward()
        out[step] = grads(m)
    return out


def static_graph(rank, world):
    z = shard(rank, world)
    try:
        m = ddp(WithUnused(), static_graph=True)
    except TypeError as exc:
        return {"error": error_text(exc)}
    out = {}
    for step in ("first", "second", "third"):
        m.zero_grad(set_to_none=True)
        square_mean(m(z)).backward()
        out[step] = grads(m)
    return out


def buffers(rank, world):
    z = shard(rank, world)
    out = {}
    for broadcast in (True, False):
        m = ddp(WithBuffer(rank + 1), broadcast_buffers=broadcast)
        key = "broadcast" if broadcast else "no broadcast"
        out[key] = {"w at construction": m.module.w.tolist(), "b at construction": m.module.b.tolist()}
        with torch.no_grad():
            m.module.b.fill_(10.0 * (rank + 1))
        m(z).sum().backward()
        out[key]["b after forward"] = m.module.b.tolist()
    return out


def bucket_view(rank, world):
    z = shard(rank, world)
    out = {}
    for as_view in (False, True):
        m = ddp(pinn.MLP(SIZES), gradient_as_bucket_view=as_view)
        square_mean(m(z)).backward()
        storages = {p.grad.untyped_storage().data_ptr() for p in m.parameters()}
        out[str(as_view)] = {"grads": grads(m), "storages": len(storages)}
        try:  # what Optimizer.zero_grad once did to every .grad
            next(m.parameters()).grad.detach_()
            out[str(as_view)]["detach_"] = "returned"
        except Exception as exc:  # noqa: BLE001
            out[str(as_view)]["detach_"] = error_text(exc)
        torch.optim.SGD(m.parameters(), lr=0.1).zero_grad(set_to_none=False)
        out[str(as_view)]["after zero_grad(set_to_none=False)"] = grads(m)
    return out


def create_graph_backward(rank, world):
    z = shard(rank, world)
    m = ddp(pinn.MLP(SIZES))
    params = list(m.parameters())
    out = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            square_mean(m(z)).backward(create_graph=True)
            out["backward"] = "returned"
        except Exception as exc:  # noqa: BLE001
            out["backward"] = error_text(exc)
    out["warnings"] = caught_messages(caught)
    if out["backward"] != "returned":
        return out
    out["grads"] = grads(m)
    out["grad requires_grad"] = [p.grad.requires_grad for p in params]
    try:  # differentiate the .grad of the first weight once more: d/dW sum(W.grad)
        second = torch.autograd.grad(params[0].grad.sum(), params[0], allow_unused=True)[0]
        out["second"] = None if second is None else second.tolist()
    except Exception as exc:  # noqa: BLE001
        out["second"] = error_text(exc)
    return out


def local_hook(state, bucket):
    """A comm hook that all-reduces nothing: the bucket keeps this rank's own gradients."""
    fut = torch.futures.Future()
    fut.set_result(bucket.buffer())
    return fut


def comm_hook(rank, world):
    m = ddp(pinn.MLP(SIZES))
    m.register_comm_hook(None, local_hook)
    square_mean(m(shard(rank, world))).backward()
    out = {"grads": grads(m)}
    try:
        m.register_comm_hook(None, local_hook)
        out["second register_comm_hook"] = "returned"
    except Exception as exc:  # noqa: BLE001
        out["second register_comm_hook"] = error_text(exc)
    return out


def after_wrapping(rank, world):
    """Two orders the DDP page forbids: the forward outside no_sync(), a parameter replaced after wrapping."""
    z = shard(rank, world)
    m = ddp(pinn.MLP(SIZES))
    loss = square_mean(m(z))
    with m.no_sync():
        loss.backward()
    out = {"forward outside no_sync": grads(m)}
    net = pinn.MLP(SIZES)
    m = ddp(net)
    net.ps[0] = torch.nn.Parameter(net.ps[0].detach().clone())
    square_mean(m(z)).backward()
    out["parameter replaced"] = grads(net)
    try:
        square_mean(m(z)).backward()
        out["parameter replaced, next iteration"] = "returned"
    except Exception as exc:  # noqa: BLE001
        out["parameter replaced, next iteration"] = error_text(exc)
    return out


class Checkpointed(torch.nn.Module):
    """The MLP run through torch.utils.checkpoint inside the DDP-wrapped module."""

    def __init__(self, reentrant):
        super().__init__()
        self.net = pinn.MLP(SIZES)
        self.reentrant = reentrant

    def forward(self, z):
        return torch.utils.checkpoint.checkpoint(self.net, z, use_reentrant=self.reentrant)


def checkpointed(rank, world):
    z = shard(rank, world)
    out = {}
    for reentrant, find_unused in ((False, False), (False, True), (True, False), (True, True)):
        m = ddp(Checkpointed(reentrant), find_unused_parameters=find_unused)
        key = f"use_reentrant={reentrant}, find_unused_parameters={find_unused}"
        try:
            for _ in range(2):
                m.zero_grad(set_to_none=True)
                square_mean(m(z.clone().requires_grad_(reentrant))).backward()
            out[key] = grads(m)
        except Exception as exc:  # noqa: BLE001
            out[key] = error_text(exc)
    return out


SCENARIOS = {
    "backward": backward_mean_and_sum,
    "autograd.grad": autograd_grad,
    "no_sync": no_sync,
    "pinn": pinn_residual,
    "pinn with boundary": pinn_with_boundary,
    "input penalty": input_penalty,
    "param penalty": param_penalty,
    "unused default": unused_default,
    "unused found": unused_found,
    "static_graph": static_graph,
    "buffers": buffers,
    "bucket view": bucket_view,
    "create_graph backward": create_graph_backward,
    "comm hook": comm_hook,
    "after wrapping": after_wrapping,
    "checkpoint": checkpointed,
}
