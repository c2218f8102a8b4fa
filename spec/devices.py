"""Devices the claims run on, and whether each is present on this machine."""

from __future__ import annotations

import dataclasses
import warnings

KNOWN_DEVICES: tuple[str, ...] = ("cpu", "cuda", "mps")


class DeviceError(ValueError):
    """An unknown device name, or a device that was asked for and is absent."""


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    name: str
    present: bool
    detail: str  # a model name when present, the reason when absent

    def as_json(self) -> dict:
        return {"present": self.present, "detail": self.detail}


def probe(name: str) -> DeviceInfo:
    """Whether ``name`` can run tensors here, with a reason when it cannot."""
    import torch

    if name == "cpu":
        import platform

        return DeviceInfo("cpu", True, platform.processor() or platform.machine())
    if name == "cuda":
        # A CUDA build on a machine without a GPU may warn while it looks: keep that out of the
        # run (it would fail under -W error) and put it in the reason instead.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            available = torch.cuda.is_available()
        if not available:
            why = "this torch is a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda} build, no GPU visible"
            said = "; ".join(dict.fromkeys(str(w.message).splitlines()[0] for w in caught))
            return DeviceInfo("cuda", False, f"cuda absent: torch.cuda.is_available() is False ({why}{': ' + said if said else ''})")
        return DeviceInfo("cuda", True, torch.cuda.get_device_name(0))
    if name == "mps":
        backend = getattr(torch.backends, "mps", None)
        if backend is None or not backend.is_available():
            return DeviceInfo("mps", False, "mps absent: torch.backends.mps.is_available() is False")
        return DeviceInfo("mps", True, "Apple MPS")
    raise DeviceError(f"unknown device {name!r}; known devices: {', '.join(KNOWN_DEVICES)}")


def probe_all() -> dict[str, DeviceInfo]:
    return {name: probe(name) for name in KNOWN_DEVICES}


def parse_selection(text: str | None) -> list[str] | None:
    """Parse ``--device cuda,cpu``; ``None`` means every known device."""
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise DeviceError("--device needs at least one device name")
    unknown = [n for n in names if n not in KNOWN_DEVICES]
    if unknown:
        raise DeviceError(f"unknown device {', '.join(map(repr, unknown))}; known devices: {', '.join(KNOWN_DEVICES)}")
    return list(dict.fromkeys(names))


def require_present(names: list[str], infos: dict[str, DeviceInfo]) -> None:
    absent = [infos[n] for n in names if not infos[n].present]
    if absent:
        raise DeviceError("; ".join(f"--device {i.name} was asked for, but {i.detail}" for i in absent))
