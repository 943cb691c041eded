"""Summary sheets through a fax provider (Sinch, faked with `responses`): delivered once,
whatever the provider does meanwhile."""

from __future__ import annotations

import json
from datetime import timedelta

import responses

from ivr.adapters.orm import JobRow
from tests.dispatch.test_dispatcher import caller_call, jobs

SINCH = "https://fax.sinch.test"
FAXES = f"{SINCH}/v3/projects/P1/faxes"


def sinch_night(night):
    return night(
        FAX_TRANSPORT="http",
        FAX_HTTP_BASE_URL=SINCH,
        FAX_HTTP_PROJECT_ID="P1",
        FAX_HTTP_KEY_ID="key",
        FAX_HTTP_KEY_SECRET="secret",
    )


def sheets(db) -> list[JobRow]:
    return [j for j in jobs(db) if j.kind == "sheet"]


def test_the_fax_provider_down_for_an_hour_then_back_every_sheet_sent_once(
    night, demo, fake_twilio
):
    n = sinch_night(night)
    back_at = n.dispatcher.clock.now() + timedelta(hours=1)
    accepted: list[bytes] = []

    def send(request):
        if n.dispatcher.clock.now() < back_at:
            return (503, {}, json.dumps({"message": "maintenance"}))
        accepted.append(request.body)
        return (200, {}, json.dumps({"id": f"FAX{len(accepted)}", "status": "QUEUED"}))

    def status(request):
        return (200, {}, json.dumps({"id": "FAX1", "status": "COMPLETED"}))

    sinch = fake_twilio.mock
    sinch.add_callback(responses.POST, FAXES, send)
    sinch.add_callback(responses.GET, f"{FAXES}/FAX1", status)
    caller_call(n, "10000001", {})  # fax only: the sheet is all there is to do
    for _ in range(80):
        n.run_worker()
        n.later(minutes=1)
    n.run_worker()
    assert len(accepted) == 1
    assert b'name="to"' in accepted[0] and b"+33199001101" in accepted[0]
    [sheet] = sheets(demo)
    assert (sheet.status, sheet.outcome, sheet.provider_ref) == ("done", "delivered", "FAX1")
    assert sheet.attempts > 5 and "503" in (sheet.last_error or "")


def test_a_sheet_the_provider_could_not_deliver_is_sent_again(night, demo, fake_twilio):
    n = sinch_night(night)
    answers = iter(["FAILURE", "COMPLETED"])
    sent: list[str] = []

    def send(request):
        sent.append(f"FAX{len(sent) + 1}")
        return (200, {}, json.dumps({"id": sent[-1], "status": "QUEUED"}))

    def status(request):
        return (200, {}, json.dumps({"status": next(answers)}))

    sinch = fake_twilio.mock
    sinch.add_callback(responses.POST, FAXES, send)
    sinch.add_callback(responses.GET, f"{FAXES}/FAX1", status)
    sinch.add_callback(responses.GET, f"{FAXES}/FAX2", status)
    caller_call(n, "10000001", {})
    for _ in range(5):
        n.run_worker()
        n.later(minutes=2)
    assert sent == ["FAX1", "FAX2"]
    [sheet] = sheets(demo)
    assert (sheet.status, sheet.provider_ref) == ("done", "FAX2")
