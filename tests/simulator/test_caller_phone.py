"""The caller's phone on the simulator page: the texts the service sends it (« SMS reçus »),
a reply to the out-of-hours number (« Répondre par SMS »), posted signed as Twilio posts an
incoming text; and the guide's case of a client who calls again."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from ivr.domain.local_time import PARIS
from ivr.simulator import words
from ivr.simulator.guide import calling_again
from tests.simulator.test_demo import demo_app, french, place, press, the_call  # noqa: F401

MOBILE = "+33611111111"  # no demo client's: the caller keys the 7/7 contract
BERARD_MOBILE = "+33639981001"  # 10000001's second phone (ARCEP's range for fiction)
EVE = "2026-12-24T19:00"  # Christmas Eve: the 7/7 client's technician is called at 08:00
STOPPED = "Vous ne recevrez plus de SMS du service d'urgence chauffage."
RESTARTED = "Vous recevrez de nouveau les SMS du service d'urgence chauffage."


def texts(client, phone: str) -> list[dict]:
    return client.get("/simulator/api/state", query_string={"phone": phone}).get_json()["texts"]


def reply(client, phone: str, text: str):
    return client.post("/simulator/api/texts", json={"from": phone, "text": text})


def hang_up(client, call: int) -> None:
    assert client.post(f"/simulator/api/calls/{call}/hangup").status_code == 200


def test_the_callers_phone_gets_the_confirmation_and_replies_stop_then_start(demo_app):  # noqa: F811
    app, worker = demo_app
    client = app.test_client()
    call = place(client, MOBILE, EVE)
    press(client, call, "10000001#", "1", "1", "1", "#")
    hang_up(client, call)
    assert texts(client, MOBILE) == []  # sent by the dispatcher's worker, after the call
    worker.run_due()
    [confirmation] = texts(client, "06 11 11 11 11")  # the number as typed in the form
    assert confirmation["at"].startswith("24/12 19:0") and not confirmation["mine"]
    assert "demande n°" in confirmation["text"] and "répondez STOP" in confirmation["text"]
    assert "Le technicien sera prévenu demain vendredi, à 8 heures." in confirmation["text"]
    assert texts(client, "+33622222222") == []  # another phone's screen

    assert reply(client, "06 11 11 11 11", "Stop").status_code == 200
    assert [(t["text"], t["mine"]) for t in texts(client, MOBILE)[1:]] == [
        ("Stop", True),
        (STOPPED + " Pour les recevoir de nouveau, répondez START.", False),
    ]
    # Another request from the same phone: no confirmation goes to it any more.
    again = place(client, MOBILE)
    assert "Pour une autre demande, tapez 3." in " ".join(the_call(client, again)["lines"])
    press(client, again, "3", "1", "1", "#")
    hang_up(client, again)
    worker.run_due()
    assert len(texts(client, MOBILE)) == 3

    assert reply(client, MOBILE, "START").status_code == 200
    *_, started = texts(client, MOBILE)
    assert (started["text"], started["mine"]) == (RESTARTED, False)
    # Anything else is answered that the number does not read texts.
    reply(client, MOBILE, "Le technicien vient quand ?")
    assert texts(client, MOBILE)[-1]["text"].startswith("Ce numéro ne lit pas les SMS.")


def test_a_reply_the_simulator_cannot_send_is_refused_in_french(demo_app):  # noqa: F811
    app, _ = demo_app
    client = app.test_client()
    empty = reply(client, MOBILE, "  ")
    assert empty.status_code == 400 and empty.get_json()["error"] == "Écrivez le SMS à envoyer."
    nobody = reply(client, "", "STOP")
    assert nobody.status_code == 400 and "numéro du téléphone" in nobody.get_json()["error"]
    app.extensions["ivr.simulator"].settings = app.extensions["ivr.settings"].model_copy(
        update={"TWILIO_AUTH_TOKEN": "not-the-token"}  # signed with another token: refused
    )
    refused = reply(client, MOBILE, "STOP")
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "Le serveur vocal n'a pas accepté le SMS (erreur 403)."
    assert texts(client, MOBILE) == []


def test_the_guide_a_client_calls_again_and_hears_where_the_request_stands(demo_app):  # noqa: F811
    app, worker = demo_app
    client = app.test_client()
    page = client.get("/simulator").get_data(as_text=True)
    assert "<h3>Un client qui rappelle : où en est sa demande</h3>" in page
    assert "Appelez le jeudi 24 décembre à 19:00, tapez 1, 1, 1 et #" in page

    case = client.post("/simulator/api/guide/rappel").get_json()
    assert case == {"caller": BERARD_MOBILE, "at": EVE, "phones": {}}
    call = place(client, case["caller"], case["at"])
    assert "Hélène Bérard" in the_call(client, call)["lines"][-1]  # known by her mobile
    press(client, call, "1", "1", "1", "#")
    hang_up(client, call)
    worker.run_due()
    client.post("/simulator/api/clock", json={"minutes": 20})

    again = place(client, case["caller"])
    heard = " ".join(french(the_call(client, again)["lines"]))
    assert "Vous nous avez appelés à 19 heures." in heard
    assert "Le technicien sera prévenu demain vendredi, à 8 heures." in heard
    assert "Si le problème est réglé, tapez 2." in heard
    press(client, again, "2")
    assert "votre demande est close" in " ".join(the_call(client, again)["lines"])
    worker.run_due()
    seen = client.get("/simulator/api/state").get_json()
    morning = next(j for j in seen["jobs"] if j["kind"] == "call_line")
    assert (morning["what"], morning["state"]) == (
        "Appel du technicien (rappel du matin)",
        "annulée",
    )
    # The agency is told: a follow-up sheet after the request's own.
    assert [j["kind"] for j in seen["jobs"]].count("sheet") == 2
    assert any(sheet["title"].endswith("(suite), pour l'agence") for sheet in seen["sheets"])


def test_the_guide_speaks_of_the_texts_only_to_a_mobile():
    from ivr.domain.model import Client, Contract, Equipment

    client = Client(
        "10000001",
        "Mme Hélène Bérard",
        "14 rue Custine",
        "75018",
        "Paris",
        "+33199002101",
        Equipment.GAS_BOILER,
        Contract.INDIVIDUAL_7_7,
        "0751",
        phone2=BERARD_MOBILE,
    )
    evening = datetime(2026, 12, 24, 19, 0, tzinfo=PARIS)
    case = calling_again(client, evening)
    assert case.caller == BERARD_MOBILE and case.who.endswith(", depuis son portable")
    # ARCEP's mobiles for fiction, as the demo's, are mobiles: texted.
    assert "« SMS reçus »" in case.shows and "STOP" in case.shows
    landline = calling_again(dataclasses.replace(client, phone2=None), evening)
    assert landline.caller == "+33199002101" and "portable" not in landline.who


def test_the_words_of_the_clients_texts():
    assert words.job_what("sms", {"role": "caller"}) == "SMS au client"
    assert words.job_state("done", "opted_out") == "faite : pas envoyé (le client a répondu STOP)"
