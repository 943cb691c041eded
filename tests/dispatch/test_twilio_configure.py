"""`ivr twilio configure --number`: the number's webhooks set through Twilio's REST API
(faked with `responses`, every request checked against Twilio's OpenAPI description)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import responses
from click.testing import CliRunner

from ivr.cli import main
from tests.dispatch.conftest import ACCOUNT, TWILIO

NUMBERS = f"{TWILIO}/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers"
SID = "PN" + "1" * 32


def test_the_numbers_webhooks_point_at_the_public_url(database_url, fake_twilio):
    updates: list[dict[str, str]] = []

    def listing(request):
        fake_twilio._check(request)
        wanted = dict(parse_qsl(urlsplit(request.url).query)).get("PhoneNumber")
        found = [{"sid": SID, "phone_number": "+33970000000"}] if wanted == "+33970000000" else []
        return (200, {}, json.dumps({"incoming_phone_numbers": found, "next_page_uri": None}))

    def update(request):
        fake_twilio._check(request)
        form = dict(parse_qsl(request.body))
        updates.append(form)
        answer = {
            "sid": SID,
            "voice_url": form["VoiceUrl"],
            "voice_fallback_url": form["VoiceFallbackUrl"],
            "status_callback": form["StatusCallback"],
            "sms_url": form["SmsUrl"],
        }
        return (200, {}, json.dumps(answer))

    fake_twilio.mock.add_callback(responses.GET, f"{NUMBERS}.json", listing)
    fake_twilio.mock.add_callback(responses.POST, f"{NUMBERS}/{SID}.json", update)
    env = {
        "DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": "token",
        "PUBLIC_BASE_URL": "https://astreinte.example.fr",
    }
    result = CliRunner().invoke(
        main, ["twilio", "configure", "--number", "09 70 00 00 00"], env=env
    )
    assert result.exit_code == 0, result.output
    [form] = updates
    assert form["VoiceUrl"] == "https://astreinte.example.fr/twilio/voice"
    assert form["VoiceFallbackUrl"] == "https://astreinte.example.fr/twilio/voice/fallback"
    assert form["StatusCallback"] == "https://astreinte.example.fr/twilio/status"
    assert form["SmsUrl"] == "https://astreinte.example.fr/twilio/sms"  # a client's STOP
    assert form["VoiceMethod"] == form["StatusCallbackMethod"] == form["SmsMethod"] == "POST"
    assert "POST https://astreinte.example.fr/twilio/voice" in result.output

    other = CliRunner().invoke(main, ["twilio", "configure", "--number", "+33970000001"], env=env)
    assert other.exit_code == 1 and "not a number of this Twilio account" in other.output
    bad = CliRunner().invoke(main, ["twilio", "configure", "--number", "12"], env=env)
    assert bad.exit_code == 2


def test_a_listing_twilio_refuses_or_garbles_is_said_in_one_line(database_url, fake_twilio):
    env = {
        "DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": "wrong",
        "PUBLIC_BASE_URL": "https://astreinte.example.fr",
    }
    refused = json.dumps({"code": 20003, "message": "Authenticate", "status": 401})
    fake_twilio.mock.add(responses.GET, f"{NUMBERS}.json", body=refused, status=401)
    result = CliRunner().invoke(main, ["twilio", "configure", "--number", "+33970000000"], env=env)
    assert result.exit_code == 1 and "Twilio refused our credentials (401)" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    fake_twilio.mock.replace(responses.GET, f"{NUMBERS}.json", body="<html>portal</html>")
    garbled = CliRunner().invoke(main, ["twilio", "configure", "--number", "+33970000000"], env=env)
    assert garbled.exit_code == 1 and "Twilio answered other than JSON" in garbled.output


def test_twilio_problem_details_are_sorted_as_its_other_errors():
    """Twilio's RFC 9457 answers (the SDK's TwilioServiceException): a number Twilio refuses
    is given up at once, a recording already gone is no error."""
    import pytest

    from ivr.adapters.providers import PermanentProviderError
    from ivr.adapters.twilio_rest import TwilioRest

    def problem(status: int, code: int) -> str:
        about = {"type": f"https://www.twilio.com/docs/errors/{code}", "title": "Problem"}
        return json.dumps({**about, "status": status, "code": code})

    account = f"{TWILIO}/2010-04-01/Accounts/{ACCOUNT}"
    recording = "RE" + "2" * 32
    rest = TwilioRest(ACCOUNT, "token", TWILIO)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, f"{account}/Messages.json", body=problem(400, 21211), status=400)
        mock.add(
            responses.DELETE,
            f"{account}/Recordings/{recording}.json",
            body=problem(404, 20404),
            status=404,
        )
        with pytest.raises(PermanentProviderError, match=r"refused the request \(400, code 21211"):
            rest.send_sms("+33639980101", "+33199000000", "Bonjour")
        rest.delete_recording(recording)  # already gone: nothing to do
