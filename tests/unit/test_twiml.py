"""The turn's TwiML is built once per distinct turn and filled with each call's own values."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from ivr.adapters.prompt_store import defaults
from ivr.adapters.twiml import Renderer, Urls, _turn_template, fill_attempt
from ivr.domain.prompts import Prompts
from voice_flows.instructions import Ask, Connect, RecordMessage, Say, Whisper

BASE = "https://ivr.example"


def renderer(prompts: Prompts, recording: bool = False) -> Renderer:
    return Renderer(prompts, Urls(BASE), "Polly.Lea-Neural", record_bridges=recording)


def urls(twiml: str) -> list[str]:
    root = ET.fromstring(twiml)
    found = [e.get(a) for e in root.iter() for a in ("action", "recordingStatusCallback", "url")]
    return [u for u in found if u] + [e.text or "" for e in root.iter("Redirect")]


def test_two_calls_at_the_same_question_get_their_own_turn_and_sid():
    prompts = Prompts(defaults())
    ask = (Ask("ask_fault", (Say("ask_fault"),)),)
    first = renderer(prompts).turn(ask, call_sid="CA1", turn=3)
    second = renderer(prompts).turn(ask, call_sid="CA2", turn=11)
    assert set(urls(first)) == {f"{BASE}/twilio/voice/step/ask_fault?turn=3"}
    assert set(urls(second)) == {f"{BASE}/twilio/voice/step/ask_fault?turn=11"}


def confirm(name: str) -> tuple[Ask, ...]:
    return (Ask("confirm_identity", (Say("confirm_identity", {"name": name, "city": "Metz"}),)),)


def test_the_values_read_to_a_caller_are_theirs():
    prompts = Prompts(defaults(), {"confirm_identity": "Vous êtes {name}, à {city} ?"})
    dupont = renderer(prompts).turn(confirm("M. Dupont"), call_sid="CA1", turn=2)
    martin = renderer(prompts).turn(confirm("Mme Martin"), call_sid="CA2", turn=2)
    assert "M. Dupont" in dupont and "Mme Martin" not in dupont
    assert "Mme Martin" in martin and "M. Dupont" not in martin


def test_a_new_version_of_the_prompts_is_heard_at_once():
    ask = (Ask("ask_fault", (Say("ask_fault"),)),)
    before = renderer(Prompts(defaults(), {"ask_fault": "Ancienne question"})).turn(
        ask, call_sid="CA1", turn=1
    )
    after = renderer(Prompts(defaults(), {"ask_fault": "Nouvelle question"})).turn(
        ask, call_sid="CA1", turn=1
    )
    assert "Ancienne question" in before and "Nouvelle question" in after


def test_recording_and_dial_urls_carry_the_call_and_the_attempt():
    prompts = Prompts(defaults())
    connect = (
        Connect(
            "dialed",
            "+33612345678",
            "technician",
            Whisper((Say("whisper_technician"),), "technician"),
        ),
    )
    record = (RecordMessage("message_recorded"),)
    dial = renderer(prompts, recording=True).turn(connect, call_sid="CA+x/1", turn=5)
    dial = fill_attempt(dial, 42)
    assert f"{BASE}/twilio/voice/step/dialed?turn=5&attempt=42" in urls(dial)
    assert f"{BASE}/twilio/voice/whisper?attempt=42" in urls(dial)
    assert f"{BASE}/twilio/recording?call=CA%2Bx%2F1&kind=call" in urls(dial)
    message = renderer(prompts).turn(record, call_sid="CA9", turn=8)
    assert f"{BASE}/twilio/recording?call=CA9&kind=message" in urls(message)


def test_words_that_look_like_a_url_are_read_as_they_are():
    prompts = Prompts(defaults(), {"confirm_identity": "Vous êtes {name}, à {city} ?"})
    name = "SCI turn=__turn__ call=__call__ attempt=-1"
    twiml = renderer(prompts).turn(confirm(name), call_sid="CA1", turn=4)
    said = [e.text for e in ET.fromstring(twiml).iter("Say")]
    assert said == [f"Vous êtes {name}, à Metz ?"]


def dial_to(number: str, client: str) -> tuple[Connect, ...]:
    whisper = Whisper((Say("whisper_technician", {"client": client}),), "technician")
    return (Connect("dialed", number, "technician", whisper),)


def test_a_dial_is_the_same_for_every_caller_and_says_nothing_of_them():
    prompts = Prompts(defaults())
    first = renderer(prompts).turn(dial_to("+33612345678", "M. Dupont"), call_sid="CA1", turn=6)
    built = _turn_template.cache_info().misses
    second = renderer(prompts).turn(dial_to("+33612345678", "Mme Martin"), call_sid="CA2", turn=6)
    assert _turn_template.cache_info().misses == built  # one TwiML kept for both callers
    assert fill_attempt(first, 7).replace("CA1", "CA2") == fill_attempt(second, 7)
    # The whisper is said on the technician's leg (`Renderer.whisper`), not in this turn.
    assert "Dupont" not in first and "Martin" not in second
    assert f"{BASE}/twilio/voice/whisper?attempt=7" in urls(fill_attempt(second, 7))
