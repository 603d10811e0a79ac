"""`pipec gc`, and what `pipec runs rm` shares with it: removing runs and what only they
hold, saying what goes and what stays."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from pipec.cli.output import StorageOpt, open_store, out, usage
from pipec.housekeeping import Removal, old_runs, removal, remove
from pipec.store import Store

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)")


def age(text: str) -> float:
    """`30d`, `12h`, `90m`, `45s`, `2w` (or plain seconds) as seconds."""
    match = _AGE.fullmatch(text.strip())
    if match is None:
        usage(f"--older-than takes a number and a unit (s, m, h, d, w), like 30d; got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def carry_out(store: Store, plan: Removal, *, dry_run: bool) -> None:
    """Remove what `plan` says (or, with `dry_run`, only print it)."""
    verb = "would remove" if dry_run else "removed"
    for record in plan.runs:
        out.print(f"{verb} run {record.run_id} ({record.pipeline}, {record.status})",
                  markup=False, highlight=False, soft_wrap=True)  # fmt: skip
    for path in plan.kept if dry_run else ():
        out.print(f"would keep {path}: a kept run or cache entry uses it",
                  markup=False, highlight=False, soft_wrap=True)  # fmt: skip
    if plan.kept and not dry_run:
        out.print(f"kept {len(plan.kept)} files of those runs: kept runs or cache entries use them",
                  markup=False, highlight=False)  # fmt: skip
    if not dry_run:
        remove(store, plan)
    out.print(
        f"{verb} {len(plan.runs)} runs, {len(plan.entries)} cache entries, "
        f"{len(plan.folders)} run folders and {len(plan.files)} other files",
        markup=False,
        highlight=False,
    )


def gc(
    storage: StorageOpt = None,
    older_than: Annotated[
        str, typer.Option("--older-than", help="remove runs that ended longer ago (30d, 12h, ...)")
    ] = "30d",
    keep_last: Annotated[
        int, typer.Option("--keep-last", min=0, help="always keep each pipeline's newest N runs")
    ] = 0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only say what would go")] = False,
) -> None:
    """Remove old runs, the cache entries and values only they hold, and leftover
    temporary files; never a value a kept run or cache entry points at."""
    store = open_store(storage)
    chosen = old_runs(store, older_than=age(older_than), keep_last=keep_last)
    plan = removal(store, [r.run_id for r in chosen], temporary=True)
    carry_out(store, plan, dry_run=dry_run)
