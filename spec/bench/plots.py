"""The benchmark report's plots (PNG, matplotlib): cost per derivative order, and the Laplacian's cost per
input dimension, one line per eager method (the headline methods bold)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from spec.bench.load import View


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=80)
    return plt, fig, ax


def _bold(v: View) -> set[str]:
    return {m for m, _ in v.headline}


def plot_orders(rows, v: View, path: Path, title: str) -> None:
    plt, fig, ax = _figure()
    series = defaultdict(list)
    for (w, k, m), row in rows.items():
        if w == "derivative":
            series[m].append((k, row["ratio"]))
    for m in v.methods:
        pts = sorted(series.get(m, []))
        if len(pts) < 2:
            continue
        style = {"linewidth": 2.5} if m in _bold(v) else {"linewidth": 1, "alpha": 0.8}
        ax.plot([k for k, _ in pts], [r for _, r in pts], marker="o", label=m, **style)
    for m in v.methods:  # single points (k = 2 only methods)
        pts = series.get(m, [])
        if len(pts) == 1:
            ax.scatter([pts[0][0]], [pts[0][1]], marker="x", label=m)
    ax.set_yscale("log")
    ax.set_xticks(list(v.p("derivative")))
    ax.set_xlabel("derivative order k")
    ax.set_ylabel("time / forward time")
    ax.set_title(f"k-th derivative of u: R->R, {title}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_laplacian(rows, v: View, path: Path, title: str) -> None:
    dims = v.p("laplacian")
    plt, fig, ax = _figure()
    for m in v.methods:
        pts = sorted((d, r["ratio"]) for (w, d, mm), r in rows.items() if w == "laplacian" and mm == m)
        if not pts:
            continue
        style = {"linewidth": 2.5} if m in _bold(v) else {"linewidth": 1, "alpha": 0.8}
        ax.plot([d for d, _ in pts], [r for _, r in pts], marker="o", label=m, **style)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(list(dims), [str(d) for d in dims])
    ax.set_xlabel("input dimension d")
    ax.set_ylabel("time / forward time")
    ax.set_title(f"Laplacian of u: R^d->R, {title}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
