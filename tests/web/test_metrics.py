"""`/metrics` for Prometheus: only for the scrape that carries METRICS_TOKEN; webhook latency
by step, calls by decision, dangers, jobs due and late, provider errors, alerts; and, with
PROMETHEUS_MULTIPROC_DIR, the sums of every gunicorn worker of `ivr serve`."""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import AUTH_TOKEN, new_call, running_ivr
from tests.dispatch.test_dispatcher import unanswered_call

TOKEN = "a-scrape-token"


def scrape(client, token: str | None = TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get("/metrics", headers=headers)


def value(text: str, name: str, **labels: str) -> float:
    """A sample's value in the exposition text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = (
        rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? ([0-9.e+-]+)$"
        if wanted
        else (rf"^{re.escape(name)} ([0-9.e+-]+)$")
    )
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_metrics_are_only_for_the_scrape_with_the_token(night, demo):
    closed = night()
    assert scrape(closed.app.test_client()).status_code == 404  # no token set: no page
    n = night(METRICS_TOKEN=TOKEN)
    client = n.app.test_client()
    assert scrape(client, None).status_code == 404
    assert scrape(client, "a-guess").status_code == 404
    assert scrape(client).status_code == 200
    unsigned = client.post("/twilio/voice/step/made_up_by_anyone", data={"CallSid": "CA1"})
    assert unsigned.status_code == 403
    assert "made_up_by_anyone" not in scrape(client).get_data(as_text=True)  # no such label


def test_a_night_shows_in_the_metrics(night, demo, fake_twilio):
    n = night(METRICS_TOKEN=TOKEN)
    client = n.app.test_client()
    before = scrape(client).get_data(as_text=True)
    unanswered_call(n)
    n.dispatcher.plan_ended_calls()  # planned, not run: the line, two texts
    n.later(minutes=2)
    text = scrape(client).get_data(as_text=True)
    assert value(text, "ivr_webhook_seconds_count", step="voice/start") > value(
        before, "ivr_webhook_seconds_count", step="voice/start"
    )
    assert (
        value(text, "ivr_calls_total", decision="call_now")
        == value(before, "ivr_calls_total", decision="call_now") + 1
    )
    assert value(text, "ivr_jobs_due") == 3 and value(text, "ivr_jobs_oldest_due_seconds") >= 120
    fake_twilio.failures = [400, 400]
    n.run_worker()
    text = scrape(client).get_data(as_text=True)
    assert value(text, "ivr_provider_errors_total", kind="permanent") >= 2
    assert value(text, "ivr_alerts_total", kind="job_failed") >= 2
    assert value(text, "ivr_jobs_due") == 0
    assert "+336" not in text and "10000002" not in text  # no personal data


def test_every_gunicorn_worker_counts_in_one_scrape(database_url, demo, tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }
    with running_ivr(database_url, **env) as base:

        def call(n: int) -> None:
            new_call(f"{base}/twilio/voice", f"CA{n:032x}", timeout=10)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(call, range(24)))
        scraped = urllib.request.Request(
            f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        text = urllib.request.urlopen(scraped, timeout=10).read().decode()
    assert value(text, "ivr_webhook_seconds_count", step="voice/start") == 24
