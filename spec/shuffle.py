"""``python -m spec.shuffle --runs 20``: the claims give identical outcomes in any order.

Runs the claim suite several times with pytest-randomly (a different seed each
time) and pytest-xdist (``-n 2``), and compares the outcome of every test across
runs. Exits 1 and names the tests whose outcome depended on the order.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spec.shuffle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", default="2", help="pytest-xdist -n value (default 2)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    outcomes: dict[str, dict[int, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            seed = args.first_seed + i
            path = Path(tmp) / f"run{seed}.json"
            cmd = [sys.executable, "-m", "pytest", "spec/suite", "-q", "-p", "randomly", "-p", "xdist",
                   "-n", args.workers, f"--randomly-seed={seed}", "--no-claim-report", "-W", "error::UserWarning",
                   "--results", str(path), *args.pytest_args]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if not path.exists():
                print(f"run {i + 1} (seed {seed}) wrote no results (exit {proc.returncode}):\n{proc.stdout[-2000:]}")
                return 1
            doc = json.loads(path.read_text())
            for row in doc["tests"]:
                outcomes.setdefault(row["nodeid"], {})[seed] = row["outcome"]
            print(f"run {i + 1}/{args.runs} (seed {seed}): exit {proc.returncode}, {len(doc['tests'])} tests, "
                  f"{sum(r['outcome'] == 'failed' for r in doc['tests'])} failed")
    unstable = {n: o for n, o in outcomes.items() if len(set(o.values())) > 1 or len(o) != args.runs}
    if unstable:
        print(f"{len(unstable)} tests changed outcome with the order:")
        for nodeid, by_seed in sorted(unstable.items()):
            print(f"  {nodeid}: {by_seed}")
        return 1
    print(f"identical outcomes in {args.runs} random orders ({len(outcomes)} tests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
