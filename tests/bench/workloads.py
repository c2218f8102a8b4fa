"""Workloads of the higher-order derivative benchmarks (issues 5 and 12): sizes, the network, the operators.

Everything here is plain torch: ``tests.bench.methods`` turns the operators into one
registry entry per method, ``test_bench.py`` times them, the memory worker
(``tests.bench.memory``) measures their peak. Importing this module does not import
torch; building a case does. The report (``python -m spec bench-report``) never imports
this package: everything it shows comes from the benchmark JSON (see ``conftest.py``).

Workloads (fixed sizes, ``N_POINTS`` collocation points, tanh MLP with ``HIDDEN``):

* ``derivative``  k-th derivative, k = 1..6, of u: R -> R
* ``laplacian``   Laplacian of u: R^d -> R, d = 2, 8, 32
* ``biharmonic``  the biharmonic operator (Laplacian of the Laplacian) of u: R^2 -> R
* ``pinn_step``   one PINN training step: residual of the Poisson equation -Lap u = f on
  [0, 1]^2 (manufactured solution sin(pi x) sin(pi y)), mean-square loss, gradient of the
  loss with respect to every weight

Every method returns a tensor (``pinn_step``: the flattened weight gradient) that is
checked against the float64 reference (nested autograd in float64) before it is timed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

N_POINTS = 1024
HIDDEN = (64, 64, 64)
ORDERS = (1, 2, 3, 4, 5, 6)
LAPLACIAN_DIMS = (2, 8, 32)
BIHARMONIC_DIM = 2
PINN_DIM = 2
SEED = 1234

WORKLOADS: dict[str, str] = {
    "derivative": f"k-th derivative of a tanh MLP u: R -> R ({'-'.join(map(str, HIDDEN))}) at {N_POINTS} points",
    "laplacian": f"Laplacian of a tanh MLP u: R^d -> R ({'-'.join(map(str, HIDDEN))}) at {N_POINTS} points",
    "biharmonic": f"biharmonic operator (4th order) of a tanh MLP u: R^2 -> R at {N_POINTS} points",
    "pinn_step": f"one PINN training step, Poisson -Lap u = f on [0,1]^2, {N_POINTS} points: residual, "
    "mean-square loss, gradient w.r.t. every weight",
}

PARAMS: dict[str, tuple[int, ...]] = {
    "derivative": ORDERS,
    "laplacian": LAPLACIAN_DIMS,
    "biharmonic": (BIHARMONIC_DIM,),
    "pinn_step": (PINN_DIM,),
}
PARAM_NAME = {"derivative": "k", "laplacian": "d", "biharmonic": "d", "pinn_step": "d"}

JET_REQUIREMENT = "jet-for-pytorch needs Python >= 3.12 and torch >= 2.10"


def jet_unavailable_reason() -> str | None:
    """Why ``jet`` cannot be used here, or None when it can."""
    import sys

    import torch
    from packaging.version import Version

    here = f"this is Python {sys.version_info.major}.{sys.version_info.minor}, torch {torch.__version__}"
    if sys.version_info < (3, 12) or Version(torch.__version__.split("+")[0]) < Version("2.10"):
        return f"not installable: {JET_REQUIREMENT} ({here})"
    try:
        import jet  # noqa: F401
    except ImportError as exc:
        return f"not installed: {exc} ({JET_REQUIREMENT}; {here})"
    return None


# ----------------------------------------------------------------------------------------------
# the network


def make_mlp(d_in: int, dtype, device, seed: int = SEED):
    """The tanh MLP d_in -> 64 -> 64 -> 64 -> 1, with weights drawn in float64 then cast (same values in every dtype)."""
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(seed + d_in)
    sizes = (d_in, *HIDDEN, 1)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        lin = nn.Linear(a, b, dtype=torch.float64)
        bound = 1.0 / math.sqrt(a)
        with torch.no_grad():
            lin.weight.copy_((torch.rand(b, a, generator=gen, dtype=torch.float64) * 2 - 1) * bound * math.sqrt(3))
            lin.bias.copy_((torch.rand(b, generator=gen, dtype=torch.float64) * 2 - 1) * bound)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers).to(dtype=dtype, device=device)


def make_points(d_in: int, dtype, device, seed: int = SEED):
    import torch

    gen = torch.Generator().manual_seed(seed + 100 + d_in)
    return torch.rand(N_POINTS, d_in, generator=gen, dtype=torch.float64).to(dtype=dtype, device=device)


def _linears(model) -> list:
    from torch import nn

    return [m for m in model if isinstance(m, nn.Linear)]


# ----------------------------------------------------------------------------------------------
# k-th derivative of u: R -> R (x has shape (N, 1); returns (N, 1))


def _single(model):
    """u for one point: (d,) -> () (for torch.func transforms)."""
    return lambda z: model(z.unsqueeze(0)).squeeze()


def _scalar(model):
    """u: R -> R for one point as a 0-dim function, so that grad/jacrev/jacfwd nest to any order."""
    return lambda z: model(z.reshape(1, 1)).reshape(())


def deriv_nested_grad(model, x, k):
    x = x.detach().requires_grad_(True) if not x.requires_grad else x
    g = model(x)
    for _ in range(k):
        (g,) = _grad(g.sum(), x)
    return g


def _grad(out, inp, **kw):
    import torch

    return torch.autograd.grad(out, inp, create_graph=True, **kw)


def _nest(transform, f, k):
    for _ in range(k):
        f = transform(f)
    return f


def deriv_func(model, x, k, transform):
    from torch.func import vmap

    return vmap(_nest(transform, _scalar(model), k))(x[:, 0]).unsqueeze(-1)


def deriv_func_jacrev(model, x, k):
    from torch.func import jacrev

    return deriv_func(model, x, k, jacrev)


def deriv_func_jacfwd(model, x, k):
    from torch.func import jacfwd

    return deriv_func(model, x, k, jacfwd)


def deriv_func_hessian(model, x, k):
    from torch.func import hessian, vmap

    assert k == 2
    return vmap(hessian(_scalar(model)))(x[:, 0]).unsqueeze(-1)


def deriv_func_jvp_grad(model, x, k):
    """jvp over (k-1) nested grads: forward-over-reverse; k = 1 is a plain jvp."""
    import torch
    from torch.func import grad, jvp, vmap

    inner = _nest(grad, _scalar(model), k - 1)

    def one(z):
        return jvp(inner, (z,), (torch.ones_like(z),))[1]

    return vmap(one)(x[:, 0]).unsqueeze(-1)


def deriv_forward_ad(model, x, k):
    """Dual numbers (tangent 1) over k-1 nested reverse-mode grads; k = 1 is pure forward mode."""
    import torch
    import torch.autograd.forward_ad as fwAD

    with fwAD.dual_level():
        if k == 1:
            return fwAD.unpack_dual(model(fwAD.make_dual(x, torch.ones_like(x)))).tangent
        xp = x.detach().requires_grad_(True)
        xd = fwAD.make_dual(xp, torch.ones_like(x))
        g = model(xd)
        for _ in range(k - 1):
            (g,) = _grad(g.sum(), xp)
        return fwAD.unpack_dual(g).tangent


def _sum_fn(model):
    return lambda z: model(z.reshape(-1, 1)).sum()


def deriv_functional_hessian(model, x, k):
    import torch

    assert k == 2
    h = torch.autograd.functional.hessian(_sum_fn(model), x.reshape(-1), create_graph=True, vectorize=True)
    return h.diagonal().reshape(-1, 1)


def deriv_functional_hvp(model, x, k):
    import torch

    assert k == 2
    return torch.autograd.functional.hvp(_sum_fn(model), x, torch.ones_like(x), create_graph=True)[1]


def deriv_functional_vhp(model, x, k):
    import torch

    assert k == 2
    return torch.autograd.functional.vhp(_sum_fn(model), x, torch.ones_like(x), create_graph=True)[1]


def deriv_jet_builder(model, x, k):
    """Trace once (outside the timed call), then each call runs the k-jet with x1 = 1, x2.. = 0."""
    import jet
    import torch

    jf = jet.jet(model, (torch.zeros_like(x),))
    one, zero = torch.ones_like(x), torch.zeros_like(x)

    def run(model_, x_, k_):
        return jf((x_, one, *([zero] * (k - 1))))[k]

    return run


# ---- hand-written Taylor mode for the tanh MLP ----------------------------------------------


def taylor_mlp(model, x, dirs, order):
    """Normalized Taylor coefficients u_1..u_K of u along x + t v for each direction v (rows of ``dirs``).

    ``x``: (N, d); ``dirs``: (R, d), the same directions at every point. Returns a list of K tensors
    of shape (R, N, 1); the K-th directional derivative is K! * u_K. Linear layers map coefficients
    linearly; tanh uses y' = s z', s = 1 - y^2: k y_k = sum_j j z_j s_{k-j}, s_k = -sum_i y_i y_{k-i}.
    """
    lins = _linears(model)
    z0 = x
    zs: list[Any] = [dirs[:, None, :]] + [None] * (order - 1)  # None: identically zero
    for i, lin in enumerate(lins):
        z0 = z0 @ lin.weight.T + lin.bias
        zs = [None if z is None else z @ lin.weight.T for z in zs]
        if i == len(lins) - 1:
            break
        y0 = z0.tanh()
        ys, ss = [y0], [1 - y0 * y0]
        for kk in range(1, order + 1):
            acc = None
            for j in range(1, kk + 1):
                if zs[j - 1] is not None:
                    term = (j * zs[j - 1]) * ss[kk - j]
                    acc = term if acc is None else acc + term
            ys.append(acc / kk)
            s = None
            for ii in range(0, kk + 1):
                term = ys[ii] * ys[kk - ii]
                s = term if s is None else s + term
            ss.append(-s)
        z0, zs = y0, ys[1:]
    return zs


def deriv_analytic(model, x, k):
    import torch

    dirs = torch.ones(1, 1, dtype=x.dtype, device=x.device)
    return taylor_mlp(model, x, dirs, k)[k - 1][0] * math.factorial(k)


# ----------------------------------------------------------------------------------------------
# Laplacian operators: each maps a batched, pointwise fn (N, d) -> (N, 1) and x to (N, 1)


def lap_nested_grad(fn, x):
    x = x.detach().requires_grad_(True) if not x.requires_grad else x
    (g,) = _grad(fn(x).sum(), x)
    lap = 0
    for i in range(x.shape[1]):
        (gi,) = _grad(g[:, i].sum(), x)
        lap = lap + gi[:, i : i + 1]
    return lap


def lap_is_grads_batched(fn, x):
    import torch

    x = x.detach().requires_grad_(True) if not x.requires_grad else x
    d = x.shape[1]
    (g,) = _grad(fn(x).sum(), x)
    eye = torch.eye(d, dtype=x.dtype, device=x.device)[:, None, :].expand(d, *x.shape)
    (h,) = _grad(g, x, grad_outputs=eye, is_grads_batched=True)  # (d, N, d): h[i] = rows of H e_i
    return h.diagonal(dim1=0, dim2=2).sum(-1, keepdim=True)


def _lap_single(single, transform):
    """Laplacian of a single-point function (d,) -> () via a Hessian transform."""
    return lambda z: transform(single)(z).diagonal().sum()


def _hess_transform(name):
    from torch.func import hessian, jacfwd, jacrev

    return {
        "func_jacrev": lambda f: jacrev(jacrev(f)),
        "func_jacfwd": lambda f: jacfwd(jacfwd(f)),
        "func_hessian": hessian,
    }[name]


def _lap_jvp_grad_single(single):
    import torch
    from torch.func import grad, jvp, vmap

    def lap(z):
        eye = torch.eye(z.shape[0], dtype=z.dtype, device=z.device)
        hv = vmap(lambda v: jvp(grad(single), (z,), (v,))[1])(eye)
        return hv.diagonal().sum()

    return lap


def _lap_single_for(method, single):
    if method == "func_jvp_grad":
        return _lap_jvp_grad_single(single)
    return _lap_single(single, _hess_transform(method))


def lap_forward_ad(fn, x):
    import torch
    import torch.autograd.forward_ad as fwAD

    xp = x.detach().requires_grad_(True) if not x.requires_grad else x
    d = x.shape[1]
    lap = 0
    for i in range(d):
        e = torch.zeros_like(x)
        e[:, i] = 1
        with fwAD.dual_level():
            xd = fwAD.make_dual(xp, e)
            (g,) = _grad(fn(xd).sum(), xp)
            lap = lap + fwAD.unpack_dual(g).tangent[:, i : i + 1]
    return lap


def _lap_functional(kind):
    import torch

    op = {"functional_hvp": torch.autograd.functional.hvp, "functional_vhp": torch.autograd.functional.vhp}[kind]

    def lap(fn, x):
        d = x.shape[1]
        total = 0
        for i in range(d):
            e = torch.zeros_like(x)
            e[:, i] = 1
            _, hv = op(lambda z: fn(z).sum(), x, e, create_graph=True)
            total = total + hv[:, i : i + 1]
        return total

    return lap


def lap_functional_hessian(fn, x):
    import torch

    n, d = x.shape
    h = torch.autograd.functional.hessian(lambda z: fn(z.reshape(n, d)).sum(), x.reshape(-1), create_graph=True,
                                          vectorize=True)
    return h.diagonal().reshape(n, d).sum(-1, keepdim=True)


def lap_analytic(model, x):
    """Forward Laplacian: collapsed 2nd-order Taylor mode through the MLP (d first-order directions)."""
    import torch

    lins = _linears(model)
    d = x.shape[1]
    z0, z1, z2 = x, torch.eye(d, dtype=x.dtype, device=x.device)[:, None, :], None
    for i, lin in enumerate(lins):
        z0 = z0 @ lin.weight.T + lin.bias
        z1 = z1 @ lin.weight.T
        z2 = None if z2 is None else z2 @ lin.weight.T
        if i == len(lins) - 1:
            break
        y0 = z0.tanh()
        s = 1 - y0 * y0
        y2 = -2 * y0 * s * (z1 * z1).sum(0)
        if z2 is not None:
            y2 = y2 + s * z2
        z0, z1, z2 = y0, s * z1, y2
    return z2


def lap_jet_builder(model, x):
    import jet
    import torch

    d = x.shape[1]
    cj = jet.jet(model, (torch.zeros_like(x),), collapsed=True)
    dirs = torch.eye(d, dtype=x.dtype, device=x.device)[:, None, :].expand(d, *x.shape)
    zero = torch.zeros_like(x)

    def run(model_, x_):
        return cj((x_, dirs, zero))[2]

    return run


# ----------------------------------------------------------------------------------------------
# biharmonic: Laplacian of the Laplacian


def bilap_analytic(model, x):
    """4-jets along e1, e2, e1+e2, e1-e2: Lap^2 u = 2/3 (D4_e1 + D4_e2) + (D4_{e1+e2} + D4_{e1-e2}) / 6."""
    import torch

    assert x.shape[1] == 2
    dirs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]], dtype=x.dtype, device=x.device)
    d4 = taylor_mlp(model, x, dirs, 4)[3] * 24
    return (2 / 3) * (d4[0] + d4[1]) + (d4[2] + d4[3]) / 6


# ----------------------------------------------------------------------------------------------
# PINN training step


def poisson_source(x):
    import torch

    return 2 * math.pi**2 * torch.sin(math.pi * x[:, :1]) * torch.sin(math.pi * x[:, 1:2])


def pinn_step_from(lap: Callable[[], Any], model, x) -> Callable[[], Any]:
    """One training step around a zero-argument Laplacian: residual, mean-square loss, gradient to every weight."""
    return step_from(loss_from(lap, x), model)


def loss_from(lap: Callable[[], Any], x) -> Callable[[], Any]:
    """The Poisson loss mean((-Lap u - f)^2) around a zero-argument Laplacian."""
    f = poisson_source(x)

    def loss():
        residual = -lap() - f
        return (residual * residual).mean()

    return loss


def step_from(loss: Callable[[], Any], model) -> Callable[[], Any]:
    """The gradient of ``loss`` to every weight, flattened (the output bias does not enter the Laplacian: zero)."""
    import torch

    params = list(model.parameters())

    def step():
        grads = torch.autograd.grad(loss(), params, allow_unused=True)
        return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(params, grads, strict=True)])

    return step


#: relative tolerance (max abs error / max abs reference) per dtype
TOLERANCE = {"float64": 1e-8, "float32": 2e-3}


def relative_error(value, ref) -> float:
    import torch

    value = value.detach().to(torch.float64).reshape(ref.shape)
    scale = ref.abs().max().clamp_min(1e-30)
    return float((value - ref).abs().max() / scale)


# ---- derivative providers (spec/providers, issue 18) ------------------------------------------------


def _provider_call(name: str, op: str, fn, x, *args):
    """``op`` of the built-in provider ``name`` on ``fn`` at ``x``, in the provider's style."""
    from spec.providers import load

    p = load(name)
    x = x.detach().requires_grad_(True) if not x.requires_grad else x
    if getattr(p, "style", "graph") == "function":
        out = getattr(p, op)(fn, x, *args)
    else:
        out = getattr(p, op)(fn(x), x, *args)
    end_step = getattr(p, "end_step", None)  # a library's own end-of-step call (DeepXDE: deepxde.grad.clear)
    if callable(end_step):
        end_step()
    return out


def lap_provider(name: str, fn, x):
    """The Laplacian of ``fn`` at ``x`` through provider ``name``: (N, 1)."""
    return _provider_call(name, "laplacian", fn, x)


def bilap_provider(name: str, fn, x):
    """The biharmonic as the provider's Laplacian of its Laplacian (the protocol has no biharmonic)."""
    return lap_provider(name, lambda z: lap_provider(name, fn, z), x)


def deriv_provider(name: str, model, x, k):
    """The k-th derivative of the one-input network through the provider's ``partial(u, x, 0, k)``: (N, 1)."""
    return _provider_call(name, "partial", model, x, 0, k)


def provider_unavailable_reason(name: str) -> str | None:
    from spec.providers import load

    return getattr(load(name), "unavailable", None)
