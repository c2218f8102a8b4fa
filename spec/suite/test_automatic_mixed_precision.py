"""Chapter 4, "Automatic mixed precision": torch.autocast, gradient dtypes, custom Functions, GradScaler.

Autocast runs on the device of the ``device`` fixture (cpu everywhere; cuda where present).  A PINN's u_xx under
bfloat16 autocast is stated with its measured error against a float64 reference.
"""

import re
import warnings

import pytest
import torch

from spec import by_version, claim, dtypes
from spec.suite import pinn

DTYPE_MISMATCH = r"expected (scalar type BFloat16 but found Float|m1 and m2 to have the same dtype)"
#: float16 in CPU autocast: refused before 2.2, supported from 2.2 (pytorch#112484).
CPU_FLOAT16 = by_version(
    "AMP-004/torch.autocast('cpu', dtype=torch.float16) autocasts mm",
    {"<2.2": False, ">=2.2": True},
    ref="https://github.com/pytorch/pytorch/pull/112484",
    note="merged October 2023, first released in 2.2 (2.1-2.7 not checked here)",
)
#: torch.amp.custom_fwd/custom_bwd with device_type arrived in 2.4; torch.cuda.amp's spellings deprecated then.
HAS_AMP_CUSTOM_FWD = by_version(
    "AMP-005/torch.amp.custom_fwd exists",
    {"<2.4": False, ">=2.4": True},
    ref="https://github.com/pytorch/pytorch/pull/126531",
    note="merged May 2024, first released in 2.4",
)
OLD_SPELLING_WARNS = by_version(
    "AMP-006/FutureWarnings of the torch.cpu.amp / torch.cuda.amp spellings",
    {"<2.4": 0, ">=2.4": 3},
    ref="https://github.com/pytorch/pytorch/pull/126527",
    note="GradScaler and custom_fwd deprecations (pytorch#126527, #126531) and the autocast one shipped in 2.4",
)
#: torch.amp.GradScaler("cpu"): CPU gradient scaling arrived in 2.3 (pytorch#109993).
HAS_CPU_GRAD_SCALER = by_version(
    "AMP-007/torch.amp.GradScaler('cpu') works",
    {"<2.3": False, ">=2.3": True},
    ref="https://github.com/pytorch/pytorch/pull/109993",
    note="the CPU kernels and torch.cpu.amp.GradScaler (pytorch#111559); 2.1-2.7 not checked here",
)


def _kind(device):
    return torch.device(device).type


@claim(
    "AMP-001",
    "Under torch.autocast(device, dtype=torch.bfloat16), mm, matmul and linear of float32 tensors return bfloat16, "
    "mse_loss and prod (float32 list) return float32, ops on neither list (tanh, and on cpu sum) keep their input's "
    "dtype (sum is on CUDA's float32 list), and bfloat16 + float32 promotes to float32.",
    section="Automatic mixed precision",
)
@dtypes("float32")
def test_autocast_output_dtypes(device, dtype, check):
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device, dtype=dtype)
    with torch.autocast(_kind(device), dtype=torch.bfloat16):
        mm = a @ a
        seen = {
            "mm": torch.mm(a, a).dtype,
            "matmul": mm.dtype,
            "linear": torch.nn.functional.linear(a, a).dtype,
            "mse_loss": torch.nn.functional.mse_loss(mm, a).dtype,
            "prod": torch.prod(mm).dtype,
            "tanh of bfloat16": torch.tanh(mm).dtype,
            "sum of bfloat16": mm.sum().dtype,
            "bfloat16 + float32": (mm + a).dtype,
        }
    want = {"mm": "bfloat16", "matmul": "bfloat16", "linear": "bfloat16", "mse_loss": "float32", "prod": "float32",
            "tanh of bfloat16": "bfloat16", "sum of bfloat16": "bfloat16", "bfloat16 + float32": "float32"}
    if _kind(device) == "cuda":
        # sum is on the CUDA list of ops that autocast to float32 (torch.amp docs), not on the CPU list.
        want["sum of bfloat16"] = "float32"
    check.equal("output dtypes", {k: str(v).removeprefix("torch.") for k, v in seen.items()}, want)
    check.tensor("a @ a in bfloat16", mm, [[7.0, 10.0], [15.0, 22.0]], dtype=torch.bfloat16)


@claim(
    "AMP-002",
    "Gradients keep the dtype of what they are taken with respect to: after a bfloat16 forward under autocast and "
    "backward() outside it, a float32 parameter's .grad and a float32 input's gradient are float32 (the retained "
    ".grad of the bfloat16 intermediate is bfloat16), through backward() and autograd.grad.",
    section="Automatic mixed precision",
)
@dtypes("float32")
@pytest.mark.parametrize("way", ["backward", "autograd.grad"])
def test_gradient_dtypes(device, dtype, way, check):
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device, dtype=dtype, requires_grad=True)
    x = torch.tensor([[1.0, -1.0]], device=device, dtype=dtype, requires_grad=True)
    with torch.autocast(_kind(device), dtype=torch.bfloat16):
        y = x @ w
    check.equal("y.dtype", y.dtype, torch.bfloat16)
    loss = y.float().sum()
    if way == "backward":
        y.retain_grad()
        loss.backward()
        gw, gx = w.grad, x.grad
        check.tensor("y.grad", y.grad, [[1.0, 1.0]], dtype=torch.bfloat16)
    else:
        gw, gx = torch.autograd.grad(loss, (w, x))
    check.tensor("gradient of w", gw, [[1.0, 1.0], [-1.0, -1.0]], dtype=torch.float32)
    check.tensor("gradient of x", gx, [[3.0, 7.0]], dtype=torch.float32)


@claim(
    "AMP-003",
    "torch.autocast(device, enabled=False) nested in an autocast region turns it off: mm of float32 tensors returns "
    "float32 there, and mixing a bfloat16 result of the outer region with float32 raises (cast it with .float()).",
    section="Automatic mixed precision",
)
@dtypes("float32")
def test_nested_disabled_autocast(device, dtype, check):
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device, dtype=dtype)
    with torch.autocast(_kind(device), dtype=torch.bfloat16):
        low = a @ a
        with torch.autocast(_kind(device), enabled=False):
            check.equal("mm inside enabled=False", (a @ a).dtype, torch.float32)
            with check.raises("bfloat16 @ float32 inside enabled=False", RuntimeError, DTYPE_MISMATCH):
                low @ a
            check.equal("low.float() @ a", (low.float() @ a).dtype, torch.float32)
        check.equal("mm after the inner region", (a @ a).dtype, torch.bfloat16)


@claim(
    "AMP-004",
    "CPU autocast with dtype=torch.float16 autocasts mm to float16 from torch 2.2; before, it warns 'the target "
    "dtype is not supported' and entering the region raises 'AutocastCPU only support Bfloat16'.",
    section="Automatic mixed precision",
)
@dtypes("float32")
def test_float16_autocast(device, dtype, check):
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device, dtype=dtype)

    def run():
        with torch.autocast(_kind(device), dtype=torch.float16):
            return (a @ a).dtype

    supported = _kind(device) != "cpu" or CPU_FLOAT16.for_version(torch.__version__)
    if _kind(device) == "cpu":
        check.equal("float16 CPU autocast supported", supported, CPU_FLOAT16)
    if not supported:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            check.absent("torch.autocast('cpu', dtype=torch.float16)", run, RuntimeError,
                         r"AutocastCPU only support Bfloat16", reason="CPU autocast supports float16 from torch 2.2")
    check.equal("mm under float16 autocast", check.works("float16 autocast region", run), torch.float16)


def _cast_function(device):
    class Scale(torch.autograd.Function):
        seen = {}

        @staticmethod
        @torch.amp.custom_fwd(device_type=_kind(device), cast_inputs=torch.float32)
        def forward(ctx, x, w):
            Scale.seen["forward x"] = x.dtype
            Scale.seen["forward mm"] = (x @ w).dtype
            ctx.save_for_backward(x, w)
            return x @ w

        @staticmethod
        @torch.amp.custom_bwd(device_type=_kind(device))
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            Scale.seen["backward mm"] = (g @ w.t()).dtype
            return g @ w.t(), x.t() @ g

    return Scale


@claim(
    "AMP-005",
    "torch.amp.custom_fwd(device_type=..., cast_inputs=torch.float32) (2.4+) runs a custom Function's forward on "
    "float32 inputs with autocast off inside a bfloat16 region, and custom_bwd runs its backward with the same "
    "(off) autocast state: mm is float32 in both, and the float32 parameter's gradient is exact.",
    section="Automatic mixed precision",
)
@dtypes("float32")
def test_custom_fwd_cast_inputs(device, dtype, check):
    check.equal("torch.amp has custom_fwd", hasattr(torch.amp, "custom_fwd"), HAS_AMP_CUSTOM_FWD)
    if not hasattr(torch.amp, "custom_fwd"):
        check.absent("torch.amp.custom_fwd", lambda: torch.amp.custom_fwd, AttributeError, "custom_fwd",
                     reason="torch.amp.custom_fwd arrived in torch 2.4 (before: torch.cuda.amp.custom_fwd, CUDA only)")
    fn = _cast_function(device)
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device, dtype=dtype, requires_grad=True)
    x = torch.tensor([[1.0, -1.0]], device=device, dtype=torch.bfloat16)
    with torch.autocast(_kind(device), dtype=torch.bfloat16):
        y = check.works("Scale.apply(x, w) under autocast", lambda: fn.apply(x, w))
    y.sum().backward()
    check.equal("dtypes seen", {k: str(v) for k, v in fn.seen.items()},
                {"forward x": "torch.float32", "forward mm": "torch.float32", "backward mm": "torch.float32"})
    check.tensor("w.grad", w.grad, [[1.0, 1.0], [-1.0, -1.0]], dtype=torch.float32)


@claim(
    "AMP-006",
    "The device-specific spellings torch.cpu.amp.autocast, torch.cpu.amp.GradScaler and torch.cuda.amp.custom_fwd "
    "each warn FutureWarning 'is deprecated' from torch 2.4 (none before; GradScaler on CPU from 2.3), and "
    "torch.cpu.amp.autocast still autocasts mm to bfloat16.",
    section="Automatic mixed precision",
)
@dtypes("float32")
def test_old_spellings(device, dtype, check):
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=dtype)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.cpu.amp.autocast(dtype=torch.bfloat16):
            out = a @ a
        if hasattr(torch.cpu.amp, "GradScaler"):
            torch.cpu.amp.GradScaler()
        torch.cuda.amp.custom_fwd(cast_inputs=torch.float32)
    hits = [w for w in caught if issubclass(w.category, FutureWarning) and re.search(r"is deprecated", str(w.message))]
    check.equal("FutureWarnings 'is deprecated'", len(hits), OLD_SPELLING_WARNS)
    check.equal("mm under torch.cpu.amp.autocast", out.dtype, torch.bfloat16)


def _scaler(device, **kwargs):
    return torch.amp.GradScaler(_kind(device), **kwargs)


@claim(
    "AMP-007",
    "torch.amp.GradScaler(device) (cpu from 2.3) starts at scale 65536; unscale_ divides the .grad by the scale; "
    "step() skips the update when a gradient is inf and update() then halves the scale, and after growth_interval "
    "clean steps update() doubles it.",
    section="Automatic mixed precision",
)
@dtypes("float32")
def test_grad_scaler(device, dtype, check):
    check.equal("GradScaler on this device", hasattr(torch.amp, "GradScaler"), HAS_CPU_GRAD_SCALER)
    if not hasattr(torch.amp, "GradScaler"):
        check.absent("torch.amp.GradScaler('cpu')", lambda: torch.amp.GradScaler("cpu"), AttributeError, "GradScaler",
                     reason="gradient scaling on CPU arrived in torch 2.3")
    check.equal("default scale", _scaler(device).get_scale(), 65536.0)
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0], device=device, dtype=dtype))
    opt = torch.optim.SGD([p], lr=1.0)
    scaler = _scaler(device, init_scale=8.0, growth_interval=2)
    check.tensor("scale(loss)", scaler.scale((p * 3).sum()), 72.0, dtype=dtype)
    scaler.scale((p * 3).sum()).backward()
    check.tensor("scaled .grad", p.grad, [24.0, 24.0], dtype=dtype)
    scaler.unscale_(opt)
    check.tensor("unscaled .grad", p.grad, [3.0, 3.0], dtype=dtype)
    scaler.step(opt)
    scaler.update()
    check.tensor("p after a clean step", p, [-2.0, -1.0], dtype=dtype)
    check.equal("scale after one clean step", scaler.get_scale(), 8.0)
    opt.zero_grad()
    scaler.scale((p * float("inf")).sum()).backward()
    scaler.step(opt)
    scaler.update()
    check.tensor("p after a step with inf gradients", p, [-2.0, -1.0], dtype=dtype)
    check.equal("scale after the inf step", scaler.get_scale(), 4.0)
    for _ in range(2):
        opt.zero_grad()
        scaler.scale(p.sum()).backward()
        scaler.step(opt)
        scaler.update()
    check.equal("scale after growth_interval clean steps", scaler.get_scale(), 8.0)


@claim(
    "AMP-008",
    "Gradient penalty with GradScaler: autograd.grad(scaler.scale(loss), w, create_graph=True) returns the "
    "gradient times the scale, so a penalty ||g|| built from it is off by exactly the scale factor (1024 * 5 = 5120 "
    "for a true 5) until the gradients are divided by scaler.get_scale() by hand, as the AMP examples do.",
    section="Automatic mixed precision",
)
@dtypes("float32")
def test_gradient_penalty_recipe(device, dtype, check):
    if not hasattr(torch.amp, "GradScaler"):
        check.absent("torch.amp.GradScaler('cpu')", lambda: torch.amp.GradScaler("cpu"), AttributeError, "GradScaler",
                     reason="gradient scaling on CPU arrived in torch 2.3")
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0], device=device, dtype=dtype))
    opt = torch.optim.SGD([w], lr=0.0)
    scaler = _scaler(device, init_scale=1024.0)
    loss = (w * w).sum() / 2  # gradient: w, norm 5
    (scaled,) = torch.autograd.grad(scaler.scale(loss), w, create_graph=True)
    check.tensor("scaled gradient", scaled, [3072.0, 4096.0], dtype=dtype)
    check.tensor("penalty from the scaled gradient", scaled.norm(), 5120.0, exact=False, dtype=dtype)
    g = scaled / scaler.get_scale()
    penalty = g.norm()
    check.tensor("penalty from the unscaled gradient", penalty, 5.0, exact=False, dtype=dtype)
    scaler.scale(loss + penalty).backward()
    scaler.unscale_(opt)
    # d/dw (|w|^2/2 + |w|) = w + w/|w|
    check.close("w.grad after unscale_", w.grad, [3.6, 4.8], dtype=dtype)


@claim(
    "AMP-009",
    "u_xx of a tanh PINN network (2-16-16-1, float32 parameters) under bfloat16 autocast comes back float32 with a "
    "relative error (max |error| / max |u_xx|) between 1e-3 and 5e-2 against float64 (measured about 1.3e-2 to "
    "1.5e-2), where float32 without autocast stays below 1e-5.",
    section="Automatic mixed precision",
)
@dtypes("float32")
def test_pinn_u_xx_precision(device, dtype, check):
    ps = pinn.params(dtype=dtype, device=device)
    z = pinn.points(32, dtype=dtype, device=device).requires_grad_()
    ref = torch.tensor([r[2] for r in pinn.axis_derivatives(pinn.params(), pinn.points(32), 0, 2)], dtype=torch.float64)

    def u_xx(autocast):
        with torch.autocast(_kind(device), dtype=torch.bfloat16, enabled=autocast):
            u = pinn.u(ps, z)
        (g,) = torch.autograd.grad(u.sum(), z, create_graph=True)
        (gg,) = torch.autograd.grad(g[:, 0].sum(), z)
        return gg[:, 0]

    def rel(t):
        return round(float((t.detach().double().cpu() - ref).abs().max() / ref.abs().max()), 8)

    low = u_xx(True)
    check.equal("u_xx dtype under autocast", low.dtype, torch.float32)
    error = rel(low)
    check.equal("relative error of u_xx under bfloat16 autocast is within [1e-3, 5e-2]", 1e-3 <= error <= 5e-2, True)
    check.equal("relative error of u_xx in float32 is below 1e-5", rel(u_xx(False)) < 1e-5, True)
