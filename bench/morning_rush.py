"""Saturday 08:00 after a cold Friday night: danger first (docs/performance.md).

    .venv/bin/python bench/morning_rush.py [--calls 2000] [--agencies 170] [--rate 20]
                                           [--workers 1 2 4] [--postgresql URL]

For each number of workers:
1. prepares a database as an operator would (`bench/webhooks.py`'s way: SQLite by default),
   with `--calls` next-morning calls over `--agencies` agencies, all due in three seconds
   ("08:00");
2. starts a fake Twilio REST API that answers every request in 300 ms and notes when each
   call request arrived, and `--workers` `ivr worker` processes (`WORKER_THREADS` each, the
   default 4) paced at `TWILIO_CALLS_PER_SECOND=--rate`;
3. five seconds after 08:00 a caller in danger hangs up (an ended call whose decision is
   `escalate`, as the voice flow leaves it), and the workers plan and place its manager's call;
4. prints how long after the danger call's end the manager's call was requested, whether every
   morning call was requested exactly once, and the rate Twilio saw (the most requests in any
   one second, the mean).

Targets (issue 17): the manager's call within 5 s of the danger call's end; every morning
call once; never more calls in a second than the rate. The exit status is 1 when one is
missed. Twilio's default rate is 1 call a second: 2,000 calls then take over half an hour, so
the benchmark runs at 20 a second by default; the rule and the figures scale with the rate.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import webhooks

from ivr.clock import Clock  # the program's clock (no IVR_CLOCK here: now)

ACCOUNT = "AC" + "0" * 32
MANAGER = "+33639980201"  # Claire Lefèvre, the demo's manager on duty in Île-de-France
ANSWER_SECONDS = 0.3


class FakeTwilio(ThreadingHTTPServer):
    """Twilio's REST API as the workers use it, answering in 300 ms; what it was asked."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Answer)
        self.requested: list[tuple[float, str, str]] = []  # (arrival, To, job)
        self.lock = threading.Lock()


class _Answer(BaseHTTPRequestHandler):
    server: FakeTwilio

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        arrived = time.monotonic()
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        if self.path.endswith("/Calls.json"):
            job = parse_qs(urlsplit(form["Url"][0]).query)["job"][0]
            with self.server.lock:
                self.server.requested.append((arrived, form["To"][0], job))
            self._answer(201, {"sid": "CA" + uuid.uuid4().hex, "status": "queued"})
        else:
            self._answer(201, {"sid": "SM" + uuid.uuid4().hex, "status": "queued"})

    def do_GET(self) -> None:
        listed = self.path.split("?")[0].rsplit("/", 1)[1]
        if listed in ("Calls.json", "Recordings.json"):  # a lost call, a lost message: none
            key = listed.removesuffix(".json").lower()
            self._answer(200, {key: [], "next_page_uri": None, "page": 0, "page_size": 50})
        else:
            self._answer(200, {"sid": self.path.rsplit("/", 1)[1][:34], "status": "ringing"})

    def _answer(self, status: int, body: dict[str, object]) -> None:
        time.sleep(ANSWER_SECONDS)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _morning(database_url: str, calls: int, agencies: int, eight: datetime) -> None:
    """The night's next-morning calls, planned as the dispatcher plans them, due at `eight`."""
    from ivr.adapters.db import Database
    from ivr.adapters.orm import CallRow
    from ivr.domain import followup
    from ivr.services.jobs import JobQueue

    db = Database(database_url)
    queue = JobQueue(db, Clock())
    with db.session() as session:
        for n in range(calls):
            agency = n % agencies
            line = f"+3363{agency:07d}"
            call = CallRow(
                sid=f"CA{n:032x}",
                started_at=eight - timedelta(hours=10),
                ended_at=eight - timedelta(hours=10),
                followed_up_at=eight - timedelta(hours=10),
                agency=f"A{agency:03d}",
                action="call_next_morning",
                twilio_status="completed",
            )
            session.add(call)
            session.flush()
            planned = followup.call_line(call.id, "technician", (line,), eight, "next_morning")
            queue.schedule(
                session, planned.kind, planned.key, planned.due_at, call.id, planned.payload
            )
    db.dispose()


def _danger(database_url: str) -> float:
    """A caller in danger hangs up now (Paris Nord, Claire Lefèvre on duty): the call as the
    voice flow leaves it, for the workers to plan. The instant it ended (monotonic)."""
    from ivr.adapters.db import Database
    from ivr.adapters.orm import CallEventRow, CallRow

    db = Database(database_url)
    now = Clock().now()
    decision = {"action": "escalate", "call_numbers": [MANAGER], "fax_numbers": []}
    with db.session() as session:
        call = CallRow(
            sid="CA" + "d" * 32,
            started_at=now - timedelta(minutes=2),
            ended_at=now,
            agency="0751",
            danger="gas",
            action="escalate",
            twilio_status="completed",
        )
        session.add(call)
        session.flush()
        session.add(
            CallEventRow(
                call_id=call.id, at=now, turn=1, step="decide", kind="decision", detail=decision
            )
        )
    ended = time.monotonic()
    db.dispose()
    return ended


def run(workers: int, args: argparse.Namespace, folder: Path) -> bool:
    database_url = webhooks._prepare_database(folder / f"w{workers}", args.postgresql)
    eight = Clock().now().replace(microsecond=0) + timedelta(seconds=20)
    _morning(database_url, args.calls, args.agencies, eight)
    twilio = FakeTwilio()
    threading.Thread(target=twilio.serve_forever, daemon=True).start()
    env = webhooks._server_env("http://127.0.0.1:8000", database_url)
    env.pop("IVR_CLOCK")  # the real clock: "08:00" is in a few seconds
    env.update(
        TWILIO_ACCOUNT_SID=ACCOUNT,
        TWILIO_API_BASE_URL=f"http://127.0.0.1:{twilio.server_port}",
        IVR_CALLER_ID="+33199000000",
        TWILIO_CALLS_PER_SECOND=str(args.rate),
        FAX_FOLDER=str(folder / "faxes"),
    )
    logs = [(folder / f"worker-{workers}-{n}.log").open("wb") for n in range(workers)]
    processes = [
        subprocess.Popen(
            [webhooks._ivr_command(), "worker"],
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        for log in logs
    ]
    try:
        time.sleep(max((eight - Clock().now()).total_seconds(), 0) + 5)
        ended = _danger(database_url)
        deadline = time.monotonic() + args.calls / args.rate * 2 + 60
        while time.monotonic() < deadline:
            with twilio.lock:
                if len(twilio.requested) >= args.calls + 1:
                    break
            time.sleep(0.5)
        time.sleep(2)  # anything asked twice would come now
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        twilio.shutdown()
    return _report(workers, args, twilio.requested, ended)


def _report(
    workers: int, args: argparse.Namespace, requested: list[tuple[float, str, str]], ended: float
) -> bool:
    manager = [at for at, to, _ in requested if to == MANAGER]
    morning = [(at, job) for at, to, job in requested if to != MANAGER]
    jobs = [job for _, job in morning]
    twice = len(jobs) - len(set(jobs))
    times = sorted(at for at, _ in morning)
    per_second = max(
        (sum(1 for t in times[i:] if t < start + 1) for i, start in enumerate(times)), default=0
    )
    span = (times[-1] - times[0]) if len(times) > 1 else 0.0
    mean = (len(times) - 1) / span if span else 0.0
    danger = (manager[0] - ended) if manager else float("inf")
    ok = danger < 5 and len(set(jobs)) == args.calls and twice == 0 and per_second <= args.rate
    print(
        f"{workers} worker(s): manager's call requested {danger:.2f} s after the danger call "
        f"ended; morning calls {len(set(jobs))}/{args.calls}, asked twice {twice}; rate seen "
        f"max {per_second}/s in any second, mean {mean:.1f}/s (limit {args.rate:g}/s) "
        f"-> {'PASS' if ok else 'FAIL'}"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--agencies", type=int, default=170)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--postgresql", metavar="URL", default=None)
    args = parser.parse_args()
    print(
        f"{args.calls} next-morning calls over {args.agencies} agencies, Twilio answering in "
        f"{ANSWER_SECONDS * 1000:.0f} ms, {args.rate:g} calls/s, "
        f"{'PostgreSQL' if args.postgresql else 'SQLite'}"
    )
    with tempfile.TemporaryDirectory(prefix="ivr-bench-morning-") as name:
        folder = Path(name)
        results = []
        for workers in args.workers:
            (folder / f"w{workers}").mkdir()
            results.append(run(workers, args, folder))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
