"""Twilio's REST API as the dispatcher uses it, served on loopback: Calls (create, fetch,
list), Messages (create, list) and Recordings (list). For the tests and the demo, never for
production: point `TWILIO_API_BASE_URL` at `serve()`'s URL. Calls it is asked to place are
only recorded; their outcome is what `statuses` says (a test, or the simulator's page, sets
it)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from flask import Blueprint, Flask, jsonify, request
from werkzeug.serving import make_server

from ivr.clock import Clock


@dataclass
class FakeTwilioRest:
    calls: list[dict[str, str]] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)
    statuses: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    # Cleared: a call request is recorded, then not answered until it is set (a provider that
    # accepted the call but whose answer never arrived).
    answering: threading.Event = field(default_factory=threading.Event)
    call_received: threading.Event = field(default_factory=threading.Event)
    # The time a message is created at, kept as Twilio's `DateCreated` (the demo: its clock).
    now: Callable[[], datetime] = field(default_factory=lambda: Clock().now)
    # The status of a call to the number that the demo's phones hold (None: not one of them).
    inbound: Callable[[str], str | None] = lambda sid: None
    # The recordings Twilio keeps: the messages the demo's phones left.
    recordings: Callable[[], list[dict[str, str]]] = lambda: []

    def __post_init__(self) -> None:
        self.answering.set()
        self._lock = threading.Lock()  # the server answers requests in threads

    def app(self) -> Flask:
        app = Flask(__name__)
        app.register_blueprint(self.blueprint("fake_twilio", ""))
        return app

    def blueprint(self, name: str, prefix: str) -> Blueprint:
        """The API's routes, to serve under `prefix` (the demo's web app serves them itself)."""
        app = Blueprint(name, __name__, url_prefix=prefix or None)
        base = "/2010-04-01/Accounts/<account>"

        @app.post(f"{base}/Calls.json")
        def create_call(account: str) -> Any:
            with self._lock:
                sid = f"CA{len(self.calls) + 1:032d}"
                self.calls.append({**request.form.to_dict(), "Sid": sid})
            self.statuses.setdefault(sid, ("queued", None))
            self.call_received.set()
            self.answering.wait()
            return jsonify(sid=sid, status="queued", to=request.form["To"]), 201

        @app.get(f"{base}/Calls/<sid>.json")
        def fetch_call(account: str, sid: str) -> Any:
            inbound = self.inbound(sid)
            status, answered_by = (
                (inbound, None) if inbound else self.statuses.get(sid, ("completed", None))
            )
            return jsonify(sid=sid, status=status, answered_by=answered_by)

        @app.get(f"{base}/Calls.json")
        def list_calls(account: str) -> Any:
            found = [c for c in self.calls if c["To"] == request.args.get("To")]
            page = [{"sid": c["Sid"], "to": c["To"]} for c in found[-1:]]
            return jsonify(calls=page, next_page_uri=None, page=0)

        @app.get(f"{base}/Messages.json")
        def list_messages(account: str) -> Any:
            found = [m for m in self.messages if m["To"] == request.args.get("To")]
            page = [{"sid": m["Sid"], "to": m["To"]} for m in found[-1:]]
            return jsonify(messages=page, next_page_uri=None, page=0)

        @app.get(f"{base}/Recordings.json")
        def list_recordings(account: str) -> Any:
            after = datetime.fromisoformat(request.args["DateCreated>"]).date()
            page = [
                r
                for r in self.recordings()
                if parsedate_to_datetime(r["date_created"]).date() >= after
            ]
            return jsonify(recordings=page, next_page_uri=None, page=0)

        @app.post(f"{base}/Messages.json")
        def create_message(account: str) -> Any:
            with self._lock:
                sid = f"SM{len(self.messages) + 1:032d}"
                created = format_datetime(self.now().astimezone(UTC), usegmt=True)
                self.messages.append({**request.form.to_dict(), "Sid": sid, "DateCreated": created})
            return jsonify(sid=sid, status="queued"), 201

        return app

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve on a free loopback port, in a thread; yields the base URL."""
        server = make_server("127.0.0.1", 0, self.app(), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            self.answering.set()
            server.shutdown()
            thread.join(timeout=5)
