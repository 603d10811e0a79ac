"""Run pages: what a run did, as HTML read from the store alone.

`pipec runs report` writes one run's page to a file; `pipec ui` serves the same pages
for every run of a store (`pipec.report.server`). Pages are read-only views of the
records every target writes, so they look the same for a local, Airflow or Prefect run.

Internal: the commands are the interface.
"""

from pipec.report.data import RunData, RunNotFound, read_run
from pipec.report.page import run_page, runs_page

__all__ = ["RunData", "RunNotFound", "read_run", "run_page", "runs_page"]
