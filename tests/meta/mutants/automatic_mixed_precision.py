"""Mutants that kill the claims of the section "Automatic mixed precision": each changes one behaviour a claim
states."""

import warnings

from tests.meta.mutation import mutant, replace, torch_release, wrap_function


def _autocast_with(torch, enabled):
    """Replace torch.autocast with a subclass whose ``enabled`` is ``enabled(given)``."""
    base = torch.amp.autocast_mode.autocast

    class autocast(base):
        def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
            super().__init__(device_type, dtype=dtype, enabled=_enabled(enabled), cache_enabled=cache_enabled)

    _enabled = enabled
    replace(torch, "autocast", autocast)


@mutant("autocast-is-a-no-op", kills=["AMP-001", "AMP-002", "AMP-003", "AMP-004", "AMP-005", "AMP-009"])
def _(torch):
    """torch.autocast never turns autocasting on: every op runs in its inputs' dtype."""
    _autocast_with(torch, lambda given: False)


@mutant("autocast-enabled-false-is-ignored", kills=["AMP-003"])
def _(torch):
    """torch.autocast(enabled=False) does not turn an enclosing autocast region off."""
    _autocast_with(torch, lambda given: True)


@mutant("custom-fwd-ignores-cast-inputs", kills=["AMP-005"])
def _(torch):
    """torch.amp.custom_fwd drops cast_inputs: the forward runs on the inputs as given, under autocast."""
    if torch_release(torch) < (2, 4):
        return

    def make(orig):
        def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
            return orig(fwd, device_type=device_type) if fwd is not None else orig(device_type=device_type)

        return custom_fwd

    wrap_function(torch.amp, "custom_fwd", make)


@mutant("device-specific-amp-spellings-change-their-warnings", kills=["AMP-006"])
def _(torch):
    """torch.cpu.amp.autocast warns FutureWarning 'is deprecated' before 2.4 and stops warning from 2.4."""
    base = torch.amp.autocast_mode.autocast
    old = torch_release(torch) < (2, 4)

    class autocast(base):
        def __init__(self, enabled=True, dtype=torch.bfloat16, cache_enabled=True):
            if old:
                warnings.warn("torch.cpu.amp.autocast is deprecated", FutureWarning, stacklevel=2)
            super().__init__("cpu", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)

    replace(torch.cpu.amp, "autocast", autocast)


@mutant("grad-scaler-never-backs-off", kills=["AMP-007"])
def _(torch):
    """GradScaler keeps its scale after a step with inf gradients (backoff_factor 1)."""
    if not hasattr(torch.amp, "GradScaler"):
        return

    def make(orig):
        def __init__(self, *args, **kwargs):
            orig(self, *args, **kwargs)
            self._backoff_factor = 1.0

        return __init__

    wrap_function(torch.amp.GradScaler, "__init__", make)


@mutant("grad-scaler-scale-is-identity", kills=["AMP-007", "AMP-008"])
def _(torch):
    """GradScaler.scale returns its argument unscaled."""
    if not hasattr(torch.amp, "GradScaler"):
        return
    wrap_function(torch.amp.GradScaler, "scale", lambda orig: lambda self, outputs: outputs)
