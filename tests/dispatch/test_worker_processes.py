"""`ivr worker` as real processes against a fake Twilio on loopback: a worker killed in the
middle of a job loses nothing and does nothing twice; two workers do each job once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from ivr.simulator.rest import FakeTwilioRest
from tests.calls.conftest import BACKUP, TECHNICIAN
from tests.conftest import AUTH_TOKEN, BASE_URL
from tests.dispatch.conftest import ACCOUNT, IVR_NUMBER
from tests.dispatch.test_dispatcher import job_of, jobs, unanswered_call

IVR = str(Path(sys.executable).parent / "ivr")


def worker_env(database_url: str, twilio: str, at, faxes: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": BASE_URL,
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": twilio,
        "IVR_CALLER_ID": IVR_NUMBER,
        "IVR_CLOCK": at.isoformat(),
        "FAX_FOLDER": str(faxes),
    }


def test_a_worker_killed_mid_call_loses_nothing_and_calls_once(night, demo, database_url):
    n = night()
    unanswered_call(n)
    now = n.dispatcher.clock.now()
    fake = FakeTwilioRest()
    fake.answering.clear()  # Twilio takes the call, but its answer never comes back
    with fake.serve() as twilio:
        env = worker_env(database_url, twilio, now, n.faxes)
        worker = subprocess.Popen([IVR, "worker"], env=env, stderr=subprocess.DEVNULL)
        try:
            assert fake.call_received.wait(30), "the worker never placed the call"
        finally:
            worker.kill()  # mid-job: the call placed, not recorded
            worker.wait(timeout=10)
        fake.answering.set()
        line = job_of(demo, "call_line", TECHNICIAN)
        assert (line.status, line.provider_ref) == ("running", None)

        fake.statuses[fake.calls[0]["Sid"]] = ("no-answer", None)
        later = worker_env(database_url, twilio, now + timedelta(minutes=3), n.faxes)
        subprocess.run([IVR, "worker", "--burst"], env=later, check=True, timeout=60)

    assert [c["To"] for c in fake.calls] == [TECHNICIAN, BACKUP]  # the technician once
    line = job_of(demo, "call_line", TECHNICIAN)
    assert (line.status, line.outcome) == ("done", "no-answer")
    assert line.provider_ref == fake.calls[0]["Sid"]  # found by asking Twilio
    assert [m["To"] for m in fake.messages] == [TECHNICIAN]


def test_two_workers_at_once_do_each_job_once(night, demo, database_url):
    n = night()
    for _ in range(2):
        unanswered_call(n)
        n.later(minutes=5)
    fake = FakeTwilioRest()
    with fake.serve() as twilio:
        env = worker_env(database_url, twilio, n.dispatcher.clock.now(), n.faxes)
        workers = [subprocess.Popen([IVR, "worker"], env=env) for _ in range(2)]
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(fake.calls) + len(fake.messages) < 4:
                time.sleep(0.1)
            time.sleep(1.5)  # time for a second, wrong, attempt to show
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                assert worker.wait(timeout=15) == 0  # SIGTERM: a clean stop
    placed = Counter(c["Url"] for c in fake.calls)
    assert len(placed) == 2 and set(placed.values()) == {1}
    assert len(fake.messages) == 2
    assert sorted(j.kind for j in jobs(demo) if j.status != "pending") == [
        "call_line",
        "call_line",
        "sms",
        "sms",
    ]
