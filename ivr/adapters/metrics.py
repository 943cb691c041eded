"""What an operator graphs and alerts on (Prometheus, `/metrics`): how fast callers are
answered, what the rules decided, dangers, how late the workers start their jobs, providers'
failures, fax deliveries, alerts raised.

Every process counts its own; with `PROMETHEUS_MULTIPROC_DIR` set (one folder per host, shared
by `ivr serve`'s gunicorn workers and the `ivr worker` processes), `/metrics` adds them all up
(prometheus-client's multiprocess mode). No label carries personal data: steps, decisions,
kinds and statuses only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

WEBHOOK_SECONDS = Histogram(
    "ivr_webhook_seconds",
    "Time to answer a Twilio webhook, by the step answered",
    ["step"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CALLS = Counter("ivr_calls_total", "Callers' calls, by the rules' decision", ["decision"])
DANGER_CALLS = Counter("ivr_danger_calls_total", "Callers' calls that signalled a danger")
JOB_START_DELAY = Histogram(
    "ivr_job_start_delay_seconds",
    "How long after it fell due a job was started, by kind",
    ["kind"],
    buckets=(1, 5, 15, 60, 300, 900, 3600),
)
PROVIDER_ERRORS = Counter(
    "ivr_provider_errors_total", "Twilio's and the fax provider's failures", ["kind"]
)
FAX_DELIVERIES = Counter(
    "ivr_fax_deliveries_total", "The fax provider's delivery reports", ["status"]
)
ALERTS = Counter("ivr_alerts_total", "Alerts raised for the operators, by kind", ["kind"])


def count_call(decision: str | None, danger: bool) -> None:
    CALLS.labels(decision or "none").inc()
    if danger:
        DANGER_CALLS.inc()


class JobsDue(Collector):
    """The jobs due and not started, and how long the oldest has waited: read from the
    database at each scrape (the truth, whichever process planned them)."""

    def __init__(self, due: int, oldest_seconds: float) -> None:
        self.due, self.oldest = due, oldest_seconds

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily("ivr_jobs_due", "Jobs due and not started", value=self.due)
        yield GaugeMetricFamily(
            "ivr_jobs_oldest_due_seconds",
            "How long the oldest job due and not started has waited",
            value=self.oldest,
        )


def exposition(*extra: Collector) -> tuple[bytes, str]:
    """The scrape's text: this process's metrics, or every process's of the host."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    now = CollectorRegistry()
    for collector in extra:
        now.register(collector)
    return text + generate_latest(now), CONTENT_TYPE_LATEST


def process_gone(pid: int) -> None:
    """A gunicorn worker exited: its live gauges leave the sums (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
