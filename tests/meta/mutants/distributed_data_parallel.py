"""Mutants that kill the claims of the section "Distributed data parallel".

They patch torch in every interpreter of a mutated run, the two gloo ranks included (the proof's
``sitecustomize`` reaches them: they inherit the environment of the job :mod:`spec.distributed` starts).
Each acts only where a process group is initialized, so the claims' single-process references are untouched.
"""

import contextlib

from tests.meta.mutation import mutant, wrap_function


def _after_init(torch, then):
    """Wrap DistributedDataParallel.__init__: ``then(ddp_module)`` runs after the original."""

    def make(orig):
        def __init__(self, *args, **kwargs):
            orig(self, *args, **kwargs)
            then(self)

        return __init__

    wrap_function(torch.nn.parallel.DistributedDataParallel, "__init__", make)


def _comm_hook(torch, scale):
    """A comm hook that all-reduces each bucket's sum and multiplies it by ``scale(world_size)``."""
    dist = torch.distributed

    def hook(state, bucket):
        buffer = bucket.buffer()
        world = dist.get_world_size()
        fut = dist.all_reduce(buffer, async_op=True).get_future()
        return fut.then(lambda f: f.value()[0].mul_(scale(world)))

    _after_init(torch, lambda ddp: ddp.register_comm_hook(None, hook))


@mutant("ddp-all-reduce-sums", kills=["DDP-001", "DDP-002", "DDP-003", "DDP-004", "DDP-009", "DDP-010", "DDP-013",
                                      "DDP-006", "DDP-015", "DDP-017", "DDP-020"])
def _(torch):
    """DDP's all-reduce sums the ranks' gradients instead of averaging them."""
    _comm_hook(torch, lambda world: 1.0)


@mutant("ddp-divides-by-twice-the-world-size", kills=["DDP-001", "DDP-002"])
def _(torch):
    """DDP's all-reduce divides the sum by 2 * world_size."""
    _comm_hook(torch, lambda world: 1.0 / (2 * world))


@mutant("autograd-grad-is-all-reduced", kills=["DDP-003", "DDP-005", "DDP-006", "DDP-007"])
def _(torch):
    """Under a process group, autograd.grad returns the ranks' average (the local graph kept for create_graph)."""
    dist = torch.distributed
    original = torch.autograd.grad

    def grad(*args, **kwargs):
        out = original(*args, **kwargs)
        if not dist.is_initialized():
            return out
        averaged = []
        for t in out:
            if t is None:
                averaged.append(t)
                continue
            total = t.detach().clone()
            dist.all_reduce(total)
            averaged.append(t + (total / dist.get_world_size() - t.detach()))
        return tuple(averaged)

    torch.autograd.grad = grad


@mutant("no-sync-does-not-defer", kills=["DDP-004"])
def _(torch):
    """ddp.no_sync() is a no-op: backward() inside it all-reduces."""
    wrap_function(torch.nn.parallel.DistributedDataParallel, "no_sync",
                  lambda orig: lambda self: contextlib.nullcontext())


@mutant("ddp-always-finds-unused-parameters", kills=["DDP-008", "DDP-019", "DDP-020"])
def _(torch):
    """DDP behaves as if find_unused_parameters=True were always passed."""

    def make(orig):
        def __init__(self, *args, **kwargs):
            kwargs["find_unused_parameters"] = True
            orig(self, *args, **kwargs)

        return __init__

    wrap_function(torch.nn.parallel.DistributedDataParallel, "__init__", make)


@mutant("ddp-construction-keeps-own-state", kills=["DDP-011"])
def _(torch):
    """Constructing DDP does not broadcast rank 0's parameters and buffers (each rank keeps its own)."""

    def make(orig):
        def __init__(self, module, *args, **kwargs):
            saved = [t.detach().clone() for t in (*module.parameters(), *module.buffers())]
            orig(self, module, *args, **kwargs)
            with torch.no_grad():
                for t, s in zip((*module.parameters(), *module.buffers()), saved):
                    t.copy_(s)

        return __init__

    wrap_function(torch.nn.parallel.DistributedDataParallel, "__init__", make)


@mutant("ddp-forward-does-not-broadcast-buffers", kills=["DDP-012"])
def _(torch):
    """broadcast_buffers=True is ignored at forward: each rank keeps its own buffers."""
    _after_init(torch, lambda ddp: setattr(ddp, "broadcast_buffers", False))


@mutant("ddp-gradient-as-bucket-view-ignored", kills=["DDP-013", "DDP-018"])
def _(torch):
    """gradient_as_bucket_view=True is ignored: every .grad has a storage of its own."""

    def make(orig):
        def __init__(self, *args, **kwargs):
            kwargs["gradient_as_bucket_view"] = False
            orig(self, *args, **kwargs)

        return __init__

    wrap_function(torch.nn.parallel.DistributedDataParallel, "__init__", make)


@mutant("ddp-backward-create-graph-silently-dropped", kills=["DDP-014"])
def _(torch):
    """Under a process group, Tensor.backward(create_graph=True) runs as create_graph=False."""
    dist = torch.distributed

    def make(orig):
        def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
            if create_graph and dist.is_initialized():
                create_graph = False
            return orig(self, gradient, retain_graph, create_graph, inputs=inputs)

        return backward

    wrap_function(torch.Tensor, "backward", make)


@mutant("ddp-static-graph-ignored", kills=["DDP-010"])
def _(torch):
    """static_graph=True is ignored: the unused parameter breaks the next iteration."""

    def make(orig):
        def __init__(self, *args, **kwargs):
            kwargs.pop("static_graph", None)
            orig(self, *args, **kwargs)

        return __init__

    wrap_function(torch.nn.parallel.DistributedDataParallel, "__init__", make)


@mutant("ddp-register-comm-hook-ignored", kills=["DDP-016"])
def _(torch):
    """register_comm_hook is a no-op: DDP keeps its default averaging all-reduce, and accepts any number of hooks."""
    wrap_function(torch.nn.parallel.DistributedDataParallel, "register_comm_hook",
                  lambda orig: lambda self, state, hook: None)


@mutant("no-sync-decided-at-backward", kills=["DDP-017"])
def _(torch):
    """no_sync() also stops the all-reduce of a backward run inside it whose forward ran outside it."""
    dist = torch.distributed

    def hook(ddp, bucket):
        if getattr(ddp, "_mutant_in_no_sync", False):
            fut = torch.futures.Future()
            fut.set_result(bucket.buffer())
            return fut
        world = dist.get_world_size()
        return dist.all_reduce(bucket.buffer(), async_op=True).get_future().then(lambda f: f.value()[0].div_(world))

    _after_init(torch, lambda ddp: ddp.register_comm_hook(ddp, hook))

    def make(orig):
        @contextlib.contextmanager
        def no_sync(self):
            self._mutant_in_no_sync = True
            try:
                with orig(self):
                    yield
            finally:
                self._mutant_in_no_sync = False

        return no_sync

    wrap_function(torch.nn.parallel.DistributedDataParallel, "no_sync", make)
