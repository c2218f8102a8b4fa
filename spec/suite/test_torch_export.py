"""Chapter 4, "torch.export": what an exported program does with autograd.

torch.export traces a module's forward into an ATen graph.  A forward that calls ``torch.autograd.grad`` (forces
F = -dE/dx of an energy, u_x of a PINN at inference) is traced *through* the backward: the exported graph holds the
derivative as ordinary operations.  A plain exported module, run with ``ExportedProgram.module()``, is an ordinary
differentiable module again.  torch 2.0 has no ``torch.export`` (the claims are n/a there).
"""

import pytest
import torch

from spec import by_version, claim, dtypes
from spec.suite.support import quiet_dynamo

#: torch.export.export arrived in torch 2.1 (torch 2.0 had only the private torch._export).
HAS_EXPORT = by_version(
    "EXPT-001/torch.export.export exists",
    {"<2.1": False, ">=2.1": True},
    ref="https://github.com/pytorch/pytorch/pull/106904",
    note="confirmed by observation: absent on 2.0.1, present on 2.8.0, 2.13.0 and 2.15.0",
)
NO_EXPORT = r"has no attribute 'export'|No module named 'torch\.export'"
#: Exporting a forward that calls torch.autograd.grad: Dynamo refused to trace it before torch 2.8 ("inlining
#: disallowed: grad" on 2.1, "Unsupported: Tensor.requires_grad_" or "skip function grad" on 2.2 to 2.7).
EXPORTS_AUTOGRAD_GRAD = by_version(
    "EXPT-001/torch.export of a forward that calls autograd.grad",
    {"<2.8": {"outcome": "raised", "matches": r"^Unsupported: "}, ">=2.8": {"outcome": "returned"}},
    ref="https://github.com/pytorch/pytorch/issues/125984",
    note="confirmed by observation: Unsupported on every release 2.1.2 to 2.7.1, exported on 2.8.0 to 2.15.0; the "
    "PR that made Dynamo trace autograd.grad for export is unconfirmed (not found)",
)
NOT_REQUIRE_GRAD = r"element 0 of tensors does not require grad and does not have a grad_fn"

@pytest.fixture(autouse=True)
def _quiet_lazy_import():
    """torch.export imports torch._dynamo and traces, which may warn on its own way (no claim here is about it)."""
    with quiet_dynamo():
        yield


def export(module, args, check):
    """``torch.export.export(module, args)``, recorded; n/a where torch has no torch.export."""
    if not HAS_EXPORT.current():
        check.absent("torch.export.export", lambda: torch.export.export(module, args), AttributeError,
                     NO_EXPORT, reason="torch.export arrived in torch 2.1")
    return check.works("torch.export.export(module, args)", lambda: torch.export.export(module, args))


def export_forces(module, args, check):
    """Export a :class:`Forces` module: the program, or None where this torch refuses (recorded, by release)."""
    if not HAS_EXPORT.current():
        export(module, args, check)
    return check.call("torch.export.export(Forces, args)", lambda: torch.export.export(module, args),
                      EXPORTS_AUTOGRAD_GRAD)


class Forces(torch.nn.Module):
    """F = -dE/dx for E = sum(w * x**3): the forward differentiates (a force field, or u_x of a PINN)."""

    def __init__(self, create_graph, dtype):
        super().__init__()
        self.create_graph = create_graph
        self.w = torch.nn.Parameter(torch.tensor([2.0, 3.0], dtype=dtype))

    def forward(self, x):
        if not x.requires_grad:
            x = x.detach().requires_grad_()
        with torch.enable_grad():
            energy = (self.w * x**3).sum()
            (g,) = torch.autograd.grad(energy, x, create_graph=self.create_graph)
        return -g


class Quadratic(torch.nn.Module):
    """y = sum(w * x * x) with w = [2, 3]."""

    def __init__(self, dtype):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([2.0, 3.0], dtype=dtype))

    def forward(self, x):
        return (self.w * x * x).sum()


@claim(
    "EXPT-001",
    "torch.export.export exports a module whose forward calls torch.autograd.grad (since torch 2.8; 2.1 to 2.7 "
    "raise Dynamo's Unsupported): for forces "
    "F = -dE/dx of E = sum(w * x**3), w = [2, 3], the exported program returns eager's forces exactly, [-6, -36] at "
    "x = [1, 2] and [-54, -9] at x = [3, -1], with create_graph False or True.",
    section="torch.export",
    apis=("torch.export.export", "torch.autograd.grad", "torch.autograd.grad:create_graph",),
)
@pytest.mark.parametrize("create_graph", [False, True], ids=["create_graph=False", "create_graph=True"])
@dtypes("float64")
def test_export_of_autograd_grad_in_forward(create_graph, device, dtype, check):
    model = Forces(create_graph, dtype).to(device)
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
    check.tensor("eager forces", model(x), [-6.0, -36.0], dtype=dtype, device=device)
    ep = export_forces(model, (x,), check)
    if ep is None:
        return
    exported = ep.module()
    check.tensor("exported forces at [1, 2]", check.works("ep.module()(x)", lambda: exported(x)), [-6.0, -36.0],
                 dtype=dtype, device=device)
    other = torch.tensor([3.0, -1.0], device=device, dtype=dtype)
    check.tensor("exported forces at [3, -1]", exported(other), [-54.0, -9.0], dtype=dtype, device=device)


@claim(
    "EXPT-002",
    "torch.export traces autograd.grad in forward into ordinary operations, so the exported forces are "
    "differentiable even with create_graph=False: d sum(F)/dx of the exported F = -dE/dx, E = sum(w * x**3), "
    "is -6*w*x = [-12, -36] at x = [1, 2] (exported with an example x that requires grad), where eager's F (create_graph=False) has no graph and raises 'does not "
    "require grad'.",
    section="torch.export",
    apis=("torch.export.export", "torch.autograd.grad", "requires_grad",),
)
@dtypes("float64")
def test_exported_forces_are_differentiable(device, dtype, check):
    model = Forces(False, dtype).to(device)
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=True)
    eager = model(x)
    check.flags("eager F (create_graph=False)", eager, requires_grad=False, grad_fn=None)
    with check.raises("d sum(eager F)/dx", RuntimeError, NOT_REQUIRE_GRAD):
        torch.autograd.grad(eager.sum(), x)
    ep = export_forces(model, (x,), check)  # an example that requires grad: the forward keeps x (no detach is traced)
    if ep is None:
        return
    forces = check.works("exported F", lambda: ep.module()(x))
    check.flags("exported F", forces, requires_grad=True, grad_fn=True)
    (dfdx,) = torch.autograd.grad(forces.sum(), x)
    check.tensor("d sum(exported F)/dx", dfdx, [-12.0, -36.0], dtype=dtype, device=device)


@claim(
    "EXPT-003",
    "Training through an exported force field gives eager's parameter gradients: for the loss sum(F**2) with "
    "F = -dE/dx, E = sum(w * x**3) exported with create_graph=True, dL/dw = 18*w*x**4 = [36, 864] at w = [2, 3], "
    "x = [1, 2], by backward() and by autograd.grad.",
    section="torch.export",
    apis=("torch.export.export", "torch.autograd.grad:create_graph", "Tensor.backward", "Tensor.grad",),
)
@pytest.mark.parametrize("via", ["backward", "autograd.grad"])
@dtypes("float64")
def test_training_through_exported_forces(via, device, dtype, check):
    model = Forces(True, dtype).to(device)
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
    eager_loss = (model(x) ** 2).sum()
    (eager_grad,) = torch.autograd.grad(eager_loss, model.w)
    check.tensor("eager dL/dw", eager_grad, [36.0, 864.0], dtype=dtype, device=device)
    ep = export_forces(model, (x,), check)
    if ep is None:
        return
    exported = ep.module()
    loss = (check.works("exported F", lambda: exported(x)) ** 2).sum()
    params = list(exported.parameters())
    check.equal("the exported module's parameters", len(params), 1)
    if via == "backward":
        loss.backward()
        grad = params[0].grad
    else:
        (grad,) = torch.autograd.grad(loss, params[0])
    check.tensor("exported dL/dw", grad, [36.0, 864.0], dtype=dtype, device=device)


@claim(
    "EXPT-004",
    "ExportedProgram.module() of a plain module supports backward as eager does: for y = sum(w * x * x), w = [2, 3] "
    "at x = [1, 2], y = 14 has a grad_fn, x.grad is [4, 12] and the parameter's .grad is [1, 4], by backward() "
    "and by autograd.grad, whether the example input required grad or not.",
    section="torch.export",
    apis=("torch.export.export", "Tensor.backward", "torch.autograd.grad", "Tensor.grad",),
)
@pytest.mark.parametrize("via", ["backward", "autograd.grad"])
@pytest.mark.parametrize("example_requires_grad", [False, True], ids=["example-constant", "example-requires-grad"])
@dtypes("float64")
def test_exported_module_backward(via, example_requires_grad, device, dtype, check):
    model = Quadratic(dtype).to(device)
    example = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=example_requires_grad)
    ep = export(model, (example,), check)
    exported = ep.module()
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype, requires_grad=True)
    y = check.works("y = ep.module()(x)", lambda: exported(x))
    check.tensor("y", y, 14.0, dtype=dtype, device=device)
    check.flags("y", y, requires_grad=True, grad_fn=True)
    (w,) = list(exported.parameters())
    check.flags("the exported parameter", w, requires_grad=True, is_leaf=True)
    if via == "backward":
        y.backward()
        gx, gw = x.grad, w.grad
    else:
        gx, gw = torch.autograd.grad(y, (x, w))
    check.tensor("dy/dx", gx, [4.0, 12.0], dtype=dtype, device=device)
    check.tensor("dy/dw", gw, [1.0, 4.0], dtype=dtype, device=device)


@claim(
    "EXPT-005",
    "torch.export ignores the grad mode it is called under: a module exported inside torch.no_grad() or "
    "torch.inference_mode() still returns, outside it, a y = sum(w * x * x) that requires grad, with dy/dw = [1, 4] "
    "at x = [1, 2]; run under torch.no_grad() the exported module's output does not require grad.",
    section="torch.export",
    apis=("torch.export.export", "torch.no_grad", "torch.inference_mode", "torch.autograd.grad",),
)
@pytest.mark.parametrize("context", ["no_grad", "inference_mode"])
@dtypes("float64")
def test_export_under_no_grad(context, device, dtype, check):
    model = Quadratic(dtype).to(device)
    x = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
    if not HAS_EXPORT.current():
        export(model, (x,), check)
    manager = torch.no_grad if context == "no_grad" else torch.inference_mode
    with manager():
        ep = check.works(f"torch.export.export under {context}", lambda: torch.export.export(model, (x,)))
    exported = ep.module()
    y = exported(x)
    check.flags("y (called with grad enabled)", y, requires_grad=True, grad_fn=True)
    (gw,) = torch.autograd.grad(y, list(exported.parameters()))
    check.tensor("dy/dw", gw, [1.0, 4.0], dtype=dtype, device=device)
    with torch.no_grad():
        z = exported(x)
    check.flags("y called under no_grad", z, requires_grad=False, grad_fn=None)
    check.tensor("y called under no_grad", z, 14.0, dtype=dtype, device=device)
