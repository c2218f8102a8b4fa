"""Part 2, "Batched gradients": the whole Jacobian in one call (is_grads_batched), and every other route to it."""


import torch

from spec import claim, dtypes
from spec.suite.support import quiet_dynamo

JACOBIAN = [[7.0, 1.0, 1.0], [2.0, 8.0, 2.0], [3.0, 3.0, 9.0]]


@claim(
    "BATCH-001",
    "autograd.grad(y, x, grad_outputs=torch.eye(3), is_grads_batched=True) returns the whole Jacobian, row i being "
    "dy_i/dx: for y = x * x.sum() at x = [1, 2, 3] it is [[7, 1, 1], [2, 8, 2], [3, 3, 9]], the Jacobian that a loop of "
    "grad over the rows of the identity, torch.autograd.functional.jacobian (vectorize False or True, reverse or "
    "forward mode), torch.func.jacrev and jacfwd, and the columns from forward mode (torch.autograd.forward_ad, "
    "torch.autograd.functional.jvp) all give.",
    section="Batched gradients",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_batched_identity_gives_jacobian(device, dtype, check):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device, dtype=dtype)
    y = x * x.sum()
    eye = torch.eye(3).to(device=device, dtype=dtype)  # torch 2.0 has no bfloat16 eye on the CPU
    (jac,) = check.works("grad(y, x, grad_outputs=eye, is_grads_batched=True)",
                         lambda: torch.autograd.grad(y, x, grad_outputs=eye, is_grads_batched=True, retain_graph=True))
    check.tensor("batched grad with the identity", jac, JACOBIAN, dtype=dtype, device=device, shape=(3, 3))
    loop = check.works("a loop of grad(y, x, grad_outputs=eye[i])", lambda: torch.stack(
        [torch.autograd.grad(y, x, grad_outputs=row, retain_graph=True)[0] for row in eye]))
    check.tensor("a loop of grad(y, x, grad_outputs=eye[i])", loop, JACOBIAN, dtype=dtype, device=device, shape=(3, 3))


def coupled(t):
    return t * t.sum()


def forward_ad_columns(x):
    """Column j of the Jacobian is the tangent of f at x in the direction e_j (forward mode)."""
    fwd = torch.autograd.forward_ad
    columns = []
    for e in torch.eye(3, dtype=x.dtype, device=x.device):
        with fwd.dual_level():
            columns.append(fwd.unpack_dual(coupled(fwd.make_dual(x, e))).tangent)
    return torch.stack(columns, 1)


@claim("BATCH-001")
def test_every_route_to_the_jacobian(device, dtype, check):
    x = torch.tensor([1.0, 2.0, 3.0], device=device, dtype=dtype)
    eye = torch.eye(3, device=device, dtype=dtype)
    jacobian = torch.autograd.functional.jacobian
    routes = {
        "torch.autograd.functional.jacobian": lambda: jacobian(coupled, x),
        "jacobian(vectorize=True)": lambda: jacobian(coupled, x, vectorize=True),
        "jacobian(vectorize=True, strategy='forward-mode')": lambda: jacobian(
            coupled, x, vectorize=True, strategy="forward-mode"),
        "torch.func.jacrev": lambda: torch.func.jacrev(coupled)(x),
        "torch.func.jacfwd": lambda: torch.func.jacfwd(coupled)(x),
        "columns by torch.autograd.forward_ad": lambda: forward_ad_columns(x),
        "columns by torch.autograd.functional.jvp": lambda: torch.stack(
            [torch.autograd.functional.jvp(coupled, x, e)[1] for e in eye], 1),
    }
    with quiet_dynamo():
        for name, route in routes.items():
            check.tensor(name, check.works(name, route), JACOBIAN, dtype=dtype, device=device, shape=(3, 3))
