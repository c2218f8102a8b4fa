"""Mutants that kill the claims of the section "Module hooks": each changes one behaviour a claim states."""

from tests.meta.mutation import mutant, wrap_function


def _wrap_hook_registration(torch, name, wrap_hook):
    def make(orig):
        def register(self, hook, *args, **kwargs):
            return orig(self, wrap_hook(hook), *args, **kwargs)

        return register

    wrap_function(torch.nn.Module, name, make)


@mutant("full-backward-hook-return-ignored", kills=["MHOOK-001"])
def _(torch):
    """register_full_backward_hook calls the hook but ignores the grad_input it returns."""
    _wrap_hook_registration(torch, "register_full_backward_hook",
                            lambda hook: lambda m, gi, go: (hook(m, gi, go), None)[1])


@mutant("full-backward-pre-hook-return-ignored", kills=["MHOOK-002"])
def _(torch):
    """register_full_backward_pre_hook calls the hook but ignores the grad_output it returns."""
    _wrap_hook_registration(torch, "register_full_backward_pre_hook",
                            lambda hook: lambda m, go: (hook(m, go), None)[1])


@mutant("full-backward-hook-replacement-detached", kills=["MHOOK-003"])
def _(torch):
    """The grad_input a full backward hook returns is detached: under create_graph it is a constant."""

    def wrap(hook):
        def run(m, gi, go):
            out = hook(m, gi, go)
            return None if out is None else tuple(None if g is None else g.detach() for g in out)

        return run

    _wrap_hook_registration(torch, "register_full_backward_hook", wrap)


@mutant("observing-full-backward-hook-scales-the-gradient", kills=["MHOOK-004"])
def _(torch):
    """A full backward hook that returns None still changes grad_input (doubles it)."""

    def wrap(hook):
        def run(m, gi, go):
            out = hook(m, gi, go)
            if out is None and gi and gi[0] is not None:
                return tuple(None if g is None else g * 2 for g in gi)
            return out

        return run

    _wrap_hook_registration(torch, "register_full_backward_hook", wrap)


@mutant("non-full-backward-hook-is-full", kills=["MHOOK-005"])
def _(torch):
    """register_backward_hook behaves as register_full_backward_hook: the true grad_input and no warning."""
    wrap_function(torch.nn.Module, "register_backward_hook",
                  lambda orig: lambda self, hook: torch.nn.Module.register_full_backward_hook(self, hook))


@mutant("full-backward-hook-needs-an-input-gradient", kills=["MHOOK-006"])
def _(torch):
    """A full backward hook does not fire when no input of the module requires grad."""

    def wrap(hook):
        def run(m, gi, go):
            if all(g is None for g in gi):
                return None
            return hook(m, gi, go)

        return run

    _wrap_hook_registration(torch, "register_full_backward_hook", wrap)


@mutant("forward-hook-return-ignored", kills=["MHOOK-007"])
def _(torch):
    """Forward hooks and forward pre-hooks run, but their return values are ignored."""
    _wrap_hook_registration(torch, "register_forward_hook",
                            lambda hook: lambda m, inputs, out: (hook(m, inputs, out), None)[1])
    _wrap_hook_registration(torch, "register_forward_pre_hook",
                            lambda hook: lambda m, inputs: (hook(m, inputs), None)[1])


@mutant("global-full-backward-hook-skips-containers", kills=["MHOOK-008"])
def _(torch):
    """The global full backward hook does not fire for modules that have children (Sequential)."""
    module = torch.nn.modules.module
    original = module.register_module_full_backward_hook

    def register(hook):
        return original(lambda m, gi, go: None if len(list(m.children())) else hook(m, gi, go))

    module.register_module_full_backward_hook = register
