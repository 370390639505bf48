"""Airflow: the same notebooks and parameters, run by PapermillOperator.

Requires apache-airflow-providers-papermill. The notebooks are generated from notebooks/*.py with
`jupytext --to ipynb`; Airflow's templating fills the time window of each interval.
"""

from __future__ import annotations

import pendulum
from airflow import DAG
from airflow.providers.papermill.operators.papermill import PapermillOperator

NOTEBOOKS = "/srv/agentinsight/notebooks"
REPORTS = "/srv/agentinsight/reports"
SOURCE = {"prometheus_url": "http://prometheus:9090", "jaeger_url": "http://jaeger:16686"}

with DAG(
    dag_id="agentinsight_reports",
    schedule="0 6 * * *",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,          # like `agentinsight schedule`: a missed day runs once, not many times
    max_active_runs=1,      # no overlapping runs
    tags=["agentinsight"],
) as dag:
    daily = PapermillOperator(
        task_id="daily_report",
        input_nb=f"{NOTEBOOKS}/daily_report.ipynb",
        output_nb=f"{REPORTS}/daily_report/{{{{ ds }}}}/report.ipynb",
        parameters={
            **SOURCE,
            "start": "{{ data_interval_start.isoformat() }}",
            "end": "{{ data_interval_end.isoformat() }}",
            "budget_usd": 500,
            "findings_path": f"{REPORTS}/daily_report/{{{{ ds }}}}/findings.json",
        },
    )
    cost = PapermillOperator(
        task_id="cost_report",
        input_nb=f"{NOTEBOOKS}/cost_report.ipynb",
        output_nb=f"{REPORTS}/cost_report/{{{{ ds }}}}/report.ipynb",
        parameters={**SOURCE, "start": "{{ data_interval_start.isoformat() }}",
                    "end": "{{ data_interval_end.isoformat() }}", "budget_usd": 500},
    )
    daily >> cost
