"""A turn's instructions as TwiML: the URLs Twilio calls back, the words said."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from ivr.adapters.prompt_store import defaults
from ivr.adapters.twiml import Links, Renderer
from ivr.domain.prompts import Prompts
from voice_flows.instructions import Ask, Bridge, Connect, RecordMessage, Say

BASE = "https://ivr.example"


def renderer(prompts: Prompts | None = None) -> Renderer:
    return Renderer(
        prompts or Prompts(defaults()), BASE, "Polly.Lea-Neural", caller_id="+33199000000"
    )


def links(sid: str = "CA1", turn: int = 3, attempt: int | None = None) -> Links:
    return Links(BASE, "/twilio/voice/step/{step}", {"turn": turn}, sid, attempt)


def urls(twiml: str) -> list[str]:
    root = ET.fromstring(twiml)
    found = [e.get(a) for e in root.iter() for a in ("action", "recordingStatusCallback", "url")]
    return [u for u in found if u] + [e.text or "" for e in root.iter("Redirect")]


def test_a_question_is_answered_at_its_step_with_the_turn_it_asks_in():
    ask = (Ask("ask_fault", (Say("ask_fault"),)),)
    first = renderer().render(ask, links("CA1", turn=3))
    second = renderer().render(ask, links("CA2", turn=11))
    assert set(urls(first)) == {f"{BASE}/twilio/voice/step/ask_fault?turn=3"}
    assert set(urls(second)) == {f"{BASE}/twilio/voice/step/ask_fault?turn=11"}


def test_a_new_version_of_the_prompts_is_heard_at_once():
    ask = (Ask("ask_fault", (Say("ask_fault"),)),)
    before = renderer(Prompts(defaults(), {"ask_fault": "Ancienne question"})).render(ask, links())
    after = renderer(Prompts(defaults(), {"ask_fault": "Nouvelle question"})).render(ask, links())
    assert "Ancienne question" in before and "Nouvelle question" in after


def test_a_screened_dial_carries_its_attempt_and_the_recording_its_call():
    connect = (Connect("dialed", "+33612345678", "technician", screened=True),)
    dial = renderer().render(connect, links("CA+x/1", turn=5, attempt=42), record_bridges=True)
    assert f"{BASE}/twilio/voice/step/dialed?turn=5&attempt=42" in urls(dial)
    assert f"{BASE}/twilio/voice/whisper?attempt=42" in urls(dial)
    assert f"{BASE}/twilio/recording?call=CA%2Bx%2F1&kind=call" in urls(dial)
    message = renderer().render((RecordMessage("message_recorded"),), links("CA9", turn=8))
    assert f"{BASE}/twilio/recording?call=CA9&kind=message" in urls(message)


def test_an_unscreened_dial_shows_the_number_it_is_told_to():
    plain = ET.fromstring(renderer().render((Connect("done", "+33611111111", "client"),), links()))
    shown = Connect("done", "+33611111111", "client", caller_id="+33970000000")
    other = ET.fromstring(renderer().render((shown,), links()))
    assert plain.find("Dial").get("callerId") == "+33199000000"  # the out-of-hours number
    assert other.find("Dial").get("callerId") == "+33970000000"
    assert plain.find("Dial/Number").get("url") is None  # nobody to announce it to


def test_words_that_look_like_a_url_are_read_as_they_are():
    prompts = Prompts(defaults(), {"confirm_identity": "Vous êtes {name}, à {city} ?"})
    name = "SCI turn=4 call=CA1 attempt=-1 {step}"
    said = Say("confirm_identity", {"name": name, "city": "Metz"})
    twiml = renderer(prompts).render((Ask("confirm_identity", (said,)),), links())
    assert [e.text for e in ET.fromstring(twiml).iter("Say")] == [f"Vous êtes {name}, à Metz ?"]


def test_taking_the_call_ends_the_callees_leg_without_hanging_up():
    taken = ET.fromstring(renderer().render((Bridge(),), links()))
    assert list(taken) == []  # an empty answer: Twilio connects the two legs


def test_a_character_xml_forbids_never_reaches_twilio():
    """A prompt saved before the editor refused them, a name from an old export: the answer
    stays a TwiML document Twilio accepts, the words around the character said."""
    prompts = Prompts(defaults(), {"welcome": "Bonjour\x1b, service\x00 d'urgence chauffage."})
    name = {"name": "Mme B\x1aérard", "city": "Paris", "client_id": "1 0 0"}
    says = (Say("welcome"), Say("confirm_identity", name))
    for twiml in (
        renderer(prompts).render((Ask("confirm_identity", says),), links()),
        renderer(prompts).say_and_hang_up(says),
    ):
        said = " ".join(e.text or "" for e in ET.fromstring(twiml).iter("Say"))
        assert "Bonjour, service d'urgence chauffage." in said and "Mme Bérard" in said
