"""`ivr worker` as real processes against a fake Twilio on loopback: a worker killed in the
middle of a job loses nothing and does nothing twice; two workers do each job once."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pypdf import PdfReader

from ivr.simulator.dialer import Callee
from ivr.simulator.phone import PhoneCall
from ivr.simulator.rest import FakeTwilioRest
from ivr.simulator.transports import HttpTransport
from tests.calls.conftest import BACKUP, TECHNICIAN, identify, through_details
from tests.conftest import AUTH_TOKEN, BASE_URL, running_ivr, sign, wait_until
from tests.dispatch.conftest import ACCOUNT, IVR_NUMBER
from tests.dispatch.test_dispatcher import job_of, jobs, unanswered_call

IVR = str(Path(sys.executable).parent / "ivr")


CLIENT = "+33611111111"  # a mobile: texted after the call


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
        "NATIONAL_DUTY_NUMBER": "+33199009999",
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
    assert sorted(m["To"] for m in fake.messages) == [CLIENT, TECHNICIAN]  # each texted once


def settled(db) -> bool:
    statuses = [j.status for j in jobs(db) if j.kind in ("call_line", "sms")]
    # Per request: the line called, the technician texted, the client texted.
    return len(statuses) == 6 and set(statuses) <= {"done", "waiting"}


def test_two_workers_at_once_do_each_job_once(night, demo, database_url, tmp_path):
    n = night()
    for _ in range(2):
        unanswered_call(n)
        n.later(minutes=5)
    fake = FakeTwilioRest()
    with fake.serve() as twilio:
        env = worker_env(database_url, twilio, n.dispatcher.clock.now(), n.faxes)
        logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
        workers = [subprocess.Popen([IVR, "worker"], env=env, stderr=log.open("w")) for log in logs]
        try:
            # Both running (their SIGTERM handler set) before either may be stopped.
            started = lambda: all("worker started" in log.read_text() for log in logs)  # noqa: E731
            wait_until(started, "both workers to start", timeout=30)
            # Every job settled: the texts sent, the calls placed and waiting for Twilio's
            # callback (minutes away). Nothing is left for either worker to take: a job done
            # twice would show in what the fake Twilio received.
            wait_until(lambda: settled(demo), "every job done or waiting", timeout=30)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                assert worker.wait(timeout=15) == 0  # SIGTERM: a clean stop
    assert alive(demo) == []  # stopped as asked: none left listed on the operations page
    placed = Counter(c["Url"] for c in fake.calls)
    assert len(placed) == 2 and set(placed.values()) == {1}
    assert len(fake.messages) == 4
    assert sorted(j.kind for j in jobs(demo) if j.status != "pending") == [
        "call_line",
        "call_line",
        "sms",
        "sms",
        "sms",
        "sms",
    ]


def test_through_ivr_serve_and_ivr_worker_the_technician_reached_and_the_sheet_faxed(
    demo, database_url, tmp_path, twiml_schema
):
    """The whole night on loopback: a call into `ivr serve`, nobody takes it; `ivr worker`
    calls the technician through a fake Twilio; Twilio's callbacks go to `ivr serve`, signed;
    the worker faxes the sheet to a folder."""
    at = datetime(2026, 12, 22, 22, 0, tzinfo=UTC)  # 23:00 in Paris, agency 0751 on call
    faxes = tmp_path / "faxes"
    fake = FakeTwilioRest()
    with (
        fake.serve() as twilio,
        running_ivr(database_url, TWILIO_AUTH_TOKEN=AUTH_TOKEN, IVR_CLOCK=at.isoformat()) as served,
    ):
        call = PhoneCall(
            HttpTransport(),
            served,
            AUTH_TOKEN,
            from_="+33611111111",
            callees={TECHNICIAN: Callee(answers=False), BACKUP: Callee(answers=False)},
            validate=twiml_schema,
        )
        identify(call, "10000002")
        through_details(call)
        call.leave_message(20)
        assert call.ended

        env = {**worker_env(database_url, twilio, at, faxes), "PUBLIC_BASE_URL": served}
        subprocess.run([IVR, "worker", "--burst"], env=env, check=True, timeout=60)
        assert [c["To"] for c in fake.calls] == [TECHNICIAN]
        assert sorted(m["To"] for m in fake.messages) == [CLIENT, TECHNICIAN]

        placed = fake.calls[0]
        twiml = twilio_posts(placed["Url"], placed["Sid"], AnsweredBy="human")
        twiml_schema and twiml_schema(twiml)
        assert "06 11 11 11 11" in twiml and "tapez 2" in twiml
        menu = re.search(r'action="([^"]+)"', twiml)
        assert menu is not None
        assert "C'est noté" in twilio_posts(html.unescape(menu.group(1)), placed["Sid"], Digits="2")
        twilio_posts(placed["StatusCallback"], placed["Sid"], CallStatus="completed")

        later = {**env, "IVR_CLOCK": (at + timedelta(minutes=5)).isoformat()}
        subprocess.run([IVR, "worker", "--burst"], env=later, check=True, timeout=60)
        assert alive(demo) == []  # a burst is over: not listed as a worker gone silent
    [meta] = [json.loads(p.read_text()) for p in faxes.glob("*.json")]
    assert meta["to"] == "+33199001101" and meta["call_sid"] == call.call_sid
    pdf = PdfReader(faxes / f"{meta['name']}.pdf")
    assert "Technicien joint : OUI" in pdf.pages[0].extract_text()


def twilio_posts(url: str, sid: str, **params: str) -> str:
    """Twilio posting one of the dispatcher's call's webhooks, signed."""
    form = {"CallSid": sid, "AccountSid": ACCOUNT, "Direction": "outbound-api", **params}
    headers = {"X-Twilio-Signature": sign(url, form, AUTH_TOKEN)}
    status, body = HttpTransport().post(url, form, headers)
    assert status in (200, 204), (status, body)
    return body


def alive(db) -> list[str]:
    """The workers the operations page lists."""
    from sqlalchemy import select

    from ivr.adapters.orm import WorkerBeatRow

    with db.snapshot() as session:
        return list(session.scalars(select(WorkerBeatRow.name)))
