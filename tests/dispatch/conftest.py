"""The dispatcher against a fake Twilio REST API (`responses`), every request checked
against Twilio's OpenAPI description (vendored in tests/schemas)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from ivr.composition import make_worker
from ivr.services.dispatch import Dispatcher, make_dispatcher
from ivr.services.worker import Worker
from ivr.simulator.phone import OutboundCall
from ivr.simulator.transports import FlaskTransport
from tests.conftest import AUTH_TOKEN, BASE_URL, sign

ACCOUNT = "AC" + "0" * 32
IVR_NUMBER = "+33199000000"
TWILIO = "https://api.twilio.com"


@pytest.fixture(scope="session")
def twilio_openapi():
    """Twilio's REST API description: every request the dispatcher sends is checked on it."""
    from openapi_core import OpenAPI

    path = Path(__file__).resolve().parents[1] / "schemas" / "twilio_api_v2010.json"
    return OpenAPI.from_dict(with_described_choices(json.loads(path.read_text(encoding="utf-8"))))


# "Can be: `Enable` or `DetectMessageEnd`." (the description's list, up to its first period,
# maybe followed by "and the default is `...`"): values only, nothing else in between.
_CHOICES = re.compile(
    r"Can be:\s*((?:`[^`]+`(?:,? (?:or|and) |, )?)+)(?: and the default is `[^`]+`)?\."
)


def with_described_choices(spec: dict) -> dict:
    """Twilio's description gives many form fields' values in words only ("Can be: `Enable`
    or `DetectMessageEnd`"), which no validator reads: made an `enum` of the field, so a
    value Twilio would refuse (error 21234 for MachineDetection) fails here too."""
    for operations in spec["paths"].values():
        for operation in operations.values():
            body = operation.get("requestBody", {}) if isinstance(operation, dict) else {}
            for content in body.get("content", {}).values():
                for field_ in content.get("schema", {}).get("properties", {}).values():
                    found = _CHOICES.search(field_.get("description", ""))
                    if not found:
                        continue
                    values = re.findall(r"`([^`]+)`", found.group(1))
                    if field_.get("type") == "string" and "enum" not in field_:
                        field_["enum"] = values
                    elif field_.get("type") == "array" and "enum" not in field_.get("items", {}):
                        field_.setdefault("items", {"type": "string"})["enum"] = values
    return spec


@dataclass
class FakeTwilio:
    """Twilio's Calls, Messages and Recordings, as far as the worker uses them."""

    openapi: object
    calls: list[dict[str, str]] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)
    statuses: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    deleted_recordings: list[str] = field(default_factory=list)
    recordings: list[dict[str, str]] = field(default_factory=list)  # made: `recording(...)`
    failures: list[int] = field(default_factory=list)  # next answers to give instead
    lookup_failures: list[int] = field(default_factory=list)  # the same, to a call's lookup
    listing_failures: list[int] = field(default_factory=list)  # the same, to recordings' list
    mock: responses.RequestsMock | None = None  # to fake other providers beside (fax)
    on_call: object = None  # called with each call placed, before Twilio answers

    def _check(self, request) -> None:
        from openapi_core.contrib.requests import RequestsOpenAPIRequest

        self.openapi.validate_request(RequestsOpenAPIRequest(request))  # type: ignore[attr-defined]

    def _failure(self):
        if self.failures:
            return (self.failures.pop(0), {}, json.dumps({"code": 20500, "message": "down"}))
        return None

    def create_call(self, request):
        self._check(request)
        if failed := self._failure():
            return failed
        form = dict(parse_qsl(request.body))
        sid = f"CA{len(self.calls) + 1:032d}"
        self.calls.append({**form, "Sid": sid})
        self.statuses[sid] = ("queued", None)
        if callable(self.on_call):
            self.on_call(self.calls[-1])
        return (201, {}, json.dumps({"sid": sid, "status": "queued", "to": form["To"]}))

    def fetch_call(self, request):
        self._check(request)
        if self.lookup_failures:
            status = self.lookup_failures.pop(0)
            return (status, {}, json.dumps({"code": 20500, "message": "down"}))
        sid = urlsplit(request.url).path.rsplit("/", 1)[1].removesuffix(".json")
        status, answered_by = self.statuses.get(sid, ("completed", None))
        return (200, {}, json.dumps({"sid": sid, "status": status, "answered_by": answered_by}))

    def list_calls(self, request):
        self._check(request)
        query = dict(parse_qsl(urlsplit(request.url).query))
        found = [c for c in self.calls if c["To"] == query.get("To")]
        page = [{"sid": c["Sid"], "status": "completed", "to": c["To"]} for c in found[-1:]]
        return (200, {}, json.dumps({"calls": page, "next_page_uri": None, "page": 0}))

    def list_messages(self, request):
        self._check(request)
        query = dict(parse_qsl(urlsplit(request.url).query))
        found = [m for m in self.messages if m["To"] == query.get("To")]
        page = [{"sid": m["Sid"], "to": m["To"]} for m in found[-1:]]
        return (200, {}, json.dumps({"messages": page, "next_page_uri": None, "page": 0}))

    def delete_recording(self, request):
        self._check(request)
        if failed := self._failure():
            return failed
        sid = urlsplit(request.url).path.rsplit("/", 1)[1].removesuffix(".json")
        if sid in self.deleted_recordings:
            return (404, {}, json.dumps({"code": 20404, "message": "not found", "status": 404}))
        self.deleted_recordings.append(sid)
        return (204, {}, "")

    def recording(self, sid: str, call_sid: str, made: datetime, **fields: str) -> None:
        """A recording Twilio made (by default, a caller's 30 s message), as it lists it."""
        self.recordings.append(
            {
                "sid": sid,
                "call_sid": call_sid,
                "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid}.json",
                "duration": "30",
                "status": "completed",
                "source": "RecordVerb",
                "date_created": format_datetime(made.astimezone(UTC), usegmt=True),
                **fields,
            }
        )

    def list_recordings(self, request):
        """Twilio filters by day (`DateCreated>`): the recordings made that day or after."""
        self._check(request)
        if self.listing_failures:
            status = self.listing_failures.pop(0)
            return (status, {}, json.dumps({"code": 20500, "message": "down"}))
        query = dict(parse_qsl(urlsplit(request.url).query))
        after = datetime.fromisoformat(query["DateCreated>"]).date()
        page = [
            r
            for r in self.recordings
            if r["sid"] not in self.deleted_recordings
            and parsedate_to_datetime(r["date_created"]).date() >= after
        ]
        return (200, {}, json.dumps({"recordings": page, "next_page_uri": None, "page": 0}))

    def create_message(self, request):
        self._check(request)
        if failed := self._failure():
            return failed
        form = dict(parse_qsl(request.body))
        sid = f"SM{len(self.messages) + 1:032d}"
        self.messages.append({**form, "Sid": sid})
        return (201, {}, json.dumps({"sid": sid, "status": "queued"}))


@pytest.fixture
def fake_twilio(twilio_openapi) -> Iterator[FakeTwilio]:
    fake = FakeTwilio(twilio_openapi)
    base = f"{TWILIO}/2010-04-01/Accounts/{ACCOUNT}"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.mock = mock
        mock.add_callback(responses.POST, f"{base}/Calls.json", fake.create_call)
        mock.add_callback(responses.GET, re.compile(rf"{base}/Calls/CA\w+\.json"), fake.fetch_call)
        mock.add_callback(responses.GET, re.compile(rf"{base}/Calls\.json.*"), fake.list_calls)
        mock.add_callback(responses.POST, f"{base}/Messages.json", fake.create_message)
        mock.add_callback(
            responses.GET, re.compile(rf"{base}/Messages\.json.*"), fake.list_messages
        )
        mock.add_callback(
            responses.DELETE, re.compile(rf"{base}/Recordings/RE\w+\.json"), fake.delete_recording
        )
        mock.add_callback(
            responses.GET, re.compile(rf"{base}/Recordings\.json.*"), fake.list_recordings
        )
        yield fake


@dataclass
class Night:
    """The web app and the worker of one night, on the same database and clock."""

    app: object
    dispatcher: Dispatcher
    worker: Worker
    faxes: Path

    def run_worker(self) -> int:
        return self.worker.run_due()

    def later(self, **delta: float) -> None:
        from datetime import timedelta

        self.dispatcher.clock.jump_to(self.dispatcher.clock.now() + timedelta(**delta))

    def pick_up(self, placed: dict[str, str]) -> OutboundCall:
        """The phone the dispatcher called rings: its call, from the callee's side (TwiML
        checked against Twilio's schema)."""
        from ivr.simulator.twiml_schema import validate

        return OutboundCall(
            FlaskTransport(self.app),  # type: ignore[arg-type]
            AUTH_TOKEN,
            placed,
            placed["Sid"],
            ACCOUNT,
            validate,
            started_at=self.dispatcher.clock.now(),
        )

    def twilio_posts(self, path: str, **params: str) -> tuple[int, str]:
        """Twilio posting to one of the app's URLs (signed), for our account, about the call
        it placed for the job the URL names (else a call of its own, unless `CallSid` is
        given)."""
        from urllib.parse import parse_qs, urlsplit

        from ivr.adapters.orm import JobRow
        from ivr.simulator.twiml import new_sid

        job = parse_qs(urlsplit(path).query).get("job")
        with self.app.extensions["ivr.db"].snapshot() as session:  # type: ignore[attr-defined]
            placed = session.get(JobRow, int(job[0])).provider_ref if job else None
        params = {"AccountSid": ACCOUNT, "CallSid": placed or new_sid("CA"), **params}
        url = BASE_URL + path
        client = self.app.test_client()  # type: ignore[attr-defined]
        answer = client.post(
            path, data=params, headers={"X-Twilio-Signature": sign(url, params, AUTH_TOKEN)}
        )
        return answer.status_code, answer.get_data(as_text=True)


@pytest.fixture
def night(make_app, demo, tmp_path, fake_twilio):
    """`night(at=...)`: the app and a worker at that instant, Twilio faked, faxes to a folder."""

    def build(at: str = "2026-12-22T23:00", **settings: object) -> Night:
        faxes = tmp_path / "faxes"
        defaults = {
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "IVR_CALLER_ID": IVR_NUMBER,
            "FAX_FOLDER": faxes,
            "TWILIO_API_BASE_URL": TWILIO,
        }
        app = make_app(at=at, **{**defaults, **settings})
        # One clock for the app and the worker, as two processes started with one IVR_CLOCK.
        dispatcher = make_dispatcher(
            demo, app.extensions["ivr.settings"], app.extensions["ivr.clock"]
        )
        return Night(app, dispatcher, make_worker(dispatcher), faxes)

    return build


from tests.unit.test_fax import gateway  # noqa: E402, F401 (a mail server on loopback: alerts)
