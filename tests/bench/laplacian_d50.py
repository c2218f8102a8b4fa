"""The published Laplacian experiment, reproduced on the CPU: Dangel et al., "Collapsing Taylor Mode Automatic
Differentiation" (NeurIPS 2025, arXiv:2505.13644), exact and stochastic Laplacian of a tanh MLP
D -> 768 -> 768 -> 512 -> 512 -> 1 at D = 50.

    python -m tests.bench.laplacian_d50 --out docs/bench/laplacian-d50.json [--batches 1,2,4,8] [--quick]

For each method, and both differentiable (the weights require grad and the result keeps its graph, as in
PINN training) and not (the weights do not; Taylor mode under ``torch.no_grad``), it times one call
at each batch size (the minimum of ``repeats`` calls of process CPU time, one thread) and measures
the peak-RSS rise of one call in a forked child (glibc told to serve every block of 4 KiB and more
with mmap and to give freed memory back, so that the RSS follows the live tensors), then fits straight lines: the slopes are the time and memory
added per datum, the paper's Table 1 quantity. Every method is first checked against nested
autograd in float64.

Methods (exact): ``nested`` (nested torch.autograd.grad: the gradient, then D Hessian-vector rows),
``func_hessian`` (torch.func: vmap over points of the Hessian's trace, jacfwd over jacrev),
``jet_standard`` and ``jet_collapsed`` (jet-for-pytorch's ``jet.laplacian``, collapsed=False/True,
vmapped over points), and ours, written by hand for this MLP: ``ours_standard`` (D separate 2-jets,
summed at the end) and ``ours_collapsed`` (the 2nd-order coefficients summed over directions as
they propagate: the forward Laplacian). Stochastic (Hutchinson: Lap u ~ (1/S) sum_s v_s^T H v_s
with Rademacher or Gaussian v_s): ``hutch_nested`` (S Hessian-vector products by nested autograd),
``hutch_ours_collapsed`` (collapsed Taylor mode along S random directions) and ``hutch_jet`` (jet's
randomized collapsed Laplacian), with the relative RMS error against the exact Laplacian.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import time
from collections.abc import Callable
from typing import Any

D = 50
WIDTHS = (768, 768, 512, 512)
BATCHES = (8, 16, 32, 64)
SAMPLES = (1, 4, 16, 64, 256)
SEEDS = 20
#: the paper's Table 1 (Laplacian, exact, D = 50, RTX 6000, per added datum), as issue 20 quotes it
PAPER = {"nested": 0.61, "standard Taylor": 0.60, "collapsed Taylor": 0.33, "predicted collapsed/standard": (2 + D) / (1 + 2 * D),
         "measured collapsed/standard": 0.55}
EXACT = ("nested", "func_hessian", "jet_standard", "jet_collapsed", "ours_standard", "ours_collapsed")


def make_mlp(d: int, dtype, seed: int = 0):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    sizes = (d, *WIDTHS, 1)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers).to(dtype)


def _lins(model):
    from torch import nn

    return [m for m in model if isinstance(m, nn.Linear)]


# ---- exact methods: (model, x, differentiable) -> Laplacian (B, 1) --------------------------------------------


def nested(model, x, diff):
    import torch

    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(model(x).sum(), x, create_graph=True)
    lap = 0
    for i in range(x.shape[1]):
        (h,) = torch.autograd.grad(g[:, i].sum(), x, create_graph=diff, retain_graph=True)
        lap = lap + h[:, i : i + 1]
    return lap


def func_hessian(model, x, diff):
    from torch.func import hessian, vmap

    single = lambda z: model(z.unsqueeze(0)).squeeze()  # noqa: E731
    return vmap(lambda z: hessian(single)(z).diagonal().sum())(x).unsqueeze(-1)


def _jet(collapsed: bool, randomization=None):
    def build(model, x):
        import jet
        import torch
        from torch.func import vmap

        single = lambda z: model(z.unsqueeze(0)).squeeze(0)  # noqa: E731
        lap = jet.laplacian(single, (torch.zeros(x.shape[1], dtype=x.dtype),), collapsed=collapsed,
                            randomization=randomization)
        return lambda x_: vmap(lap, randomness="different")(x_)

    return build


def ours_standard(model, x, diff):
    """Standard Taylor mode by hand: each of the D directions is its own 2-jet (z0 shared, z1 and z2 per direction);
    the second coefficients are summed only at the output."""
    import torch

    lins = _lins(model)
    z0, z1, z2 = x, torch.eye(x.shape[1], dtype=x.dtype)[:, None, :], None
    for i, lin in enumerate(lins):
        z0 = z0 @ lin.weight.T + lin.bias
        z1 = z1 @ lin.weight.T
        z2 = None if z2 is None else z2 @ lin.weight.T
        if i == len(lins) - 1:
            break
        y0 = z0.tanh()
        s = 1 - y0 * y0
        y2 = -2 * y0 * s * z1 * z1  # per direction: (D, B, width)
        z0, z1, z2 = y0, s * z1, y2 if z2 is None else y2 + s * z2
    return z2.sum(0)


def ours_collapsed(model, x, diff, dirs=None):
    """Collapsed Taylor mode by hand (the forward Laplacian): the second coefficients are summed over the
    directions at every layer, so one (B, width) tensor instead of D of them."""
    import torch

    lins = _lins(model)
    z0 = x
    z1 = torch.eye(x.shape[1], dtype=x.dtype)[:, None, :] if dirs is None else dirs
    z2 = None
    for i, lin in enumerate(lins):
        z0 = z0 @ lin.weight.T + lin.bias
        z1 = z1 @ lin.weight.T
        z2 = None if z2 is None else z2 @ lin.weight.T
        if i == len(lins) - 1:
            break
        y0 = z0.tanh()
        s = 1 - y0 * y0
        y2 = -2 * y0 * s * (z1 * z1).sum(0)
        z0, z1, z2 = y0, s * z1, y2 if z2 is None else y2 + s * z2
    return z2


def exact_callable(name: str, model, x, diff: bool) -> Callable[[], Any]:
    import torch

    if name.startswith("jet_"):
        run = _jet(name == "jet_collapsed")(model, x)
    else:
        fn = {"nested": nested, "func_hessian": func_hessian, "ours_standard": ours_standard,
              "ours_collapsed": ours_collapsed}[name]
        run = lambda x_: fn(model, x_, diff)  # noqa: E731
    if not diff and name not in ("nested", "func_hessian"):
        return lambda: _no_grad(run, x, torch)
    return lambda: run(x)


def _no_grad(run, x, torch):
    with torch.no_grad():
        return run(x)


# ---- stochastic methods: Hutchinson ---------------------------------------------------------------------------


def directions(kind: str, s: int, b: int, d: int, gen, dtype):
    import torch

    if kind == "rademacher":
        return (torch.randint(0, 2, (s, b, d), generator=gen).to(dtype) * 2 - 1)
    return torch.randn(s, b, d, generator=gen, dtype=dtype)


def hutch_nested(model, x, v):
    import torch

    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(model(x).sum(), x, create_graph=True)
    est = 0
    for s in range(v.shape[0]):
        (hv,) = torch.autograd.grad((g * v[s]).sum(), x, retain_graph=True)
        est = est + (hv * v[s]).sum(-1, keepdim=True)
    return est / v.shape[0]


def hutch_ours_collapsed(model, x, v):
    return ours_collapsed(model, x, True, dirs=v) / v.shape[0]


# ---- measurement ----------------------------------------------------------------------------------------------


def cpu_time(fn: Callable[[], Any], repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        gc.collect()
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def peak_rss_rise(fn: Callable[[], Any]) -> int | None:
    """Peak-RSS rise of one call of ``fn`` (after one warm-up call), in a forked child."""
    from tests.bench.memory import rss_peak_of

    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: every block of 4 KiB and more from mmap, freed blocks back to the OS
        os.close(rd)
        try:
            import ctypes
            import ctypes.util

            libc = ctypes.CDLL(ctypes.util.find_library("c"))
            libc.mallopt(-3, 4096)  # M_MMAP_THRESHOLD
            libc.mallopt(-1, 0)  # M_TRIM_THRESHOLD
            fn()
            libc.malloc_trim(0)  # the free memory inherited from the parent's calls back to the OS: reuse shows
            value = rss_peak_of(fn)
        except BaseException:
            value = -1
        os.write(wr, str(value).encode())
        os._exit(0)
    os.close(wr)
    data = os.read(rd, 64)
    os.close(rd)
    os.waitpid(pid, 0)
    value = int(data or b"-1")
    return None if value < 0 else value


def slope(xs: list[float], ys: list[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((a - mx) * (b - my) for a, b in zip(xs, ys, strict=True)) / sum((a - mx) ** 2 for a in xs)


def run(batches: tuple[int, ...], repeats: int, samples: tuple[int, ...], seeds: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    dtype = torch.float32
    model64 = make_mlp(D, torch.float64)
    out: dict[str, Any] = {"exact": {}, "stochastic": {}}
    try:
        import jet  # noqa: F401
        have_jet = True
    except ImportError:
        have_jet = False
    gen = torch.Generator().manual_seed(7)
    xcheck = torch.rand(4, D, generator=gen, dtype=torch.float64)
    ref = nested(model64, xcheck, False).detach()
    for name in EXACT:
        if name.startswith("jet_") and not have_jet:
            out["exact"][name] = {"n/a": "jet-for-pytorch is not installed (it needs Python >= 3.12, torch >= 2.10)"}
            continue
        entry: dict[str, Any] = {}
        got = exact_callable(name, make_mlp(D, torch.float64), xcheck, True)().detach()
        entry["rel_error_float64"] = float((got.reshape(ref.shape) - ref).abs().max() / ref.abs().max())
        for diff in (True, False):
            model = make_mlp(D, dtype)
            for p in model.parameters():
                p.requires_grad_(diff)
            times, mems = [], []
            for b in batches:
                x = torch.rand(b, D, generator=torch.Generator().manual_seed(b), dtype=dtype)
                call = exact_callable(name, model, x, diff)
                call()  # warm-up
                times.append(cpu_time(call, repeats))
                mems.append(peak_rss_rise(call))
            key = "differentiable" if diff else "not differentiable"
            entry[key] = {"batches": list(batches), "seconds": times, "peak_bytes": mems,
                          "ms_per_datum": 1e3 * slope(list(batches), times),
                          "mib_per_datum": (slope(list(batches), [m / 2**20 for m in mems])
                                            if all(m is not None for m in mems) else None)}
            print(f"{name:16s} {key:18s} {entry[key]['ms_per_datum']:8.2f} ms/datum  "
                  f"{entry[key]['mib_per_datum'] or float('nan'):7.2f} MiB/datum", flush=True)
        out["exact"][name] = entry
    out["stochastic"] = stochastic(samples, seeds, repeats, have_jet)
    return out


def stochastic(samples: tuple[int, ...], seeds: int, repeats: int, have_jet: bool, b: int = 8) -> dict[str, Any]:
    """Relative RMS error (over ``seeds`` draws and ``b`` points) of the Hutchinson estimators against the exact
    Laplacian, and their time per call at each sample count S (float32, not differentiable)."""
    import torch

    model = make_mlp(D, torch.float32)
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.rand(b, D, generator=torch.Generator().manual_seed(11), dtype=torch.float32)
    exact = ours_collapsed(make_mlp(D, torch.float64), x.double(), False).detach()
    scale = float(exact.pow(2).mean().sqrt())
    methods: dict[str, Callable] = {
        "hutch_nested": lambda v: hutch_nested(model, x, v),
        "hutch_ours_collapsed": lambda v: _no_grad(lambda x_: hutch_ours_collapsed(model, x_, v), x, torch),
    }
    out: dict[str, Any] = {"batch": b, "seeds": seeds, "exact_rms": scale, "rows": []}
    for kind in ("rademacher", "normal"):
        for name, fn in methods.items():
            for s in samples:
                gen = torch.Generator().manual_seed(1000 + s)
                errs = []
                for _ in range(seeds):
                    est = fn(directions(kind, s, b, D, gen, torch.float32)).detach().double()
                    errs.append(float((est - exact).pow(2).mean()))
                v = directions(kind, s, b, D, gen, torch.float32)
                secs = cpu_time(lambda fn=fn, v=v: fn(v), repeats)
                out["rows"].append({"method": name, "distribution": kind, "samples": s,
                                    "rel_rms_error": math.sqrt(sum(errs) / len(errs)) / scale, "seconds": secs})
        if have_jet:
            for s in samples:
                lap = _jet(True, (kind, s))(model, x)
                torch.manual_seed(2000 + s)
                with torch.no_grad():
                    errs = [float((lap(x).reshape(exact.shape).double() - exact).pow(2).mean()) for _ in range(seeds)]
                    secs = cpu_time(lambda lap=lap: lap(x), repeats)
                out["rows"].append({"method": "hutch_jet", "distribution": kind, "samples": s,
                                    "rel_rms_error": math.sqrt(sum(errs) / len(errs)) / scale, "seconds": secs})
    for row in out["rows"]:
        print(f"{row['method']:22s} {row['distribution']:10s} S={row['samples']:3d} rel RMS error "
              f"{row['rel_rms_error']:.3f}  {row['seconds'] * 1e3:8.2f} ms", flush=True)
    return out


def merge_into(bench_json, doc: dict[str, Any]) -> None:
    """Put the experiment into a benchmark JSON, where ``python -m spec bench-report`` reads it."""
    from pathlib import Path

    bench = json.loads(Path(bench_json).read_text())
    bench.setdefault("autograd_spec", {})["laplacian_d50"] = doc
    Path(bench_json).write_text(json.dumps(bench, indent=4) + "\n")


def main(argv: list[str] | None = None) -> int:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    p = argparse.ArgumentParser(prog="python -m tests.bench.laplacian_d50", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--into", help="also merge the result into this benchmark JSON (autograd_spec.laplacian_d50)")
    p.add_argument("--batches", default=",".join(map(str, BATCHES)))
    p.add_argument("--samples", default=",".join(map(str, SAMPLES)))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seeds", type=int, default=SEEDS)
    args = p.parse_args(argv)
    import torch

    started = time.time()
    result = run(tuple(int(b) for b in args.batches.split(",")), args.repeats,
                 tuple(int(s) for s in args.samples.split(",")), args.seeds)
    try:
        from importlib.metadata import version

        jet_version = version("jet-for-pytorch")
    except Exception:
        jet_version = None
    from tests.bench.instructions import cpu_name

    doc = {"schema": 1, "experiment": "Laplacian of a tanh MLP D -> 768 -> 768 -> 512 -> 512 -> 1 at D = 50 "
           "(Dangel et al., NeurIPS 2025, arXiv:2505.13644)", "D": D, "widths": list(WIDTHS), "dtype": "float32",
           "torch": torch.__version__, "jet": jet_version, "python": platform.python_version(), "cpu": cpu_name(),
           "threads": torch.get_num_threads(), "clock": "process CPU time, minimum of repeats",
           "repeats": args.repeats, "memory": "peak RSS rise of one call in a forked child (mmap for blocks >= 4 KiB)", "paper": PAPER,
           "wall_s": round(time.time() - started, 1), "datetime": time.strftime("%Y-%m-%dT%H:%M:%S"), **result}
    from pathlib import Path

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    if args.into:
        merge_into(Path(args.into), doc)
    print(f"wrote {args.out} in {doc['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
