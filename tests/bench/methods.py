"""The method registry of the benchmarks: one ``Method`` object per method.

A method knows its name, its one-line description, its family, how to build a zero-argument
callable for each workload it applies to, and, for every workload or size it does not apply
to, the reason ("n/a: ..."). Compiled variants (issue 12) are methods too: ``<base>_compiled``
wraps the eager method's callable in ``torch.compile(fullgraph=True)`` (backend inductor);
nested autograd needs ``torch._dynamo.config.trace_autograd_ops = True`` (torch >= 2.11, as claim COMP-013 records).
A compiled method's first call (the compile) is timed apart (``compile_seconds``), and the
method is still checked against the float64 reference before it is timed.

``describe()`` is what ``conftest.py`` writes into the benchmark JSON, so that the report
(``spec/bench/``) needs nothing from this package.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from typing import Any

from tests.bench import workloads as w

#: a builder: (model, x, param) -> zero-argument callable returning the derivative
Builder = Callable[[Any, Any, int], Callable[[], Any]]
#: why a method does not apply: a fixed text, or a function of the parameter (None: it applies)
Reason = str | Callable[[int], str | None]


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    description: str
    family: str
    builders: dict[str, Builder]
    na: dict[str, Reason] = dataclasses.field(default_factory=dict)
    #: why the method cannot run in this environment (checked at run time, not at collection), or None
    unavailable: Callable[[], str | None] = lambda: None
    #: the eager method this one compiles, and how
    compiled_from: str | None = None
    compile: dict[str, Any] | None = None
    #: the label in the report's headline (the baselines and the floor), or None
    headline: str | None = None

    def na_reason(self, workload: str, param: int) -> str | None:
        """Why the method does not apply to ``workload`` at ``param`` (static), or None."""
        reason = self.na.get(workload)
        if reason is not None:
            text = reason(param) if callable(reason) else reason
            if text is not None:
                return text
        if workload not in self.builders:
            raise KeyError(f"{self.name}: no builder and no n/a reason for {workload}")
        return None

    def callable(self, workload: str, param: int, model, x) -> Callable[[], Any]:
        return self.builders[workload](model, x, param)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "family": self.family,
            "compiled_from": self.compiled_from,
            "compile": self.compile,
            "headline": self.headline,
        }


def _only_k2(what: str) -> Reason:
    return lambda k: None if k == 2 else f"n/a: {what} is the 2nd derivative only"


def _with_pinn(lap: Builder) -> dict[str, Builder]:
    """The Laplacian builder and the PINN step around it."""
    return {"laplacian": lap, "pinn_step": lambda model, x, d: w.pinn_step_from(lap(model, x, d), model, x)}


# ---- eager methods ---------------------------------------------------------------------------


def _func_lap(name: str) -> Builder:
    def build(model, x, d):
        from torch.func import vmap

        lap1 = w._lap_single_for(name, w._single(model))
        return lambda: vmap(lap1)(x).unsqueeze(-1)

    return build


def _func_bilap(name: str) -> Builder:
    def build(model, x, d):
        from torch.func import vmap

        outer = w._lap_single_for(name, w._lap_single_for(name, w._single(model)))
        return lambda: vmap(outer)(x).unsqueeze(-1)

    return build


def _deriv(fn) -> Builder:
    return lambda model, x, k: (lambda: fn(model, x, k))


def _functional_lap(kind: str) -> Builder:
    def build(model, x, d):
        op = w._lap_functional(kind)
        return lambda: op(model, x)

    return build


def _functional_bilap(kind: str) -> Builder:
    def build(model, x, d):
        op = w._lap_functional(kind)
        return lambda: op(lambda z: op(model, z), x)

    return build


def _jet_lap(model, x, d):
    run = w.lap_jet_builder(model, x)
    return lambda: run(model, x)


def _jet_bilap(model, x, d):
    import jet
    import torch
    from torch.func import vmap

    bl = jet.bilaplacian(model, (torch.zeros(x.shape[1], dtype=x.dtype, device=x.device),))
    return lambda: vmap(bl)(x)


def _func(name: str, description: str, deriv, na_deriv: Reason | None = None) -> Method:
    return Method(
        name, description, "torch.func",
        {"derivative": _deriv(deriv), **_with_pinn(_func_lap(name)), "biharmonic": _func_bilap(name)},
        na={"derivative": na_deriv} if na_deriv else {},
    )


def _functional(name: str, kind: str, description: str) -> Method:
    return Method(
        name, description, "torch.autograd.functional",
        {"derivative": _deriv(getattr(w, f"deriv_{name}")), **_with_pinn(_functional_lap(kind)),
         "biharmonic": _functional_bilap(kind)},
        na={"derivative": _only_k2(kind.removeprefix("functional_"))},
    )


EAGER: tuple[Method, ...] = (
    Method(
        "nested_grad",
        "nested torch.autograd.grad(create_graph=True), one call per order and per input dimension",
        "nested autograd",
        {
            "derivative": _deriv(w.deriv_nested_grad),
            **_with_pinn(lambda model, x, d: (lambda: w.lap_nested_grad(model, x))),
            "biharmonic": lambda model, x, d: (lambda: w.lap_nested_grad(lambda z: w.lap_nested_grad(model, z), x)),
        },
        headline="nested autograd",
    ),
    Method(
        "is_grads_batched",
        "torch.autograd.grad(is_grads_batched=True): all input dimensions in one batched call",
        "nested autograd",
        {
            **_with_pinn(lambda model, x, d: (lambda: w.lap_is_grads_batched(model, x))),
            "biharmonic": lambda model, x, d: (
                lambda: w.lap_is_grads_batched(lambda z: w.lap_is_grads_batched(model, z), x)),
        },
        na={"derivative": "n/a: u has one input, so there is nothing to batch"},
    ),
    _func("func_jacrev", "torch.func: vmap over points of nested jacrev", w.deriv_func_jacrev),
    _func("func_jacfwd", "torch.func: vmap over points of nested jacfwd", w.deriv_func_jacfwd),
    _func("func_hessian", "torch.func: vmap over points of hessian (jacfwd over jacrev)", w.deriv_func_hessian,
          _only_k2("hessian")),
    _func("func_jvp_grad", "torch.func: vmap over points (and directions) of jvp over grad (forward-over-reverse)",
          w.deriv_func_jvp_grad),
    Method(
        "forward_ad",
        "torch.autograd.forward_ad dual numbers over reverse mode (forward-over-reverse), a loop over dimensions",
        "forward_ad",
        {
            "derivative": _deriv(w.deriv_forward_ad),
            **_with_pinn(lambda model, x, d: (lambda: w.lap_forward_ad(model, x))),
            # forward_ad has one dual level, so forward-over-reverse is the outermost Laplacian only
            "biharmonic": lambda model, x, d: (lambda: w.lap_forward_ad(lambda z: w.lap_nested_grad(model, z), x)),
        },
    ),
    Method(
        "functional_hessian",
        "torch.autograd.functional.hessian (dense, vectorize=True)",
        "torch.autograd.functional",
        {"derivative": _deriv(w.deriv_functional_hessian)},
        na={
            "derivative": _only_k2("hessian"),
            "laplacian": lambda d: f"n/a: it forms one dense Hessian over all {w.N_POINTS}*{d} inputs "
            f"(({w.N_POINTS}*{d})^2 entries; about 10 s a call at d = 2 on one core); it cannot batch per point",
            "biharmonic": "n/a: a dense Hessian of the Laplacian over all points; use func_hessian",
            "pinn_step": "n/a: a dense Hessian over all points; see the laplacian workload",
        },
    ),
    _functional("functional_hvp", "functional_hvp",
                "torch.autograd.functional.hvp (double-backward trick), a loop over dimensions"),
    _functional("functional_vhp", "functional_vhp",
                "torch.autograd.functional.vhp (reverse-over-reverse), a loop over dimensions"),
    Method(
        "jet",
        "Taylor mode with jet-for-pytorch (jet.jet; collapsed for the Laplacian, jet.bilaplacian for the biharmonic)",
        "Taylor mode",
        {
            "derivative": lambda model, x, k: (lambda run: lambda: run(model, x, k))(w.deriv_jet_builder(model, x, k)),
            **_with_pinn(_jet_lap),
            "biharmonic": _jet_bilap,
        },
        unavailable=lambda: (lambda why: f"n/a: jet {why}" if why else None)(w.jet_unavailable_reason()),
        headline="Taylor mode (jet)",
    ),
    Method(
        "analytic",
        "closed-form derivative recurrences of the tanh MLP written by hand (Taylor mode without a framework): "
        "the floor",
        "Taylor mode",
        {
            "derivative": _deriv(w.deriv_analytic),
            **_with_pinn(lambda model, x, d: (lambda: w.lap_analytic(model, x))),
            "biharmonic": lambda model, x, d: (lambda: w.bilap_analytic(model, x)),
        },
        headline="hand-written Taylor",
    ),
)


# ---- compiled variants -----------------------------------------------------------------------

#: the sizes with compiled rows (a compile costs seconds to tens of seconds: few cases keep ``tox -e bench`` short)
COMPILED_PARAMS: dict[str, tuple[int, ...]] = {"derivative": (2, 4), "laplacian": (8,), "pinn_step": (w.PINN_DIM,)}
COMPILE_BACKEND = "inductor"
#: torch.func methods compile as they are; nested autograd needs trace_autograd_ops
COMPILED_BASES = ("nested_grad", "func_jacrev", "func_jacfwd", "func_hessian", "func_jvp_grad")
#: the release that has it: the recorded change "COMP-013/torch._dynamo.config.trace_autograd_ops exists" (a meta test checks)
TRACE_AUTOGRAD_OPS_SINCE = "2.11"


def cxx_compiler_missing() -> str | None:
    """Why inductor cannot compile for the CPU here (no C++ compiler), or None."""
    import os

    names = [os.environ["CXX"]] if os.environ.get("CXX") else ["g++", "c++", "clang++"]
    if not any(shutil.which(n) for n in names):
        return (f"n/a: the inductor backend needs a C++ compiler for CPU code and none of {', '.join(names)} is on "
                "PATH (torch raises InvalidCxxCompiler)")
    return None


def trace_autograd_ops_missing() -> str | None:
    import torch
    from packaging.version import Version

    if Version(torch.__version__.split("+")[0]) < Version(TRACE_AUTOGRAD_OPS_SINCE) or not hasattr(
        torch._dynamo.config, "trace_autograd_ops"
    ):
        return (f"n/a: compiling nested torch.autograd.grad(create_graph=True) needs "
                f"torch._dynamo.config.trace_autograd_ops (torch >= {TRACE_AUTOGRAD_OPS_SINCE}; this is torch "
                f"{torch.__version__})")
    return None


def _compile_unavailable(base: Method) -> Callable[[], str | None]:
    def why() -> str | None:
        import torch

        if not hasattr(torch, "compile"):
            return f"n/a: torch.compile does not exist in torch {torch.__version__}"
        return (trace_autograd_ops_missing() if base.name == "nested_grad" else None) or cxx_compiler_missing() \
            or base.unavailable()

    return why


def _compiled_builder(base: Method, workload: str) -> Builder:
    def build(model, x, param):
        import torch

        torch._dynamo.reset()  # a fresh cache per case: the same lambdas recompile for every case
        if base.name == "nested_grad":
            torch._dynamo.config.trace_autograd_ops = True
            # nested autograd: x requires grad before the compiled region (requires_grad_ inside it breaks the graph)
            x = x.detach().requires_grad_(True)
        if workload == "pinn_step":
            # the loss is compiled; its gradient to the weights runs through the compiled backward
            loss = w.loss_from(base.callable("laplacian", param, model, x), x)
            return w.step_from(torch.compile(loss, fullgraph=True, backend=COMPILE_BACKEND), model)
        return torch.compile(base.callable(workload, param, model, x), fullgraph=True, backend=COMPILE_BACKEND)

    return build


def compiled(base: Method) -> Method:
    cfg: dict[str, Any] = {"backend": COMPILE_BACKEND, "fullgraph": True}
    if base.name == "nested_grad":
        cfg["config"] = {"torch._dynamo.config.trace_autograd_ops": True}
    how = "torch.compile(fullgraph=True, backend='inductor')" + (
        " with torch._dynamo.config.trace_autograd_ops = True" if base.name == "nested_grad" else "")
    na: dict[str, Reason] = {}
    for workload in w.PARAMS:
        sizes = COMPILED_PARAMS.get(workload, ())

        def reason(p, workload=workload, sizes=sizes):
            if not sizes:
                return f"n/a: no compiled rows for {workload} (each compile costs seconds to a minute)"
            if p not in sizes:
                where = f"{w.PARAM_NAME[workload]} = {', '.join(map(str, sizes))}"
                return f"n/a: compiled rows only at {where} of {workload} (each compile costs seconds to a minute)"
            return base.na_reason(workload, p)

        na[workload] = reason
    return Method(
        f"{base.name}_compiled",
        f"{base.name} under {how}; steady state (the first call, the compile, is timed apart)",
        base.family,
        {wl: _compiled_builder(base, wl) for wl in COMPILED_PARAMS},
        na=na,
        unavailable=_compile_unavailable(base),
        compiled_from=base.name,
        compile=cfg,
    )


#: compile failures known upstream, (method, workload) -> the issue; the report shows it beside torch's message
KNOWN_COMPILE_FAILURES: dict[tuple[str, str], str] = {
    ("func_hessian_compiled", "derivative"): "https://github.com/pytorch/pytorch/issues/183015 "
    "(vmap(hessian(f)) = vmap(jacfwd(jacrev(f))) fails under torch.compile)",
    ("func_jvp_grad_compiled", "derivative"): "https://github.com/pytorch/pytorch/issues/183015 "
    "(the same forward-over-reverse nesting: vmap of jvp over grad)",
}

# ---- derivative providers (spec/providers, issue 18): each built-in provider's operators as a method -------------


def _provider_method(name: str) -> Method:
    return Method(
        f"provider_{name}",
        f"the derivative provider {name!r} (spec/providers): its partial(u, x, 0, k) and laplacian(u, x); the "
        "biharmonic as its Laplacian of its Laplacian",
        "providers",
        {
            "derivative": lambda model, x, k: (lambda: w.deriv_provider(name, model, x, k)),
            **_with_pinn(lambda model, x, d: (lambda: w.lap_provider(name, model, x))),
            "biharmonic": lambda model, x, d: (lambda: w.bilap_provider(name, model, x)),
        },
        unavailable=lambda: (lambda why: f"n/a: provider {name} is unavailable: {why}" if why else None)(
            w.provider_unavailable_reason(name)),
    )


PROVIDER_METHODS: tuple[Method, ...] = tuple(
    _provider_method(n) for n in ("autograd", "func", "jet", "deepxde", "pina", "torchphysics"))

_BY_NAME = {m.name: m for m in EAGER}
REGISTRY: dict[str, Method] = {m.name: m for m in (*EAGER, *PROVIDER_METHODS,
                                                   *(compiled(_BY_NAME[b]) for b in COMPILED_BASES))}
METHOD_ORDER = tuple(REGISTRY)


# ---- cases -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    workload: str
    param: int
    method: str

    @property
    def id(self) -> str:
        return f"{self.workload}-{w.PARAM_NAME[self.workload]}{self.param}-{self.method}"

    @property
    def na_reason(self) -> str | None:
        """Why the method does not apply to this workload (static), or None."""
        return REGISTRY[self.method].na_reason(self.workload, self.param)

    @property
    def compiled(self) -> bool:
        return REGISTRY[self.method].compiled_from is not None


def all_cases() -> list[Case]:
    """Every (workload, parameter, method), applicable or not, in report order."""
    return [Case(wl, p, m) for wl in w.WORKLOADS for p in w.PARAMS[wl] for m in METHOD_ORDER]


def parse_case_id(case_id: str) -> Case:
    for case in all_cases():
        if case.id == case_id:
            return case
    raise KeyError(case_id)


@dataclasses.dataclass
class Built:
    forward: Callable[[], Any]  # the plain forward pass at the same points: the unit of every ratio
    method: Callable[[], Any]  # returns the derivative (pinn_step: the flattened weight gradient)


def input_dim(case: Case) -> int:
    return 1 if case.workload == "derivative" else case.param


def build(case: Case, method: str | None = None, dtype=None, device="cpu") -> Built:
    """The forward pass and ``method`` (default: the case's) for ``case``, in ``dtype`` on ``device``."""
    import torch

    dtype = dtype or torch.float32
    d = input_dim(case)
    model = w.make_mlp(d, dtype, device)
    x = w.make_points(d, dtype, device)
    call = REGISTRY[method or case.method].callable(case.workload, case.param, model, x)
    return Built(forward=lambda: model(x), method=call)


REFERENCE_METHOD = "nested_grad"


def reference(case: Case, device="cpu"):
    """The float64 reference value: nested autograd in float64."""
    import torch

    return build(case, method=REFERENCE_METHOD, dtype=torch.float64, device=device).method().detach()


def describe() -> dict[str, Any]:
    """What the report needs, written into the benchmark JSON (``autograd_spec``)."""
    return {
        "workloads": [
            {"name": wl, "description": text, "param_name": w.PARAM_NAME[wl], "params": list(w.PARAMS[wl])}
            for wl, text in w.WORKLOADS.items()
        ],
        "methods": [m.to_json() for m in REGISTRY.values()],
        "cases": [
            {"case": c.id, "workload": c.workload, "param": c.param, "method": c.method, "na": c.na_reason}
            for c in all_cases()
        ],
    }
