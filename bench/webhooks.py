"""Benchmark of Twilio's webhooks (docs/performance.md, "Webhooks").

    .venv/bin/python bench/webhooks.py [--seconds 20] [--warmup 3] [--connections 16]

1. makes a temporary SQLite database with the `ivr` command, as an operator would:
   `ivr db upgrade`, `ivr import directory config/demo`, `ivr import clients
   config/demo/clients.csv`;
2. **the first webhook of a fresh worker**, `--fresh` times: starts `ivr serve --workers 1`,
   waits for its worker to say it is ready (its log: "worker ready"), then times the first
   call's first request (POST /twilio/voice) and the call's second (the contract number);
3. starts a **bare** Flask app that answers every POST with a fixed TwiML
   (`<Response><Say>Bonjour</Say></Response>`), under the very gunicorn set-up of `ivr serve`
   (`ivr.web.server.run`, with only the app swapped: gthread, 4 threads a worker, access log
   on stdout), and `ivr serve`, both `--workers 2`, with TWILIO_AUTH_TOKEN=bench-token,
   PUBLIC_BASE_URL=http://127.0.0.1:PORT and IVR_CLOCK=2026-12-22T23:00:00 (a Tuesday night:
   the collective client 10000002 of agency 0751 is inside an on-call window);
4. loads them in turn, `--rounds` slices each (order reversed every other round), so that the
   drift of a shared machine's speed weighs on both alike; stops them;
5. prints requests/s, the ratio ivr/bare, p50/p95/p99 latency, the first webhooks' times, the
   answers that were not 200/204 or not the expected TwiML, and PASS/FAIL against the
   targets: p99 under 100 ms, at least 0.15x the bare app's requests/s, the first webhook of
   a fresh worker under 300 ms, every answer right. The exit status is 1 on FAIL.

The load: `--connections` threads, each with its own keep-alive `http.client` connection
(with `--spread N`, N connections used in turn, so that the turns of a call reach the workers
as the accepts fell rather than always the one that answered the previous turn), each
replaying whole calls, one request after the other, signed as Twilio signs them
(X-Twilio-Signature over the full URL and the POST parameters). A call to ivr: POST
/twilio/voice from a number no client has, then the action URL of each answer: the
`<Gather>`s are answered 10000002 (identify), 1 (confirm_identity), 1 (confirm_details),
1 (ask_fault), nothing (ask_description); each `<Dial>` (one for each
technician of the on-call window: two) is answered DialCallStatus=no-answer until the flow offers
a `<Record>`, answered RecordingDuration=0; the flow then says goodbye and hangs up; last, a
status callback CallStatus=completed, SequenceNumber=0. The same client calling again on
every call, each call after its connection's first is told of the request in progress (by
its number, before identify): it answers 3, another request, and goes on at confirm_details.
Every answer is checked: 200 and a
TwiML `<Response>` (204 for the status callback) on the expected step. The bare app gets
the same requests, with the same bodies and signatures, posted to `/`.

Only requests sent after the warm-up and answered before the end of the measured window
count (the "calls" column counts the calls replayed to the end, warm-ups included). The
servers listen on 127.0.0.1 only, and are stopped at the end, also on error, Ctrl-C or
SIGTERM.
"""

from __future__ import annotations

import argparse
import html
import http.client
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response
from sqlalchemy import create_engine, text
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "config" / "demo"
TOKEN = "bench-token"
CLOCK = "2026-12-22T23:00:00"  # Tuesday night: client 10000002 (agency 0751) is on call
MIN_RATIO = 0.15  # ivr requests/s over bare requests/s
MAX_P99_MS = 100.0
MAX_FIRST_MS = 300.0  # the first webhook a freshly started worker answers
BARE_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Bonjour</Say></Response>'

# The caller's keys, one for each question, and the step each answers.
ANSWERS = (
    ("identify", "10000002"),
    ("confirm_identity", "1"),
    ("confirm_details", "1"),
    ("ask_fault", "1"),
    ("ask_description", ""),
)
# Told of their request in progress (the same client calls again, and again): another one.
KEYS = {**dict(ANSWERS), "in_progress": "3"}
MAX_DIALS = 5  # the on-call window of agency 0751 has two technicians: two dials
CALLER = "+33639989{:03d}"  # fiction numbers (ARCEP) that no demo client has
IVR_NUMBER = "+33199000000"
ACTION = re.compile(r'<(Gather|Dial|Record)\b[^>]*?\baction="([^"]*)"')
STEP = re.compile(r"/twilio/voice/step/([a-z_]+)")


# --- The bare app -------------------------------------------------------------------------

bare_app = Flask("bare")


@bare_app.route("/", methods=["GET", "POST"])
def _bare() -> Response:
    return Response(BARE_TWIML, mimetype="application/xml")


def serve_bare(bind: str, workers: int, threads: int) -> None:
    """`ivr serve`'s gunicorn, options and all, serving `bare_app` instead of the IVR."""
    from ivr.web import server

    server.run(lambda: bare_app, bind=bind, workers=workers, threads=threads)


# --- Servers ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(base_url: str, database_url: str) -> dict[str, str]:
    from ivr.settings import Settings

    env = dict(os.environ)
    for name in Settings.model_fields:  # nothing of the caller's own environment
        env.pop(name, None)
    env.update(
        DATABASE_URL=database_url,
        TWILIO_AUTH_TOKEN=TOKEN,
        PUBLIC_BASE_URL=base_url,
        IVR_CLOCK=CLOCK,
        NATIONAL_DUTY_NUMBER="+33199009999",
        PYTHONUNBUFFERED="1",
    )
    return env


def _ivr_command() -> str:
    beside = Path(sys.executable).with_name("ivr")
    return str(beside) if beside.exists() else (shutil.which("ivr") or "ivr")


class Server:
    """A gunicorn master in its own process group: started, waited for, stopped."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, log: Path):
        self.name = name
        self.port = port
        self.log = log
        self._file = log.open("wb")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def workers(self) -> list[int]:
        pid = self.process.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def wait_logged(self, text: str, times: int = 1, timeout: float = 60.0) -> None:
        """Until the server's log says `text`, `times` times."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.tail()}")
            self._file.flush()
            if self.log.read_text(errors="replace").count(text) >= times:
                return
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} never logged {text!r}:\n{self.tail()}")

    def wait_ready(self, path: str, workers: int, timeout: float = 60.0) -> None:
        """Until `workers` workers run and the server answers `path` (any status)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.tail()}")
            if len(self.workers()) >= workers:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                    conn.request("GET", path)
                    conn.getresponse().read()
                    conn.close()
                    return
                except OSError:
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s:\n{self.tail()}")

    def cpu_seconds(self) -> dict[int, float]:
        """User + system CPU so far of the master and of each worker, by pid."""
        tick = os.sysconf("SC_CLK_TCK")
        used = {}
        for pid in [self.process.pid, *self.workers()]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            used[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return used

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)  # the group this script created
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
            except ProcessLookupError:
                pass
        self._file.close()

    def errors(self) -> int:
        """Lines of the server's log that tell of an error (the app logs alerts as ERROR)."""
        if not self._file.closed:
            self._file.flush()
        text = self.log.read_text(errors="replace")
        return len(re.findall(r"\bERROR\b|\[CRITICAL\]|Traceback|WORKER TIMEOUT", text))

    def tail(self, lines: int = 30) -> str:
        if not self._file.closed:
            self._file.flush()
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


# --- Load ---------------------------------------------------------------------------------


def _busy_cores_seconds() -> float:
    """CPU seconds used so far by everything on the machine (/proc/stat), all cores."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    start: float
    seconds: float
    status: int


@dataclass
class Tally:
    """One connection's requests, and what went wrong."""

    samples: list[Sample] = field(default_factory=list)
    calls: int = 0
    reconnects: int = 0
    problems: list[str] = field(default_factory=list)
    bad_answers: int = 0  # not 200/204, or not TwiML where TwiML is expected
    flow_errors: int = 0  # a TwiML, but not the step the call should be at


class CallFailed(Exception):
    """The call cannot go on (the answer says where it went wrong)."""


def _caller_params(sid: str, caller: str) -> dict[str, str]:
    """What Twilio posts with every webhook of an inbound call."""
    return {
        "AccountSid": "AC" + "0" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "CallStatus": "in-progress",
        "Called": IVR_NUMBER,
        "CalledCountry": "FR",
        "Caller": caller,
        "CallerCountry": "FR",
        "Direction": "inbound",
        "From": caller,
        "FromCountry": "FR",
        "To": IVR_NUMBER,
        "ToCountry": "FR",
    }


class Client:
    """One keep-alive connection replaying calls against one server."""

    def __init__(
        self, port: int, base_url: str, kind: str, index: int, tally: Tally, spread: int = 1
    ):
        self.port = port
        self.base_url = base_url
        self.bare = kind == "bare"  # the bare app answers the same TwiML every time
        self.caller = CALLER.format(index)
        self.tally = tally
        self.validator = RequestValidator(TOKEN)
        # With `spread` > 1, each request goes on the next of `spread` connections, so that the
        # turns of a call reach the server's workers as the accepts fell, not always the same.
        self.conns = [
            http.client.HTTPConnection("127.0.0.1", port, timeout=15) for _ in range(spread)
        ]
        self.sent = 0

    def close(self) -> None:
        for conn in self.conns:
            conn.close()

    def post(self, url: str, params: dict[str, str]) -> tuple[int, str]:
        body = urlencode(params)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": self.validator.compute_signature(url, params),
            "User-Agent": "TwilioProxy/1.1",
        }
        parts = urlsplit(url)
        target = "/" if self.bare else parts.path + (f"?{parts.query}" if parts.query else "")
        conn = self.conns[self.sent % len(self.conns)]
        self.sent += 1
        for attempt in (0, 1):
            start = time.perf_counter()
            try:
                conn.request("POST", target, body, headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                # The server closed an idle keep-alive connection before reading the request.
                conn.close()
                self.tally.reconnects += 1
                if attempt:
                    raise
                continue
            self.tally.samples.append(Sample(start, time.perf_counter() - start, response.status))
            return response.status, data.decode("utf-8", "replace")
        raise AssertionError("unreachable")

    def _twiml(self, status: int, text: str, where: str) -> str:
        if status != 200:
            self.tally.bad_answers += 1
            raise CallFailed(f"{where}: HTTP {status}")
        try:
            root = ET.fromstring(text)
        except ET.ParseError:
            self.tally.bad_answers += 1
            raise CallFailed(f"{where}: not XML: {text[:120]!r}") from None
        if root.tag != "Response":
            self.tally.bad_answers += 1
            raise CallFailed(f"{where}: <{root.tag}> is not a TwiML <Response>")
        return text

    def _next(self, text: str, verb: str, step: str, where: str) -> str:
        """The action URL of the answer's `verb`, which must lead to `step`."""
        found = ACTION.search(text)
        if self.bare:
            return f"{self.base_url}/twilio/voice/step/{step}?turn=0"
        named = STEP.search(html.unescape(found.group(2))) if found else None
        if found is None or found.group(1) != verb or named is None or named.group(1) != step:
            self.tally.flow_errors += 1
            raise CallFailed(f"{where}: expected <{verb}> to {step}, got {text[:300]!r}")
        return html.unescape(found.group(2))

    def _question(self, text: str, asked: int) -> str | None:
        """The step of the question the answer asks, None when it asks none (a dial): the
        bare app is asked the caller's questions in order."""
        if self.bare:
            return ANSWERS[asked][0] if asked < len(ANSWERS) else None
        found = ACTION.search(text)
        named = STEP.search(html.unescape(found.group(2))) if found else None
        if found is None or found.group(1) != "Gather" or named is None:
            return None
        if named.group(1) not in KEYS:
            self.tally.flow_errors += 1
            raise CallFailed(f"asked {named.group(1)}, which the caller cannot answer")
        return named.group(1)

    def call(self) -> None:
        sid = "CA" + uuid.uuid4().hex
        common = _caller_params(sid, self.caller)
        url = f"{self.base_url}/twilio/voice"
        status, text = self.post(url, {**common, "CallStatus": "ringing"})
        where = "voice"
        for asked in range(len(ANSWERS) + 1):  # the questions; told of a request, one more
            self._twiml(status, text, where)
            step = self._question(text, asked)
            if step is None:
                break
            url = self._next(text, "Gather", step, where)
            gathered = {"Digits": KEYS[step], "FinishedOnKey": "", "msg": "Gather End"}
            status, text = self.post(url, {**common, **gathered})
            where = step
        for dial in range(MAX_DIALS):
            self._twiml(status, text, where)
            if (self.bare and dial == 2) or (not self.bare and "<Record" in text):
                break
            url = self._next(text, "Dial", "dialed", where)
            dialed = {"DialCallStatus": "no-answer", "DialCallSid": "CA" + uuid.uuid4().hex}
            status, text = self.post(url, {**common, **dialed, "DialBridged": "false"})
            where = f"dial {dial + 1}"
        url = self._next(text, "Record", "message_recorded", where)
        status, text = self.post(url, {**common, "RecordingDuration": "0"})
        self._twiml(status, text, "message_recorded")
        if not self.bare and "<Hangup" not in text:
            self.tally.flow_errors += 1
            raise CallFailed(f"message_recorded: no <Hangup/> in {text[:300]!r}")
        ended = {"CallStatus": "completed", "CallDuration": "95", "SequenceNumber": "0"}
        status, _ = self.post(f"{self.base_url}/twilio/status", {**common, **ended})
        if status != (200 if self.bare else 204):
            self.tally.bad_answers += 1
            raise CallFailed(f"status callback: HTTP {status}")
        self.tally.calls += 1


@dataclass
class Result:
    name: str
    seconds: float
    samples: list[Sample]
    calls: int
    reconnects: int
    bad_answers: int
    flow_errors: int
    problems: list[str]
    worker_cpu: dict[int, float]  # seconds of CPU of each worker (by pid) over the window
    load_cpu: float
    machine_cpu: float  # seconds of CPU of the whole machine over the window

    def merge(self, other: Result) -> Result:
        """This result and a later slice of load on the same server, as one."""
        return Result(
            self.name,
            self.seconds + other.seconds,
            self.samples + other.samples,
            self.calls + other.calls,
            self.reconnects + other.reconnects,
            self.bad_answers + other.bad_answers,
            self.flow_errors + other.flow_errors,
            self.problems + other.problems,
            # By pid: a worker that gunicorn started again in between counts on its own.
            {
                pid: self.worker_cpu.get(pid, 0.0) + other.worker_cpu.get(pid, 0.0)
                for pid in self.worker_cpu | other.worker_cpu
            },
            self.load_cpu + other.load_cpu,
            self.machine_cpu + other.machine_cpu,
        )

    @property
    def other_cpu(self) -> float:
        """CPU that neither the server nor this script used: other processes."""
        return max(0.0, self.machine_cpu - self.server_cpu - self.load_cpu)

    @property
    def server_cpu(self) -> float:
        return sum(self.worker_cpu.values())

    @property
    def rps(self) -> float:
        return len(self.samples) / self.seconds

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(s.seconds for s in self.samples)
        if not ordered:
            return math.nan
        return 1000 * ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    @property
    def not_ok(self) -> int:
        return sum(s.status not in (200, 204) for s in self.samples)


def load(
    server: Server,
    connections: int,
    warmup: float,
    seconds: float,
    max_calls: int,
    spread: int = 1,
) -> Result:
    """Replay calls from `connections` threads for `warmup` + `seconds` seconds, each on
    `spread` connections in turn."""
    base_url = f"http://127.0.0.1:{server.port}"
    tallies = [Tally() for _ in range(connections)]
    stop = threading.Event()
    calls_left = [max_calls]
    lock = threading.Lock()

    def run(index: int) -> None:
        tally = tallies[index]
        client = Client(server.port, base_url, server.name, index, tally, spread)
        while not stop.is_set():
            with lock:
                if calls_left[0] <= 0:
                    return
                calls_left[0] -= 1
            try:
                client.call()
            except CallFailed as error:
                tally.problems.append(str(error))
            except Exception as error:  # counted, and the connection opened again
                tally.bad_answers += 1
                tally.problems.append(f"{type(error).__name__}: {error}")
                client.close()
            if len(tally.problems) > 20:
                return
        client.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    time.sleep(warmup)
    cpu0, load0, t0 = server.cpu_seconds(), sum(os.times()[:2]), time.perf_counter()
    machine0 = _busy_cores_seconds()
    time.sleep(seconds)
    cpu1, load1, t1 = server.cpu_seconds(), sum(os.times()[:2]), time.perf_counter()
    machine1 = _busy_cores_seconds()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    measured = [
        s for t in tallies for s in t.samples if s.start >= t0 and s.start + s.seconds <= t1
    ]
    return Result(
        name=server.name,
        seconds=t1 - t0,
        samples=measured,
        calls=sum(t.calls for t in tallies),
        reconnects=sum(t.reconnects for t in tallies),
        bad_answers=sum(t.bad_answers for t in tallies),
        flow_errors=sum(t.flow_errors for t in tallies),
        problems=[p for t in tallies for p in t.problems],
        worker_cpu={
            pid: cpu1[pid] - cpu0.get(pid, 0.0) for pid in sorted(cpu1) if pid != server.process.pid
        },
        load_cpu=load1 - load0,
        machine_cpu=machine1 - machine0,
    )


def first_webhooks(
    start: Callable[..., Server], n: int, servers: list[Server]
) -> tuple[float, float]:
    """A fresh `ivr serve` of one worker: once the worker says it is ready, the seconds its
    first webhook takes (a call comes in), then the call's second (its contract number)."""
    server = start(_free_port(), workers=1, log=f"fresh-{n}.log")
    servers.append(server)
    try:
        server.wait_logged("worker ready")
        tally = Tally()
        client = Client(server.port, f"http://127.0.0.1:{server.port}", "ivr", 900 + n, tally)
        common = _caller_params("CA" + uuid.uuid4().hex, client.caller)
        status, text = client.post(f"{client.base_url}/twilio/voice", common)
        url = client._next(client._twiml(status, text, "voice"), "Gather", "identify", "voice")
        client._twiml(*client.post(url, {**common, "Digits": "10000002"}), "identify")
        client.close()
        return tally.samples[0].seconds, tally.samples[1].seconds
    finally:
        server.stop()
        servers.remove(server)


# --- The run ------------------------------------------------------------------------------


def _run(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")


def _prepare_database(folder: Path, postgresql: str | None) -> str:
    """A fresh database: an SQLite file in `folder`, or a schema of its own in the PostgreSQL
    database `postgresql` (dropped at the end)."""
    url = f"sqlite:///{folder / 'bench.sqlite3'}"
    if postgresql:
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        with _engine(postgresql).begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{postgresql}{'&' if '?' in postgresql else '?'}options=-csearch_path%3D{schema}"
    env = _server_env("http://127.0.0.1:8000", url)
    ivr = _ivr_command()
    _run([ivr, "db", "upgrade"], env)
    _run([ivr, "import", "directory", str(DEMO)], env)
    _run([ivr, "import", "clients", str(DEMO / "clients.csv")], env)
    return url


def _start(
    name: str, start: Callable[[int], Server], ready_path: str, workers: int, servers: list[Server]
) -> Server:
    server = start(_free_port())
    servers.append(server)
    server.wait_ready(ready_path, workers)
    return server


def _measure_interleaved(servers: list[Server], args: argparse.Namespace) -> dict[str, Result]:
    """The servers loaded in turn, `--rounds` slices each, so that a change of the machine's
    speed during the run (a shared VM's CPU can vary by a third within seconds) weighs on
    all alike: the order reversed every other round, each slice after its own short warm-up
    (new connections)."""
    results: dict[str, Result] = {}
    slice_seconds = args.seconds / args.rounds
    for round_ in range(args.rounds):
        for server in servers if round_ % 2 == 0 else servers[::-1]:
            done = results.get(server.name)
            warmup = args.warmup if done is None else min(args.warmup, 0.5)
            calls_left = args.max_calls - (done.calls if done else 0)
            print(f"{server.name}: loading 127.0.0.1:{server.port} ...", flush=True)
            part = load(server, args.connections, warmup, slice_seconds, calls_left, args.spread)
            results[server.name] = part if done is None else done.merge(part)
    return results


def _engine(url: str) -> Any:
    from ivr.settings import Settings

    return create_engine(Settings(DATABASE_URL=url).DATABASE_URL)


def _database_facts(database_url: str) -> tuple[int, int, int]:
    """Calls stored, calls ended, alerts raised."""
    engine = _engine(database_url)
    with engine.connect() as db:
        calls = db.execute(text("SELECT count(*) FROM calls")).scalar_one()
        ended = db.execute(
            text("SELECT count(*) FROM calls WHERE ended_at IS NOT NULL")
        ).scalar_one()
        alerts = db.execute(text("SELECT count(*) FROM alerts")).scalar_one()
    engine.dispose()
    return calls, ended, alerts


def _drop_schema(database_url: str) -> None:
    schema = database_url.rsplit("search_path%3D", 1)[-1]
    engine = _engine(database_url.split("?")[0])
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def _report(
    results: dict[str, Result],
    firsts: list[tuple[float, float]],
    facts: tuple[int, int, int],
    log_errors: int,
) -> bool:
    bare, ivr = results["bare"], results["ivr"]
    first = max((f for f, _ in firsts), default=math.nan)
    stored, ended, alerts = facts
    ratio = ivr.rps / bare.rps if bare.rps else math.nan
    p99 = ivr.percentile_ms(0.99)
    print()
    print(
        f"{'':5} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'requests':>9} {'calls':>6} {'not 2xx':>7} {'bad':>4} {'flow':>4} "
        f"{'srv CPU ms/req':>14} {'load CPU ms/req':>15}"
    )
    for r in results.values():
        n = max(1, len(r.samples))
        print(
            f"{r.name:5} {r.rps:8.0f} {r.percentile_ms(0.5):8.1f} {r.percentile_ms(0.95):8.1f} "
            f"{r.percentile_ms(0.99):8.1f} {r.percentile_ms(1.0):8.1f} {len(r.samples):9d} "
            f"{r.calls:6d} {r.not_ok:7d} {r.bad_answers:4d} {r.flow_errors:4d} "
            f"{1000 * r.server_cpu / n:14.2f} {1000 * r.load_cpu / n:15.2f}"
        )
    print()
    for r in results.values():
        workers = " + ".join(f"{cpu / r.seconds:.2f}" for cpu in r.worker_cpu.values())
        print(
            f"{r.name}: CPU over the window, in cores: workers {workers}; "
            f"load generator {r.load_cpu / r.seconds:.2f}; other processes "
            f"{r.other_cpu / r.seconds:.2f} of {os.cpu_count()}"
        )
        if r.other_cpu / r.seconds > 0.1:
            print(f"  warning: other processes used the CPU during the {r.name} run")
    print(
        f"reconnects: bare {bare.reconnects}, ivr {ivr.reconnects}; ivr alerts stored: {alerts}, "
        f"errors in the ivr log: {log_errors}"
    )
    for r in results.values():
        for problem in r.problems[:5]:
            print(f"{r.name} problem: {problem}")
    print(
        "first webhook of a fresh worker, ms (then the call's second): "
        + ", ".join(f"{1000 * f:.0f} ({1000 * second:.0f})" for f, second in firsts)
    )
    checks = [
        (
            f"ivr first webhook of a fresh worker, slowest = {1000 * first:.0f} ms "
            f"(target < {MAX_FIRST_MS:.0f} ms)",
            1000 * first < MAX_FIRST_MS,
        ),
        (f"ivr/bare requests/s = {ratio:.2f} (target >= {MIN_RATIO})", ratio >= MIN_RATIO),
        (f"ivr p99 = {p99:.1f} ms (target < {MAX_P99_MS:.0f} ms)", p99 < MAX_P99_MS),
        (
            f"ivr answers not 200/204, not TwiML or off the flow: "
            f"{ivr.not_ok + ivr.bad_answers + ivr.flow_errors} (target 0)",
            ivr.not_ok + ivr.bad_answers + ivr.flow_errors == 0 and not ivr.problems,
        ),
        (
            f"ivr alerts stored, errors logged: {alerts}, {log_errors} (target 0)",
            alerts == 0 and log_errors == 0,
        ),
        (
            f"ivr calls replayed to the end {ivr.calls}, stored {stored}, ended {ended} "
            f"(ended = replayed)",
            ended == ivr.calls and stored >= ended,
        ),
        (
            f"bare answers not 200: {bare.not_ok + bare.bad_answers} (target 0)",
            bare.not_ok + bare.bad_answers == 0 and not bare.problems,
        ),
    ]
    print()
    for said, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {said}")
    passed = all(ok for _, ok in checks)
    print("\nPASS" if passed else "\nFAIL")
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured load, per app")
    parser.add_argument("--warmup", type=float, default=3.0, help="load before measuring")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--spread",
        type=int,
        default=1,
        help="connections per load thread, used in turn (a call's turns then reach any worker)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="slices of load, per app")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, both apps")
    parser.add_argument("--max-calls", type=int, default=100_000, help="calls per app, at most")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--postgresql",
        metavar="URL",
        help="run on this PostgreSQL database (a schema of its own) instead of an SQLite file",
    )
    parser.add_argument(
        "--fresh", type=int, default=5, help="fresh workers whose first webhook is timed"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="threads a worker, both apps (default: as `ivr serve` on the database: "
        "1 on SQLite, 4 on PostgreSQL)",
    )
    parser.add_argument("--serve-bare", metavar="BIND", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.threads = args.threads or (4 if args.postgresql else 1)
    if args.serve_bare:
        serve_bare(args.serve_bare, args.workers, args.threads)
        return 0
    if not (
        0 < args.seconds <= 600
        and 0 <= args.warmup <= 60
        and 1 <= args.connections <= 256
        and 1 <= args.rounds <= 50
        and 1 <= args.spread <= 8
        and 1 <= args.fresh <= 50
    ):
        parser.error(
            "--seconds in (0, 600], --warmup in [0, 60], --connections in [1, 256], "
            "--rounds in [1, 50], --spread in [1, 8], --fresh in [1, 50]"
        )

    # SIGTERM ends the run as Ctrl-C does: through the `finally` that stops the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    folder = Path(tempfile.mkdtemp(prefix="ivr-bench-webhooks-"))
    servers: list[Server] = []
    try:
        database_url = _prepare_database(folder, args.postgresql)
        print(
            f"{args.connections} connections"
            + (f" (x {args.spread}, used in turn)" if args.spread > 1 else "")
            + f", {args.workers} workers of {args.threads} thread(s) each, "
            f"{args.warmup:g} s warm-up + {args.seconds:g} s measured in {args.rounds} slices "
            f"each, in turn; {'PostgreSQL' if args.postgresql else 'SQLite'}; folder {folder}",
            flush=True,
        )

        def start_bare(port: int) -> Server:
            argv = [sys.executable, __file__, "--serve-bare", f"127.0.0.1:{port}"]
            argv += ["--workers", str(args.workers), "--threads", str(args.threads)]
            env = _server_env(f"http://127.0.0.1:{port}", database_url)
            return Server("bare", argv, env, port, folder / "bare.log")

        def start_ivr(port: int, workers: int = args.workers, log: str = "ivr.log") -> Server:
            argv = [_ivr_command(), "serve", "--bind", f"127.0.0.1:{port}"]
            argv += ["--workers", str(workers), "--threads", str(args.threads)]
            env = _server_env(f"http://127.0.0.1:{port}", database_url)
            return Server("ivr", argv, env, port, folder / log)

        firsts = [first_webhooks(start_ivr, n, servers) for n in range(args.fresh)]
        _start("bare", start_bare, "/", args.workers, servers)
        ivr_server = _start("ivr", start_ivr, "/healthz", args.workers, servers)
        results = _measure_interleaved(servers, args)
        for server in servers:
            server.stop()
        facts = _database_facts(database_url)
        log_errors = ivr_server.errors()
        passed = _report(results, firsts, facts, log_errors)
        if facts[2] or log_errors or results["ivr"].problems:
            print(f"\nlast lines of the ivr log ({ivr_server.log}):\n{ivr_server.tail(10)}")
        return 0 if passed else 1
    finally:
        for server in servers:
            server.stop()
        if args.postgresql and "database_url" in locals():
            _drop_schema(database_url)
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
