"""Summary sheets through a fax provider (Sinch, faked with `responses`): delivered once,
whatever the provider does meanwhile."""

from __future__ import annotations

import json
from datetime import timedelta

import responses

from ivr.adapters.fax import fax_callback_token
from ivr.adapters.orm import JobRow
from tests.dispatch.test_dispatcher import caller_call, jobs

SINCH = "https://fax.sinch.test"
FAXES = f"{SINCH}/v3/projects/P1/faxes"


def sinch_night(night, **settings):
    return night(
        **settings,
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


def test_the_providers_delivery_report_completes_the_sheet_or_sends_it_again(
    night, demo, fake_twilio
):
    n = sinch_night(night, SECRET_KEY="k" * 32)
    sent: list[bytes] = []

    def send(request):
        sent.append(request.body)
        return (200, {}, json.dumps({"id": f"FAX{len(sent)}", "status": "QUEUED"}))

    def status(request):
        return (200, {}, json.dumps({"status": "IN_PROGRESS"}))

    fake_twilio.mock.add_callback(responses.POST, FAXES, send)
    fake_twilio.mock.add_callback(responses.GET, f"{FAXES}/FAX1", status)
    fake_twilio.mock.add_callback(responses.GET, f"{FAXES}/FAX2", status)
    caller_call(n, "10000001", {})
    n.run_worker()
    token = fax_callback_token(n.app.extensions["ivr.settings"])
    assert f"/fax/status?token={token}".encode() in sent[0]  # the callback URL, given
    [sheet] = sheets(demo)
    assert (sheet.status, sheet.provider_ref) == ("waiting", "FAX1")

    client = n.app.test_client()
    report = {"event": "FAX_COMPLETED", "fax": {"id": "FAX1", "status": "FAILURE"}}
    assert client.post("/fax/status?token=wrong", json=report).status_code == 403
    assert client.post("/fax/status", json=report).status_code == 403
    assert sheets(demo)[0].provider_ref == "FAX1"  # refused: nothing changed
    assert client.post(f"/fax/status?token={token}", json=report).status_code == 204
    n.run_worker()
    assert len(sent) == 2  # sent again at once
    form = {"event": "FAX_COMPLETED", "fax": json.dumps({"id": "FAX2", "status": "COMPLETED"})}
    assert client.post(f"/fax/status?token={token}", data=form).status_code == 204
    [sheet] = sheets(demo)
    assert (sheet.status, sheet.outcome, sheet.provider_ref) == ("done", "delivered", "FAX2")
