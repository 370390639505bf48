"""Reports: papermill runs of the shipped notebooks into HTML, on demand or on a schedule.

:func:`run_report` executes one notebook (see :mod:`agentinsight.reports._runner` for the run
folder's layout); :func:`run_once` and :func:`serve` run what ``schedules.yaml`` says is due;
:mod:`agentinsight.reports.notebook` holds the helpers the notebooks themselves call. The notebooks
ship inside this package and are the checkout's top-level ``notebooks/`` folder.
"""

from agentinsight.reports._runner import (
    RUNNER_PARAMETERS,
    ReportRun,
    declared_parameters,
    enable_offline_plotly,
    list_reports,
    notebooks_dir,
    parse_param,
    run_report,
    write_index,
)
from agentinsight.reports._schedule import Schedule, due, load_schedules, run_once, serve

__all__ = [
    "RUNNER_PARAMETERS",
    "ReportRun",
    "Schedule",
    "declared_parameters",
    "due",
    "enable_offline_plotly",
    "list_reports",
    "load_schedules",
    "notebooks_dir",
    "parse_param",
    "run_once",
    "run_report",
    "serve",
    "write_index",
]
