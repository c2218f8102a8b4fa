"""Helpers that tox runs inside its environments (``python -m spec.envtools ...``).

``free DIR``
    Delete a tox environment (and the uv cache inside it) after its run: the matrix
    envs hold a 4.5-7 GB CUDA build of torch each, and the matrix must run within a
    bounded amount of disk. Set ``SPEC_KEEP_ENVS=1`` to keep them.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def free(env_dir: str) -> int:
    if os.environ.get("SPEC_KEEP_ENVS", "") not in ("", "0"):
        print(f"SPEC_KEEP_ENVS is set: keeping {env_dir}")
        return 0
    path = Path(env_dir).resolve()
    if not (path / "pyvenv.cfg").exists() or ".tox" not in path.parts:
        print(f"refusing to delete {path}: not a tox environment", file=sys.stderr)
        return 2
    for child in path.iterdir():
        if child.name == "log":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    print(f"freed {path} (set SPEC_KEEP_ENVS=1 to keep matrix envs)")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "free":
        return free(argv[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
