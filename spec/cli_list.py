"""``python -m spec list``: every claim, one per line (or as JSON)."""

from __future__ import annotations

import json
import sys

from spec.claims import registry


def configure(parser) -> None:
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    parser.add_argument("--section", default=None, help="only claims of this section")


def run(args) -> int:
    claims = list(registry().values())
    if args.section:
        claims = [c for c in claims if c.section == args.section]
        if not claims:
            from spec.errors import CommandError

            raise CommandError(f"no claims in section {args.section!r}")
    out = sys.stdout
    if args.format == "json":
        from spec.sources import sources_of

        index = sources_of()
        json.dump([{**c.as_json(), "sources": index.get(c.id, [])} for c in claims], out, indent=1)
        out.write("\n")
    elif args.format == "markdown":
        section = None
        for c in claims:
            if c.section != section:
                section = c.section
                out.write(f"\n### {c.part}: {section}\n\n| ID | statement |\n|---|---|\n")
            out.write(f"| {c.id} | {c.statement} |\n")
    else:
        width = max(len(c.id) for c in claims)
        for c in claims:
            out.write(f"{c.id:<{width}}  [{c.part}: {c.section}]  {c.statement}\n")
    return 0
