"""The production topology on loopback: two `ivr serve` and two `ivr worker` processes on one
PostgreSQL, Twilio's webhooks sent to either server in turn as a load balancer would, twenty
callers at once of four kinds. Every caller is answered, every decision is right, every sheet
and text goes once, no job is done twice."""

from __future__ import annotations

import itertools
import subprocess
import threading
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import select

from ivr.adapters.orm import CallRow, JobRow
from ivr.simulator.dialer import Callee
from ivr.simulator.phone import PhoneCall
from ivr.simulator.rest import FakeTwilioRest
from ivr.simulator.transports import HttpTransport
from tests.calls.conftest import MANAGER_IDF, TECHNICIAN, identify, through_details
from tests.conftest import AUTH_TOKEN, BASE_URL, running_ivr, wait_until
from tests.dispatch.test_worker_processes import IVR, worker_env

AT = datetime(2026, 12, 22, 22, 0, tzinfo=UTC)  # Tuesday 23:00 in Paris


class LoadBalancer:
    """Each webhook to the next server in turn; the URL Twilio signed stays the public one."""

    def __init__(self, servers: list[str]) -> None:
        self._next = itertools.cycle(servers)
        self._lock = threading.Lock()
        self._http = HttpTransport(timeout=15)
        self.sent = Counter[str]()

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        with self._lock:
            server = next(self._next)
            self.sent[server] += 1
        public = urllib.parse.urlsplit(url)
        target = urllib.parse.urlsplit(server)
        to = public._replace(scheme=target.scheme, netloc=target.netloc).geturl()
        return self._http.post(to, params, headers)


def put_through(call: PhoneCall) -> None:
    identify(call, "10000002")  # collective, Paris Nord on call: the technician takes it
    through_details(call)


def danger(call: PhoneCall) -> None:
    call.start()
    call.press("9")
    call.press("2")  # smoke, fire
    call.press("#")
    call.press("75018")  # the manager on duty in Île-de-France takes it


def unknown_message(call: PhoneCall) -> None:
    call.start()
    for keys in ("12345678#", "999#", "87654321#", "78000"):
        call.press(keys)
    call.leave_message(10)


def seven_day_message(call: PhoneCall) -> None:
    identify(call, "10000001")  # individual 7/7 at 23:00 on a weekday: the sheet only
    through_details(call)
    call.leave_message(10)


KINDS = {
    "call_now": (put_through, {TECHNICIAN: Callee(keys=["1"])}),
    "escalate": (danger, {MANAGER_IDF: Callee(keys=["1"])}),
    "not_covered": (unknown_message, {}),
    "fax_only": (seven_day_message, {}),
}


def place(balancer: LoadBalancer, kind: str, n: int) -> str:
    script, callees = KINDS[kind]
    call = PhoneCall(balancer, BASE_URL, AUTH_TOKEN, from_=f"+336111100{n:02d}", callees=callees)
    script(call)
    assert call.ended, f"{kind}: the flow did not end the call"  # goodbye, then hang up
    return call.call_sid


def settled(db) -> bool:
    with db.snapshot() as session:
        calls = session.scalars(select(CallRow).where(CallRow.flow == "caller")).all()
        jobs = session.scalars(select(JobRow)).all()
    planned = len(calls) == 20 and all(c.followed_up_at is not None for c in calls)
    return planned and bool(jobs) and all(j.status in ("done", "waiting") for j in jobs)


# The production topology: several processes on one PostgreSQL.
def test_two_servers_and_two_workers_answer_twenty_callers_and_do_each_job_once(
    postgres_demo, postgres_url, tmp_path
):
    faxes = tmp_path / "faxes"
    fake = FakeTwilioRest()
    env = {"TWILIO_AUTH_TOKEN": AUTH_TOKEN, "IVR_CLOCK": AT.isoformat()}
    with (
        fake.serve() as twilio,
        running_ivr(postgres_url, PUBLIC_BASE_URL=BASE_URL, **env) as first,
        running_ivr(postgres_url, PUBLIC_BASE_URL=BASE_URL, **env) as second,
    ):
        logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
        workers = [
            subprocess.Popen(
                [IVR, "worker"],
                env=worker_env(postgres_url, twilio, AT, faxes),
                stderr=log.open("w"),
            )
            for log in logs
        ]
        try:
            balancer = LoadBalancer([first, second])
            kinds = [kind for kind in KINDS for _ in range(5)]
            with ThreadPoolExecutor(20) as callers:
                sids = dict(
                    zip(callers.map(place, [balancer] * 20, kinds, range(20)), kinds, strict=True)
                )
            wait_until(lambda: settled(postgres_demo), "every job done", timeout=90)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                assert worker.wait(timeout=20) == 0
    assert min(balancer.sent.values()) > 50  # both servers answered their share

    with postgres_demo.snapshot() as session:
        calls = session.scalars(select(CallRow).where(CallRow.flow == "caller")).all()
        jobs = session.scalars(select(JobRow)).all()
    assert {c.sid: c.action for c in calls} == sids  # every caller answered, rightly decided
    assert all(c.reached == TECHNICIAN for c in calls if c.action == "call_now")
    assert all(c.reached == MANAGER_IDF for c in calls if c.action == "escalate")
    sheets = [j for j in jobs if j.kind == "sheet"]
    assert {c.id for c in calls} == {j.call_id for j in sheets}  # every request has its sheet
    assert all(j.status == "done" and j.attempts == 1 for j in jobs)  # each job done once
    pdfs = sorted(path.name for path in faxes.glob("*.pdf"))
    assert len(pdfs) == len(sheets) == len(set(pdfs))  # each sheet faxed once
    texts = Counter(m["To"] for m in fake.messages)
    told = {c.from_number: 1 for c in calls if c.action != "escalate"}  # each client, once
    assert texts == {MANAGER_IDF: 5, **told} and fake.calls == []  # the danger's text, once each
