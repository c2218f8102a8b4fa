"""Part 2, "Element-wise derivatives": the sum trick for per-sample derivatives of a PINN, and where it breaks."""

import math

import torch

from spec import claim, dtypes
from spec.suite import pinn
from spec.suite.support import quiet_dynamo

N = 16  # points
#: torch.func's forward mode (jacfwd, hessian) lazily imports code that emits a burst of warnings once per
#: process on recent torch (DeprecationWarning from 2.10, FutureWarning from 2.14); no claim here is about them.


def sum_trick_first(ps, X, check):
    """u and its per-sample gradient (n, d) by grad(u.sum(), X), keeping the graph."""
    u = pinn.u(ps, X)
    (du,) = check.works("grad(u.sum(), X, create_graph=True)", lambda: torch.autograd.grad(u.sum(), X, create_graph=True))
    return u, du


def sum_trick_second(du, X, i, check):
    """Row i of every per-sample Hessian, (n, d), by grad(du[:, i].sum(), X)."""
    name = f"grad(du[:, {i}].sum(), X, create_graph=True)"
    (row,) = check.works(name, lambda: torch.autograd.grad(du[:, i].sum(), X, create_graph=True))
    return row


def per_sample_hessians(ps, X, check):
    with quiet_dynamo():
        return check.works("vmap(hessian(u))", lambda: torch.func.vmap(torch.func.hessian(pinn.u_one(ps)))(X))


@claim(
    "EW-001",
    "When samples are independent the sum trick grad(u.sum(), X) gives each sample's own gradient (u_x, u_t): "
    "for a 2-16-16-1 tanh MLP at 16 points it matches torch.func.vmap(torch.func.jacrev(u)), vmap(jacfwd(u)), "
    "vmap over the last dimension of X.T, and a per-sample loop.",
    section="Element-wise derivatives",
)
def test_sum_trick_first_derivatives(device, dtype, check):
    ps = pinn.params(dtype=dtype, device=device)
    X = pinn.points(N, dtype=dtype, device=device).requires_grad_(True)
    _, du = sum_trick_first(ps, X, check)
    f, Xd = pinn.u_one(ps), X.detach()

    vmapped = check.works("vmap(jacrev(u))", lambda: torch.func.vmap(torch.func.jacrev(f))(Xd))
    check.close("sum trick vs vmap(jacrev)", du, vmapped, dtype=dtype, device=device, shape=(N, 2))
    with quiet_dynamo():
        forward = check.works("vmap(jacfwd(u))", lambda: torch.func.vmap(torch.func.jacfwd(f))(Xd))
    check.close("sum trick vs vmap(jacfwd)", du, forward, dtype=dtype, device=device, shape=(N, 2))
    last = check.works("vmap(jacrev(u), in_dims=1, out_dims=1)(X.T)",
                       lambda: torch.func.vmap(torch.func.jacrev(f), in_dims=1, out_dims=1)(Xd.T.contiguous()))
    check.close("sum trick vs vmap(jacrev(u), in_dims=1, out_dims=1)(X.T).T", du, last.T, dtype=dtype, shape=(N, 2))

    def loop():
        rows = []
        for z in Xd:
            z = z.clone().requires_grad_(True)
            rows.append(torch.autograd.grad(f(z), z)[0])
        return torch.stack(rows)

    check.close("sum trick vs per-sample loop", du, check.works("per-sample loop of grad", loop), dtype=dtype)


@claim(
    "EW-002",
    "Applying the sum trick twice gives each sample's own second derivatives: grad(u_x.sum(), X) is "
    "(u_xx, u_xt) per point, matching torch.func.vmap(torch.func.hessian(u)) and a per-sample loop, and a third "
    "application gives u_xxx: u_xx and u_xxx equal a float64 closed-form reference (chain rule in plain Python) "
    "within the dtype's tolerance.",
    section="Element-wise derivatives",
)
def test_sum_trick_second_derivatives(device, dtype, check):
    ps = pinn.params(dtype=dtype, device=device)
    X = pinn.points(N, dtype=dtype, device=device).requires_grad_(True)
    _, du = sum_trick_first(ps, X, check)
    row_x = sum_trick_second(du, X, 0, check)  # (u_xx, u_xt)
    row_t = sum_trick_second(du, X, 1, check)  # (u_tx, u_tt)

    H = per_sample_hessians(ps, X.detach(), check)
    check.close("(u_xx, u_xt) vs vmap(hessian)[:, 0]", row_x, H[:, 0], dtype=dtype, device=device, shape=(N, 2))
    check.close("(u_tx, u_tt) vs vmap(hessian)[:, 1]", row_t, H[:, 1], dtype=dtype)
    loop = check.works("loop of torch.autograd.functional.hessian", lambda: torch.stack(
        [torch.autograd.functional.hessian(pinn.u_one(ps), z) for z in X.detach()]))
    check.close("u_xx vs per-sample loop", row_x[:, 0], loop[:, 0, 0], dtype=dtype)

    # Networks are differentiated further (third-order PDEs: KdV, Cahn-Hilliard in 1-D): u_xxx.
    reference = pinn.axis_derivatives(ps, X, axis=0, order=3)  # float64, plain Python
    check.close("u_xx vs float64 closed form", row_x[:, 0], [r[2] for r in reference], dtype=dtype, device=device)
    (third,) = check.works("grad(u_xx.sum(), X)", lambda: torch.autograd.grad(row_x[:, 0].sum(), X))
    check.close("u_xxx vs float64 closed form", third[:, 0], [r[3] for r in reference], dtype=dtype, device=device)


@claim(
    "EW-003",
    "The Laplacian of a 3-input network by the sum trick (sum over i of grad(u_i.sum(), X)[:, i]) equals the trace "
    "of each sample's Hessian from torch.func.vmap(torch.func.hessian(u)) (forward over reverse) and from "
    "vmap(jacrev(jacrev(u))) (reverse over reverse).",
    section="Element-wise derivatives",
)
def test_laplacian_by_sum_trick(device, dtype, check):
    ps = pinn.params((3, 16, 16, 1), dtype=dtype, device=device)
    X = pinn.points(N, 3, dtype=dtype, device=device).requires_grad_(True)
    _, du = sum_trick_first(ps, X, check)
    lap = sum(sum_trick_second(du, X, i, check)[:, i] for i in range(3))

    H = per_sample_hessians(ps, X.detach(), check)
    trace = torch.diagonal(H, dim1=-2, dim2=-1).sum(-1)
    check.close("Laplacian: sum trick vs trace of vmap(hessian)", lap, trace, dtype=dtype, device=device, shape=(N,))
    rev = check.works("vmap(jacrev(jacrev(u)))",
                      lambda: torch.func.vmap(torch.func.jacrev(torch.func.jacrev(pinn.u_one(ps))))(X.detach()))
    trace_rev = torch.diagonal(rev, dim1=-2, dim2=-1).sum(-1)
    check.close("Laplacian: sum trick vs trace of vmap(jacrev(jacrev))", lap, trace_rev, dtype=dtype, device=device)


@claim(
    "EW-004",
    "A Burgers residual u_t + u*u_x - (0.01/pi)*u_xx assembled from sum-trick derivatives equals the one "
    "assembled from per-sample torch.func derivatives, point by point.",
    section="Element-wise derivatives",
)
def test_burgers_residual(device, dtype, check):
    nu = 0.01 / math.pi
    ps = pinn.params(dtype=dtype, device=device)
    X = pinn.points(N, dtype=dtype, device=device).requires_grad_(True)
    u, du = sum_trick_first(ps, X, check)
    u_xx = sum_trick_second(du, X, 0, check)[:, 0]
    residual = du[:, 1] + u[:, 0] * du[:, 0] - nu * u_xx
    check.true("the residual is differentiable (requires grad)", residual.requires_grad)

    Xd = X.detach()
    f = pinn.u_one(ps)
    u_ref = check.works("vmap(u)", lambda: torch.func.vmap(f)(Xd))
    du_ref = check.works("vmap(jacrev(u))", lambda: torch.func.vmap(torch.func.jacrev(f))(Xd))
    H = per_sample_hessians(ps, Xd, check)
    ref = du_ref[:, 1] + u_ref * du_ref[:, 0] - nu * H[:, 0, 0]
    check.close("Burgers residual: sum trick vs per-sample", residual, ref, dtype=dtype, device=device, shape=(N,))


# ----------------------------------------------------------------- where it breaks


@claim(
    "EW-005",
    "The sum trick silently breaks when samples interact: for u = x - x.mean() over 4 samples it gives 0 for every "
    "sample, while each sample's own derivative du_i/dx_i is 0.75.",
    section="Element-wise derivatives",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_mean_subtraction_breaks_sum_trick(device, dtype, check):
    x = torch.tensor([1.0, 2.0, 4.0, 7.0], requires_grad=True, device=device, dtype=dtype)
    u = x - x.mean()
    (g,) = check.works("grad(u.sum(), x)", lambda: torch.autograd.grad(u.sum(), x))
    check.tensor("sum trick", g, [0.0, 0.0, 0.0, 0.0], dtype=dtype, device=device)
    jac = check.works("jacobian(x - x.mean())", lambda: torch.autograd.functional.jacobian(lambda t: t - t.mean(), x.detach()))
    check.tensor("du_i/dx_i (Jacobian diagonal)", torch.diagonal(jac), [0.75] * 4, dtype=dtype)


def bn_net(device, dtype):
    """x (n, 1) -> linear 1->4 -> BatchNorm1d(4) -> tanh -> linear 4->1."""
    w1, b1, w2, b2 = pinn.params((1, 4, 1), seed=3, dtype=dtype, device=device)
    bn = torch.nn.BatchNorm1d(4).to(device=device, dtype=dtype)

    def net(x):
        return torch.tanh(bn(x @ w1 + b1)) @ w2 + b2

    return net, bn


def batch_points(device, dtype):
    return torch.tensor([[-1.0], [-0.5], [0.0], [0.25], [0.5], [1.0]], device=device, dtype=dtype)


@claim(
    "EW-006",
    "With BatchNorm in train mode the sum trick returns the column sums of the batch Jacobian, not each sample's "
    "own derivative: for a 1-4-1 network with BatchNorm1d(4) at 6 points the two differ.",
    section="Element-wise derivatives",
)
def test_batchnorm_train_breaks_sum_trick(device, dtype, check):
    net, bn = bn_net(device, dtype)
    bn.train()
    x = batch_points(device, dtype).requires_grad_(True)
    (g,) = check.works("grad(net(x).sum(), x)", lambda: torch.autograd.grad(net(x).sum(), x))
    jac = check.works("batch Jacobian", lambda: torch.autograd.functional.jacobian(lambda t: net(t)[:, 0], x.detach()))
    jac = jac[:, :, 0]  # (6, 6)
    own = torch.diagonal(jac)
    gap = (g[:, 0] - own).abs().max().item()
    check.true("sum trick differs from du_i/dx_i by more than 0.01", gap > 0.01)
    check.close("sum trick = column sums of the batch Jacobian", g[:, 0], jac.sum(0), dtype=dtype, device=device)


@claim(
    "EW-007",
    "torch.func.vmap refuses a BatchNorm module in train mode: vmap(bn) raises 'Batch norm got a batched tensor as "
    "input while the running_mean or running_var, which will be updated in place, were not batched', and "
    "vmap(jacrev(net)) raises 'would mutate a captured Tensor'.",
    section="Element-wise derivatives",
)
def test_vmap_refuses_batchnorm_train(device, dtype, check):
    net, bn = bn_net(device, dtype)
    bn.train()
    with check.raises(
        "vmap(bn) in train mode",
        RuntimeError,
        r"Batch norm got a batched tensor as input while the running_mean or running_var, which will be updated "
        r"in place, were not batched",
    ):
        torch.func.vmap(bn)(torch.ones(2, 3, 4, device=device, dtype=dtype))
    with check.raises("vmap(jacrev(net)) in train mode", RuntimeError, r"in-place operation .* would mutate a captured Tensor"):
        torch.func.vmap(torch.func.jacrev(lambda z: net(z[None])[0, 0]))(batch_points(device, dtype))


@claim(
    "EW-008",
    "With BatchNorm in eval mode samples are independent again: the sum trick equals each sample's own derivative "
    "from torch.func.vmap(torch.func.jacrev(net)) and from the batch Jacobian's diagonal.",
    section="Element-wise derivatives",
)
def test_batchnorm_eval_keeps_sum_trick(device, dtype, check):
    net, bn = bn_net(device, dtype)
    bn.train()
    net(batch_points(device, dtype) * 3 + 1)  # one training step moves the running statistics
    bn.eval()
    x = batch_points(device, dtype).requires_grad_(True)
    (g,) = check.works("grad(net(x).sum(), x)", lambda: torch.autograd.grad(net(x).sum(), x))
    own = check.works("vmap(jacrev(net))", lambda: torch.func.vmap(torch.func.jacrev(lambda z: net(z[None])[0, 0]))(x.detach()))
    check.close("sum trick vs vmap(jacrev(net)) in eval mode", g, own, dtype=dtype, device=device, shape=(6, 1))
    jac = check.works("batch Jacobian", lambda: torch.autograd.functional.jacobian(lambda t: net(t)[:, 0], x.detach()))
    jac = jac[:, :, 0]
    check.close("sum trick vs Jacobian diagonal in eval mode", g[:, 0], torch.diagonal(jac), dtype=dtype)
