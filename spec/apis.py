"""The autograd vocabulary: canonical API names, and one recogniser that finds them in Python source.

:data:`VOCABULARY` is the one table of the autograd APIs the claims are about: each :class:`Api` has a canonical
name (``torch.autograd.grad``, ``Tensor.backward``, ``torch.compile``, ``complex``), a role in matching (see
:mod:`spec.scan`) and the spellings that recognise it:

- ``paths``: qualified names, found through every import alias (``import torch as th``, ``from torch import
  autograd``, ``from torch.autograd import grad as G``, ``from torch.func import *``), through simple assignments
  (``fwAD = torch.autograd.forward_ad``) and through subclasses (``class Cube(torch.autograd.Function)`` makes
  ``Cube.apply`` a use of ``torch.autograd.Function``).  A name under a path counts too
  (``torch.autograd.forward_ad.make_dual`` is also a use of ``torch.autograd.forward_ad``);
- ``attrs``: attribute names read on any other object (``loss.backward``, ``p.register_hook``, ``x.grad``), since
  the types of the user's objects are not known without running the code;
- ``writes``: attributes assigned or changed in place (``p.grad = g``, ``p.data.add_(1)``); clearing ``.grad``
  (``p.grad = None``, ``del p.grad``, ``p.grad.zero_()``) is ``Tensor.grad=None``, what ``zero_grad()`` does;
- ``keywords``: a call's keywords (or positional arguments, by ``positional``), recorded as ``NAME:keyword``
  (``torch.autograd.grad:create_graph``) unless the value is a literal ``None`` or the keyword's default
  (``"create_graph=False"``: ``create_graph=False`` is no use of create_graph, ``set_to_none=False`` is one);
- ``implies``: what a use also counts as (``zero_grad`` writes ``.grad``).

Two spellings are patterns rather than names: complex literals (``1 + 2j``) are ``complex``, and an in-place tensor
method (``x.add_(1)``, any method named ``*_`` that is not a module function) is ``in-place``.

:func:`recognise` reads a syntax tree and never imports or runs the code it reads.  The same recogniser reads the
user's files (``autograd-spec scan``) and each claim's test code (the registry, :mod:`spec.claims`), so the map from
claims to APIs is derived from the claims themselves; a test declares its APIs by hand only where the derivation
misses or overshoots (``@claim(..., apis=("torch.autograd.grad:create_graph",))``).
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterable, Iterator

#: Roles in matching (:mod:`spec.scan` explains the rule).
UBIQUITOUS = "ubiquitous"  # every autograd user has it, or a test only observes through it: never decides a match
ENTRY = "entry"  # the plain ways to differentiate: backward() and torch.autograd.grad
TRANSFORM = "transform"  # the specific ways: torch.func transforms and torch.autograd.functional
OPERATOR = "operator"  # an operator whose derivative claims single out (kinks, no double backward): alternatives
CONDITION = "condition"  # everything else: a test that uses it needs code that uses it
ROLES = (UBIQUITOUS, ENTRY, TRANSFORM, OPERATOR, CONDITION)


@dataclasses.dataclass(frozen=True)
class Api:
    name: str
    role: str
    group: str
    what: str
    paths: tuple[str, ...] = ()
    attrs: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    positional: tuple[str, ...] = ()
    implies: tuple[str, ...] = ()

    @property
    def defaults(self) -> dict[str, object]:
        """Each recorded keyword and its default (``...`` when none is given): ``"create_graph=False"``."""
        out: dict[str, object] = {}
        for k in self.keywords:
            name, eq, default = k.partition("=")
            out[name] = ast.literal_eval(default) if eq else ...
        return out


def _fn(name: str, role: str, group: str, what: str, *, also: tuple[str, ...] = (), **kw) -> Api:
    return Api(name, role, group, what, paths=(name, *also), **kw)


_AUTOGRAD_FUNCTIONAL = {
    "jacobian": ("func", "inputs", "create_graph", "strict", "vectorize"),
    "hessian": ("func", "inputs", "create_graph", "strict", "vectorize"),
    "jvp": ("func", "inputs", "v", "create_graph", "strict"),
    "vjp": ("func", "inputs", "v", "create_graph", "strict"),
    "hvp": ("func", "inputs", "v", "create_graph", "strict"),
    "vhp": ("func", "inputs", "v", "create_graph", "strict"),
}
_FUNC_TRANSFORMS = ("grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize")
_CTX = {
    "save_for_backward": "ctx.save_for_backward(...) in a custom Function's forward",
    "mark_dirty": "ctx.mark_dirty(...): a custom Function that modifies its input in place",
    "mark_non_differentiable": "ctx.mark_non_differentiable(...): outputs without a gradient",
    "set_materialize_grads": "ctx.set_materialize_grads(False): None gradients reach backward",
}
_MODULE_HOOKS = ("register_full_backward_hook", "register_full_backward_pre_hook", "register_backward_hook",
                 "register_forward_hook", "register_forward_pre_hook")

_GRADCHECK_KEYWORDS = ("fast_mode=False", "raise_exception=True", "check_forward_ad=False", "check_batched_grad=False",
                       "nondet_tol=0.0", "atol", "rtol", "eps")
_OPTIMIZERS = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop", "Adadelta",
               "LBFGS", "Optimizer")
_GLOBAL_MODULE_HOOKS = ("register_module_full_backward_hook", "register_module_full_backward_pre_hook",
                        "register_module_forward_hook", "register_module_forward_pre_hook")

#: The vocabulary: every API the scan recognises, in the order it is listed.
VOCABULARY: tuple[Api, ...] = (
    # ---- differentiation
    Api("Tensor.backward", ENTRY, "Differentiation", "loss.backward(): gradients into the leaves' .grad",
        paths=("torch.Tensor.backward",), attrs=("backward",),
        keywords=("gradient", "retain_graph=False", "create_graph=False", "inputs"),
        positional=("gradient", "retain_graph", "create_graph", "inputs")),
    _fn("torch.autograd.backward", ENTRY, "Differentiation", "torch.autograd.backward(tensors, ...)",
        keywords=("grad_tensors", "retain_graph=False", "create_graph=False", "inputs"),
        positional=("tensors", "grad_tensors", "retain_graph", "create_graph", "grad_variables", "inputs")),
    _fn("torch.autograd.grad", ENTRY, "Differentiation", "torch.autograd.grad(outputs, inputs, ...)",
        keywords=("grad_outputs", "retain_graph=False", "create_graph=False", "allow_unused=False", "is_grads_batched=False",
                  "materialize_grads=False"),
        positional=("outputs", "inputs", "grad_outputs", "retain_graph", "create_graph", "only_inputs",
                    "allow_unused", "is_grads_batched", "materialize_grads")),
    *(_fn(f"torch.autograd.functional.{f}", TRANSFORM, "torch.autograd.functional",
          f"torch.autograd.functional.{f}(...)", positional=pos,
          keywords=("create_graph=False", "strict=False", *(("vectorize=False",) if "vectorize" in pos else ())))
      for f, pos in _AUTOGRAD_FUNCTIONAL.items()),
    *(_fn(f"torch.func.{f}", TRANSFORM, "torch.func", f"torch.func.{f}(...) (or functorch.{f})",
          also=(f"functorch.{f}",)) for f in _FUNC_TRANSFORMS),
    _fn("torch.func.vmap", CONDITION, "torch.func", "torch.func.vmap (torch.vmap, functorch.vmap)",
        also=("torch.vmap", "functorch.vmap")),
    _fn("torch.func.functional_call", CONDITION, "torch.func", "torch.func.functional_call(module, params, args)",
        also=("torch.nn.utils.stateless.functional_call",)),
    # ---- forward mode
    _fn("torch.autograd.forward_ad", CONDITION, "Forward-mode AD", "forward-mode AD (torch.autograd.forward_ad)"),
    *(_fn(f"torch.autograd.forward_ad.{f}", CONDITION, "Forward-mode AD", f"forward_ad.{f}")
      for f in ("dual_level", "make_dual", "unpack_dual")),
    # ---- hooks
    Api("Tensor.register_hook", CONDITION, "Hooks", "x.register_hook(fn) on a tensor (or a grad_fn node)",
        paths=("torch.Tensor.register_hook",), attrs=("register_hook",)),
    Api("Tensor.register_post_accumulate_grad_hook", CONDITION, "Hooks", "p.register_post_accumulate_grad_hook(fn)",
        attrs=("register_post_accumulate_grad_hook",)),
    Api("Node.register_prehook", CONDITION, "Hooks", "y.grad_fn.register_prehook(fn)", attrs=("register_prehook",)),
    *(Api(f"Module.{h}", CONDITION, "Hooks", f"module.{h}(fn)", attrs=(h,)) for h in _MODULE_HOOKS),
    *(_fn(f"torch.nn.modules.module.{h}", CONDITION, "Hooks", f"a global module hook: {h}(fn)")
      for h in _GLOBAL_MODULE_HOOKS),
    _fn("torch.autograd.graph.register_multi_grad_hook", CONDITION, "Hooks", "register_multi_grad_hook(tensors, fn)"),
    _fn("torch.autograd.graph.saved_tensors_hooks", CONDITION, "Hooks", "with saved_tensors_hooks(pack, unpack):"),
    _fn("torch.autograd.graph.save_on_cpu", CONDITION, "Hooks", "with save_on_cpu():"),
    _fn("torch.autograd.graph.disable_saved_tensors_hooks", CONDITION, "Hooks",
        "with disable_saved_tensors_hooks(message):"),
    Api("SavedTensor.register_hooks", CONDITION, "Hooks", "y.grad_fn._raw_saved_self.register_hooks(pack, unpack)",
        attrs=("register_hooks",)),
    Api("Node.metadata", CONDITION, "Hooks", "y.grad_fn.name(), .next_functions, .metadata",
        attrs=("next_functions", "metadata")),
    _fn("torch.autograd.graph.get_gradient_edge", CONDITION, "Hooks",
        "get_gradient_edge(t) / GradientEdge: an input or output of autograd.grad and backward",
        also=("torch.autograd.graph.GradientEdge",)),
    # ---- execution
    _fn("torch.compile", CONDITION, "torch.compile", "torch.compile(model or fn, ...)",
        also=("torch._dynamo.optimize", "spec.modes.compiled"),
        keywords=("fullgraph=False", "backend='inductor'", "mode", "dynamic", "options")),
    _fn("torch._dynamo.config.compiled_autograd", CONDITION, "torch.compile",
        "compiled autograd (torch._dynamo.config.compiled_autograd = True)",
        also=("torch._dynamo.compiled_autograd.enable",)),
    _fn("torch._functorch.config.donated_buffer", CONDITION, "torch.compile",
        "AOTAutograd's donated buffers (torch._functorch.config.donated_buffer)"),
    _fn("torch.export.export", CONDITION, "torch.export", "torch.export.export(module, args) and its .module()",
        also=("torch.export.export_for_training",)),
    _fn("torch.cond", CONDITION, "Control flow operators", "torch.cond(pred, true_fn, false_fn, operands)",
        also=("torch._higher_order_ops.cond.cond", "functorch.experimental.control_flow.cond")),
    _fn("torch._higher_order_ops.scan.scan", CONDITION, "Control flow operators", "scan(combine_fn, init, xs)",
        also=("torch._higher_order_ops.scan",)),
    _fn("torch._higher_order_ops.while_loop.while_loop", CONDITION, "Control flow operators",
        "while_loop(cond_fn, body_fn, carried_inputs)", also=("torch._higher_order_ops.while_loop",)),
    _fn("torch.utils.checkpoint.checkpoint", CONDITION, "Checkpointing", "activation checkpointing",
        keywords=("use_reentrant", "preserve_rng_state=True", "determinism_check='default'", "debug=False",
                  "early_stop=True")),
    _fn("torch.utils.checkpoint.set_checkpoint_early_stop", CONDITION, "Checkpointing",
        "set_checkpoint_early_stop(False): non-reentrant checkpoint recomputes in full"),
    _fn("torch.utils.checkpoint.checkpoint_sequential", CONDITION, "Checkpointing", "checkpoint_sequential(...)",
        keywords=("use_reentrant",)),
    _fn("torch.autocast", CONDITION, "Mixed precision", "autocast (torch.autocast, torch.amp / torch.cuda.amp)",
        also=("torch.amp.autocast", "torch.cuda.amp.autocast", "torch.cpu.amp.autocast")),
    _fn("torch.amp.GradScaler", CONDITION, "Mixed precision", "GradScaler (torch.amp, torch.cuda.amp)",
        also=("torch.cuda.amp.GradScaler", "torch.cpu.amp.GradScaler")),
    _fn("torch.amp.custom_fwd", CONDITION, "Mixed precision", "@custom_fwd / @custom_bwd on a custom Function (torch.amp, "
        "torch.cuda.amp)", also=("torch.amp.custom_bwd", "torch.cuda.amp.custom_fwd", "torch.cuda.amp.custom_bwd"),
        keywords=("cast_inputs", "device_type"), implies=("torch.autograd.Function",)),
    _fn("torch.nn.parallel.DistributedDataParallel", CONDITION, "Distributed", "DistributedDataParallel (DDP)",
        also=("torch.nn.parallel.distributed.DistributedDataParallel",)),
    Api("DistributedDataParallel.no_sync", CONDITION, "Distributed", "with ddp_model.no_sync(): gradient accumulation",
        attrs=("no_sync",), implies=("torch.nn.parallel.DistributedDataParallel",)),
    Api("DistributedDataParallel.register_comm_hook", CONDITION, "Distributed",
        "ddp_model.register_comm_hook(state, hook): a custom gradient all-reduce", attrs=("register_comm_hook",),
        implies=("torch.nn.parallel.DistributedDataParallel",)),
    _fn("torch.distributed.fsdp.FullyShardedDataParallel", CONDITION, "Distributed", "FullyShardedDataParallel"),
    # ---- custom Function
    _fn("torch.autograd.Function", CONDITION, "Custom autograd.Function",
        "a torch.autograd.Function subclass (its definition and its .apply calls)",
        also=("torch.autograd.function.Function",)),
    _fn("torch.autograd.function.once_differentiable", CONDITION, "Custom autograd.Function",
        "@once_differentiable on a custom Function's backward", implies=("torch.autograd.Function",)),
    *(Api(f"ctx.{m}", CONDITION, "Custom autograd.Function", what, attrs=(m,), implies=("torch.autograd.Function",))
      for m, what in _CTX.items()),
    # ---- .grad and leaves
    Api("Tensor.grad", UBIQUITOUS, ".grad handling", "reading x.grad", attrs=("grad",)),
    Api("Tensor.grad=", CONDITION, ".grad handling", "writing x.grad: assigning a tensor, or changing it in place",
        writes=("grad",)),
    Api("Tensor.grad=None", CONDITION, ".grad handling", "clearing x.grad: x.grad = None, del x.grad, x.grad.zero_()"),
    Api("zero_grad", CONDITION, ".grad handling", "optimizer.zero_grad() / module.zero_grad()", attrs=("zero_grad",),
        keywords=("set_to_none=True",), positional=("set_to_none",), implies=("Tensor.grad=None",)),
    Api("Tensor.retain_grad", CONDITION, ".grad handling", "y.retain_grad() on a non-leaf", attrs=("retain_grad",)),
    Api("Tensor.detach", UBIQUITOUS, ".grad handling", "x.detach() / x.detach_()", paths=("torch.detach",),
        attrs=("detach", "detach_")),
    Api("Tensor.data", CONDITION, ".grad handling", "x.data (reading or writing)", attrs=("data",), writes=("data",)),
    Api("Tensor.numpy", CONDITION, ".grad handling", "x.numpy(): a NumPy view of a tensor's storage",
        paths=("torch.Tensor.numpy",), attrs=("numpy",)),
    Api("requires_grad", UBIQUITOUS, ".grad handling", "requires_grad=True, x.requires_grad_(), x.requires_grad = ...",
        attrs=("requires_grad_",), writes=("requires_grad",)),
    Api("Tensor.grad_fn", UBIQUITOUS, ".grad handling", "reading y.grad_fn", attrs=("grad_fn",)),
    Api("Tensor.is_leaf", UBIQUITOUS, ".grad handling", "reading x.is_leaf", attrs=("is_leaf",)),
    _fn("torch.nn.Parameter", UBIQUITOUS, ".grad handling", "torch.nn.Parameter(...)"),
    # ---- grad modes
    _fn("torch.no_grad", CONDITION, "Grad modes", "torch.no_grad()",
        also=("torch.autograd.no_grad", "torch.autograd.grad_mode.no_grad")),
    _fn("torch.enable_grad", CONDITION, "Grad modes", "torch.enable_grad()",
        also=("torch.autograd.enable_grad", "torch.autograd.grad_mode.enable_grad")),
    _fn("torch.inference_mode", CONDITION, "Grad modes", "torch.inference_mode()",
        also=("torch.autograd.inference_mode", "torch.autograd.grad_mode.inference_mode")),
    _fn("torch.set_grad_enabled", CONDITION, "Grad modes", "torch.set_grad_enabled(flag)",
        also=("torch.autograd.set_grad_enabled", "torch.autograd.grad_mode.set_grad_enabled")),
    _fn("torch.is_grad_enabled", UBIQUITOUS, "Grad modes", "torch.is_grad_enabled()"),
    _fn("torch.is_inference_mode_enabled", UBIQUITOUS, "Grad modes", "torch.is_inference_mode_enabled()"),
    # ---- operators whose derivatives the claims single out
    _fn("torch.sqrt", OPERATOR, "Operators", "sqrt (infinite derivative at 0)", attrs=("sqrt",)),
    _fn("torch.abs", OPERATOR, "Operators", "abs (a kink at 0)", also=("torch.absolute",), attrs=("abs", "absolute")),
    _fn("torch.log", OPERATOR, "Operators", "log (undefined below 0)"),
    _fn("torch.relu", OPERATOR, "Operators", "relu (torch.relu, F.relu, nn.ReLU)",
        also=("torch.nn.functional.relu", "torch.nn.ReLU"), attrs=("relu",)),
    _fn("torch.nn.functional.leaky_relu", OPERATOR, "Operators", "leaky_relu (F.leaky_relu, nn.LeakyReLU)",
        also=("torch.nn.LeakyReLU",)),
    _fn("torch.nn.functional.hardswish", OPERATOR, "Operators", "hardswish (F.hardswish, nn.Hardswish)",
        also=("torch.nn.Hardswish",)),
    _fn("torch.clamp", OPERATOR, "Operators", "clamp, clamp_min, clamp_max, clip",
        also=("torch.clamp_min", "torch.clamp_max", "torch.clip"), attrs=("clamp", "clamp_min", "clamp_max", "clip")),
    _fn("torch.where", OPERATOR, "Operators", "torch.where(cond, a, b)"),
    _fn("torch.maximum", OPERATOR, "Operators", "maximum, minimum, fmax, fmin (ties)",
        also=("torch.minimum", "torch.fmax", "torch.fmin")),
    _fn("torch.linalg.norm", OPERATOR, "Operators", "norms (torch.linalg.vector_norm, matrix_norm, torch.norm)",
        also=("torch.linalg.vector_norm", "torch.linalg.matrix_norm", "torch.norm"), attrs=("norm",)),
    _fn("torch.atan2", OPERATOR, "Operators", "atan2 (undefined at the origin)", also=("torch.arctan2",),
        attrs=("atan2",)),
    _fn("torch.cdist", OPERATOR, "Operators", "torch.cdist (no double backward in old releases)"),
    _fn("torch.nn.functional.scaled_dot_product_attention", OPERATOR, "Operators",
        "scaled_dot_product_attention (no double backward on the CPU)"),
    # ---- in place, complex, debugging
    Api("in-place", CONDITION, "In-place updates", "an in-place tensor method: x.add_(...), x.mul_(...), x.copy_(...)"),
    _fn("torch.autograd.graph.allow_mutation_on_saved_tensors", CONDITION, "In-place updates",
        "with allow_mutation_on_saved_tensors():"),
    _fn("torch.autograd.graph.increment_version", CONDITION, "In-place updates",
        "increment_version(t): tell autograd that a kernel wrote into t"),
    Api("complex", CONDITION, "Complex numbers", "complex tensors: complex64/complex128 dtypes, complex literals (1j)",
        paths=("torch.complex64", "torch.complex128", "torch.complex32", "torch.cfloat", "torch.cdouble",
               "torch.chalf", "torch.complex", "torch.polar", "torch.view_as_complex")),
    _fn("torch.view_as_real", CONDITION, "Complex numbers", "torch.view_as_real(z)", implies=("complex",)),
    _fn("torch.autograd.detect_anomaly", CONDITION, "Debugging", "anomaly detection (detect_anomaly, set_detect_anomaly)",
        also=("torch.autograd.set_detect_anomaly", "torch.autograd.anomaly_mode.detect_anomaly",
              "torch.autograd.anomaly_mode.set_detect_anomaly")),
    _fn("torch.use_deterministic_algorithms", CONDITION, "Debugging",
        "torch.use_deterministic_algorithms(True[, warn_only=True]): nondeterministic kernels raise or warn",
        keywords=("warn_only=False",)),
    _fn("torch.autograd.gradcheck", CONDITION, "Debugging", "torch.autograd.gradcheck(fn, inputs)",
        also=("torch.autograd.gradcheck.gradcheck",), keywords=_GRADCHECK_KEYWORDS),
    _fn("torch.autograd.gradgradcheck", CONDITION, "Debugging", "torch.autograd.gradgradcheck(fn, inputs)",
        also=("torch.autograd.gradcheck.gradgradcheck",), keywords=_GRADCHECK_KEYWORDS),
    # ---- optimizers and gradient utilities
    _fn("torch.optim", CONDITION, "Optimizers", "a torch.optim optimizer (SGD, Adam, AdamW, ...) and its step()",
        also=tuple(f"torch.optim.{o}" for o in _OPTIMIZERS),
        keywords=("foreach", "maximize=False", "differentiable=False", "weight_decay", "momentum")),
    _fn("torch.nn.utils.clip_grad_norm_", CONDITION, "Optimizers", "clip_grad_norm_(parameters, max_norm)",
        also=("torch.nn.utils.clip_grad.clip_grad_norm_",), keywords=("foreach", "error_if_nonfinite=False")),
    _fn("torch.nn.utils.clip_grad_value_", CONDITION, "Optimizers", "clip_grad_value_(parameters, clip_value)",
        also=("torch.nn.utils.clip_grad.clip_grad_value_",), keywords=("foreach",)),
    _fn("torch.nn.utils.get_total_norm", CONDITION, "Optimizers", "get_total_norm(tensors) (torch 2.6+)"),
    _fn("torch.nn.utils.clip_grads_with_norm_", CONDITION, "Optimizers",
        "clip_grads_with_norm_(parameters, max_norm, total_norm) (torch 2.6+)"),
)

BY_NAME: dict[str, Api] = {a.name: a for a in VOCABULARY}
#: Classes whose methods are looked up by attribute name when spelled through the class (``torch.Tensor.backward``).
METHOD_OWNERS = ("torch.Tensor", "torch.nn.Module", "torch.optim.Optimizer")
#: Trailing-underscore methods that are not in-place updates of a tensor's values.
NOT_IN_PLACE = frozenset({"requires_grad_", "detach_", "share_memory_"})


def _index():
    paths: dict[str, str] = {}
    attrs: dict[str, str] = {}
    writes: dict[str, str] = {}
    for api in VOCABULARY:
        for p in api.paths:
            paths.setdefault(p, api.name)
        for a in api.attrs:
            attrs.setdefault(a, api.name)
        for w in api.writes:
            writes.setdefault(w, api.name)
    return paths, attrs, writes


PATHS, ATTRS, WRITES = _index()


def base(name: str) -> str:
    """``torch.autograd.grad:create_graph`` -> ``torch.autograd.grad``."""
    return name.split(":", 1)[0]


def known(name: str) -> bool:
    """Whether ``name`` is a canonical API name or ``NAME:keyword`` of one of its recorded keywords."""
    api, _, kw = name.partition(":")
    return api in BY_NAME and (not kw or kw in BY_NAME[api].defaults)


def role(name: str) -> str:
    """A keyword use is a condition whatever its API's role: a test that passes create_graph=True needs code that does."""
    return CONDITION if ":" in name else BY_NAME[name].role


def describe(name: str) -> str:
    api, _, kw = name.partition(":")
    return f"{api}({kw}=...)" if kw else api


def closure(names: Iterable[str]) -> set[str]:
    """``names`` with what they imply (a keyword implies its API)."""
    out: set[str] = set()
    todo = list(names)
    while todo:
        n = todo.pop()
        if n in out:
            continue
        out.add(n)
        if ":" in n:
            todo.append(base(n))
        elif n in BY_NAME:
            todo.extend(BY_NAME[n].implies)
    return out


def all_names() -> list[str]:
    """Every name the vocabulary can record, keywords included (what ``apis=`` accepts)."""
    return [n for a in VOCABULARY for n in (a.name, *(f"{a.name}:{k}" for k in a.defaults))]


# --------------------------------------------------------------------------- the recogniser


@dataclasses.dataclass(frozen=True, order=True)
class Use:
    """One use of an API at a line of the code read."""

    line: int
    api: str


def _dotted(node: ast.expr) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def aliases_of(tree: ast.AST) -> tuple[dict[str, str], list[str]]:
    """Names bound to qualified paths anywhere in ``tree``, and the modules star-imported.

    Imports bind (``import torch as th``, ``from torch.autograd import grad as G``); a name assigned a bound path
    (``fwAD = torch.autograd.forward_ad``) or a class with one bound base (``class Cube(torch.autograd.Function)``) is
    bound to that path.  Flow-insensitive: a name bound anywhere is bound everywhere.
    """
    aliases: dict[str, str] = {}
    stars: list[str] = []
    later: list[tuple[str, ast.expr]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    aliases[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    aliases[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                if a.name == "*":
                    stars.append(node.module)
                else:
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            later.append((node.targets[0].id, node.value))
        elif isinstance(node, ast.ClassDef) and len(node.bases) == 1:
            later.append((node.name, node.bases[0]))
    for _ in range(3):  # a binding may name a later one (class B(A) above class A)
        for name, value in later:
            parts = _dotted(value)
            if parts and parts[0] in aliases and parts[0] != name:
                aliases[name] = ".".join([aliases[parts[0]], *parts[1:]])
    return aliases, stars


def _lookup_path(path: str) -> list[str]:
    """The APIs a qualified path is a use of: its own first, then those of the paths above it."""
    parts = path.split(".")
    found = [PATHS[p] for p in (".".join(parts[:i]) for i in range(len(parts), 0, -1)) if p in PATHS]
    owner, _, attr = path.rpartition(".")
    if owner in METHOD_OWNERS and attr in ATTRS:
        found.insert(0, ATTRS[attr])
    return list(dict.fromkeys(found))


def _off(node: ast.expr, default: object) -> bool:
    """A literal ``None``, or a literal equal to the keyword's default: not a use of the keyword."""
    if not isinstance(node, ast.Constant):
        return False
    return node.value is None or (default is not ... and type(node.value) is type(default) and node.value == default)


def _keywords(api: str, call: ast.Call, through_class: bool = False) -> Iterator[str]:
    spec = BY_NAME[api]
    defaults = spec.defaults
    for i, arg in enumerate(call.args[1:] if through_class else call.args):
        if isinstance(arg, ast.Starred) or i >= len(spec.positional):
            break
        name = spec.positional[i]
        if name in defaults and not _off(arg, defaults[name]):
            yield f"{api}:{name}"
    for kw in call.keywords:
        if kw.arg in defaults and not _off(kw.value, defaults[kw.arg]):
            yield f"{api}:{kw.arg}"


def recognise(node: ast.AST, aliases: tuple[dict[str, str], list[str]] | None = None) -> list[Use]:
    """Every use of a vocabulary API in ``node`` (a module, or one function of it with the module's ``aliases``)."""
    bound, stars = aliases if aliases is not None else aliases_of(node)
    parents: dict[ast.AST, ast.AST] = {}
    for parent in ast.walk(node):
        for child in ast.iter_child_nodes(parent):
            parents[child] = parent
    uses: list[Use] = []

    def resolve(parts: list[str]) -> str | None:
        head = bound.get(parts[0])
        if head is None:
            for module in stars:
                if f"{module}.{parts[0]}" in PATHS:
                    head = f"{module}.{parts[0]}"
                    break
        return ".".join([head, *parts[1:]]) if head else None

    def add(apis: list[str], at: ast.AST, exact: bool = True, through_class: bool = False) -> None:
        """Uses of ``apis`` at ``at``; the keywords of a call count for the first, when ``at`` spells it exactly."""
        parent = parents.get(at)
        uses.extend(Use(at.lineno, api) for api in apis)
        if apis and exact and isinstance(parent, ast.Call) and parent.func is at:
            uses.extend(Use(at.lineno, k) for k in _keywords(apis[0], parent, through_class))

    for n in ast.walk(node):
        if isinstance(n, ast.Constant) and isinstance(n.value, complex):
            uses.append(Use(n.lineno, "complex"))
        elif isinstance(n, ast.keyword) and n.arg == "requires_grad" and not _off(n.value, False):
            uses.append(Use(n.value.lineno, "requires_grad"))
        elif isinstance(n, (ast.Name, ast.Attribute)):
            parent = parents.get(n)
            if isinstance(parent, ast.Attribute) and parent.value is n and (parts := _dotted(n)) and resolve(parts):
                continue  # the inner part of a qualified name: its whole name is looked up once, at the top
            parts = _dotted(n)
            path = resolve(parts) if parts else None
            if path is not None:
                if isinstance(n.ctx, ast.Load):
                    apis = _lookup_path(path)
                    through_class = path.rpartition(".")[0] in METHOD_OWNERS  # torch.Tensor.backward(y): y is self
                    add(apis, n, exact=path in PATHS or through_class, through_class=through_class)
            elif isinstance(n, ast.Attribute):
                _attribute(n, parent, parents, add, uses)
    return sorted(set(uses))


def _attribute(n: ast.Attribute, parent, parents, add, uses: list[Use]) -> None:
    """An attribute of an object whose type is unknown: a method or a property by its name."""
    method = parent.attr if isinstance(parent, ast.Attribute) and parent.value is n else None
    called = method is not None and isinstance(parents.get(parent), ast.Call) and parents[parent].func is parent
    if n.attr == "grad" and (isinstance(n.ctx, ast.Del) or (called and method == "zero_")
                             or (isinstance(parent, ast.Assign) and isinstance(parent.value, ast.Constant)
                                 and parent.value.value is None)):
        uses.append(Use(n.lineno, "Tensor.grad=None"))
        return
    if n.attr in WRITES and (not isinstance(n.ctx, ast.Load) or (called and method.endswith("_"))):
        uses.append(Use(n.lineno, WRITES[n.attr]))
        return
    if isinstance(n.ctx, ast.Load) and n.attr in ATTRS:
        add([ATTRS[n.attr]], n)
    elif (isinstance(n.ctx, ast.Load) and n.attr.endswith("_") and not n.attr.startswith("_")
          and n.attr not in NOT_IN_PLACE and isinstance(parent, ast.Call) and parent.func is n
          and not (isinstance(n.value, ast.Attribute) and n.value.attr == "grad")):  # x.grad.zero_(): see above
        uses.append(Use(n.lineno, "in-place"))


def apis_of_source(text: str) -> list[Use]:
    """The uses in a piece of Python source (parsed, never run)."""
    return recognise(ast.parse(text))
