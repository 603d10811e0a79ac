"""What a run shows in the terminal while it goes: one line per finished step,
a spinner naming the running ones, and a closing line that says what ran."""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from pipec.records import RunRecord, StepRecord

_MARKS = {
    "completed": "[green]✓[/]",
    "cached": "[cyan]↺[/]",
    "failed": "[red]✗[/]",
    "aborted": "[red]■[/]",
    "skipped": "[yellow]-[/]",
}


class Progress:
    """Progress on stderr, so `--json` keeps stdout to itself."""

    def __init__(self, pipeline: str, run_id: str, *, quiet: bool = False) -> None:
        self.console = Console(stderr=True, highlight=False, soft_wrap=True)
        self.pipeline, self.run_id, self.quiet = pipeline, run_id, quiet
        self._running: list[str] = []
        self._total = 0
        self._lock = threading.Lock()
        self._status: Status | None = None
        self._t0 = time.time()

    def start(self) -> None:
        self.console.print(f"[bold]pipeline {self.pipeline}[/] run {self.run_id}")
        if self.console.is_terminal and not self.quiet:
            self._status = self.console.status("starting")
            self._status.start()

    def add(self, step: str) -> None:
        with self._lock:
            self._total += 1

    def running(self, step: str) -> None:
        with self._lock:
            self._running.append(step)
            self._update()

    def _update(self) -> None:
        if self._status is not None:
            self._status.update(f"running: {', '.join(self._running) or '-'}")

    def finished(self, record: StepRecord) -> None:
        with self._lock:
            if record.name in self._running:
                self._running.remove(record.name)
            self._update()
        detail = ""
        if record.status == "cached":
            detail = f"reused from cache ({record.cached_from})"
        elif record.status in ("failed", "aborted", "skipped") and record.error:
            detail = record.error
        elif record.duration is not None:
            detail = f"{record.duration:.2f}s"
        attempts = f" after {len(record.attempts)} attempts" if len(record.attempts) > 1 else ""
        self.console.print(
            f"  {_MARKS.get(record.status, '?')} {escape(record.name)} {record.status}{attempts}"
            + (f": {escape(detail)}" if detail else "")
        )

    def stop(self, run: RunRecord, records: dict[str, StepRecord]) -> None:
        if self._status is not None:
            self._status.stop()
        executed = [r for r in records.values() if r.attempts]
        cached = [r for r in records.values() if r.status == "cached"]
        took = (run.ended or time.time()) - run.started
        count = f"{len(records)} step" + ("" if len(records) == 1 else "s")
        line = f"pipeline {run.pipeline} {run.status} in {took:.1f}s: {count}"
        if cached:
            line += f", {len(cached)} reused from the cache"
        if records and not executed:
            line += "; no step body ran"
        if run.failed_step in records:  # its error is on its line above: said once
            line += (
                f"; step {run.failed_step!r} failed first "
                f"(`pipec runs logs {run.run_id} {run.failed_step}` shows its console)"
            )
        self.console.print(line, markup=False)
        if run.error and run.failed_step not in records:
            self.console.print(run.error, style="red", markup=False)
