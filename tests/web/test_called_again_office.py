"""A client who calls again about their request in progress, as the back office shows it: the
call that added to the request is under it (the calls list, the request's page, the agency's
morning card), never a request of its own; what the client chose, their message to play, the
request closed « réglé selon le client ». Real calls through the app and the worker (Twilio
faked at the HTTP level)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from sqlalchemy import select

from ivr.adapters.orm import CallRow, RecordingRow
from ivr.services.accounts import add_user
from ivr.simulator.dialer import Callee
from tests.calls.conftest import BACKUP, TECHNICIAN, identify, through_details
from tests.calls.test_staff_calls import NOBODY, unanswered_request
from tests.conftest import log_in, needs_chromium
from tests.dispatch.test_staff_dispatch import phone_of
from tests.web.test_browser_backoffice import DESK, PHONE, fits, page_at

PASSWORD = "a long enough password"
AGENCY = "paris@example.fr"  # Paris Nord, 0751: both clients' agency
CLIENT = "+33611111111"
# Codes of the trace that must never reach a back-office page.
CODES = ("called_again", "closed_by_caller", "request_in_progress", "new_request", "Étape «")
CODES += ("caller_texted", "solved, said", "taken on the client", "call_line", "\\u00")


def read(answer) -> str:
    """The page's text as a reader sees it (entities such as &#39; undone)."""
    assert answer.status_code == 200, answer.status_code
    return html.unescape(answer.get_data(as_text=True))


def calls_of(db) -> list[CallRow]:
    with db.snapshot() as session:
        return list(session.scalars(select(CallRow).order_by(CallRow.id)))


def message_of(db, call_id: int) -> int:
    with db.snapshot() as session:
        query = select(RecordingRow.id).where(RecordingRow.call_id == call_id)
        return session.scalars(query).one()


def card_of(page: str, request: int) -> str:
    """One request's card on the morning's list."""
    found = re.search(rf'<article[^>]*id="request-{request}".*?</article>', page, re.S)
    assert found, f"no card for request {request}"
    return found.group(0)


def test_a_message_added_then_solved_is_shown_with_its_request(night, demo, clock, fake_twilio):
    """Friday 19:30, a next-morning request; 20:00 the client calls again and adds a message;
    20:10 again, the problem is solved. The agency reads one request, with both calls."""
    add_user(demo, clock, AGENCY, PASSWORD, "agency", agency="0751")
    n = night(at="2026-12-18T19:30")
    first = phone_of(n, CLIENT)
    identify(first, "10000001")
    through_details(first)
    first.hang_up()
    n.run_worker()  # the sheet, the client's confirmation text; the technician at 08:00
    n.later(minutes=30)
    again = phone_of(n, CLIENT)
    assert "Vous nous avez appelés à 19 heures 30" in again.start()
    assert "Votre message sera ajouté" in again.press("1")
    again.leave_message(15)
    n.run_worker()

    request, added = calls_of(demo)
    assert (added.request_id, added.action) == (request.id, "added")
    office, _ = log_in(n.app, AGENCY, PASSWORD)
    morning = read(office.get("/morning"))
    card = card_of(morning, request.id)
    assert f'id="request-{added.id}"' not in morning  # no card of its own
    assert f"/calls/{added.id}/processed" not in morning
    assert "Demandes de la nuit à traiter <small>(1)</small>" in morning
    assert "Le client a rappelé à 20 h 00 : message ajouté (15 s)" in card
    assert f"/recordings/{message_of(demo, added.id)}/audio" in card and "<audio" in card
    assert f'href="/calls/{added.id}">appel n° {added.id}</a>' in card
    assert "réglé selon le client" not in card

    listing = read(office.get("/calls"))
    assert "Appels <small>(1)</small>" in listing  # one request, its call again under it
    assert listing.count(f'href="/calls/{added.id}"') == 1
    assert f"rappel de la demande n° {request.id}" in listing
    assert "Rappel du client : message ajouté (15 s)" in listing
    only_added = read(office.get("/calls?action=added"))  # its request not listed: a row
    assert f'Rappel de la <a href="/calls/{request.id}">demande n° {request.id}</a>' in only_added

    page = read(office.get(f"/calls/{request.id}"))
    assert "Le client a rappelé à 20 h 00 : message ajouté (15 s)" in page
    assert f"/recordings/{message_of(demo, added.id)}/audio" in page
    assert f"Le client a rappelé (appel n° {added.id}) : complément à la demande." in page
    texted = (
        f"SMS au client (06 11 11 11 11) : « Service d'urgence chauffage, demande n° {request.id}"
    )
    assert texted in page
    assert "le client (06 11 11 11 11)" in page  # the confirmation text's job: for the client
    assert not any(code in page for code in CODES)
    its_page = read(office.get(f"/calls/{added.id}"))
    assert f'rappel de la <a href="/calls/{request.id}">demande n° {request.id}</a>' in its_page
    assert f"Informé de sa demande en cours n° {request.id}." in its_page
    assert f"Ajout à la demande n° {request.id} en cours : complément à la demande." in its_page
    assert "Ajout à une demande en cours" in its_page  # its decision
    assert f"/calls/{added.id}/sheet.pdf" not in its_page  # the sheet is the request's
    assert not any(code in its_page for code in CODES)

    n.later(minutes=10)
    solved = phone_of(n, CLIENT)
    solved.start()
    assert "votre demande est close" in solved.press("2")
    n.run_worker()
    *_, closing = calls_of(demo)
    card = card_of(read(office.get("/morning")), request.id)
    assert "Le client a rappelé à 20 h 10 : problème réglé, demande close" in card
    assert "réglé selon le client" in card  # what came of it
    assert "Demandes de la nuit à traiter <small>(1)</small>" in read(office.get("/morning"))
    page = read(office.get(f"/calls/{request.id}"))
    assert f"Le client a rappelé (appel n° {closing.id}) : problème réglé, demande close." in page
    assert f"Demande close : problème réglé selon le client (appel n° {closing.id})." in page
    assert "annulée : problème réglé selon le client" in page  # the 08:00 call, the text
    assert not any(code in page for code in CODES)
    assert "Appels <small>(1)</small>" in read(office.get("/calls"))


def test_a_call_again_that_reaches_the_technician_counts_once(night, demo, clock, fake_twilio):
    """Tuesday 23:00, nobody answered; 23:20 the client calls again, their technician's lines
    are tried again and he takes it. One request, reached; then a new, different request of
    the same client is a card of its own."""
    add_user(demo, clock, AGENCY, PASSWORD, "agency", agency="0751")
    n = night()
    unanswered_request(phone_of(n, CLIENT, NOBODY))
    n.run_worker()
    n.later(minutes=20)
    again = phone_of(n, CLIENT, {TECHNICIAN: Callee(keys=["1"]), BACKUP: Callee(answers=False)})
    assert "Vous nous avez appelés à 23 heures" in again.start()
    assert "Nous essayons de nouveau de joindre le technicien" in again.press("1")
    again.hang_up()
    n.run_worker()

    request, added = calls_of(demo)
    assert (added.request_id, added.action, added.reached) == (request.id, "call_now", TECHNICIAN)
    office, _ = log_in(n.app, AGENCY, PASSWORD)
    card = card_of(read(office.get("/morning")), request.id)
    technician = "le technicien d'astreinte de l'agence Paris Nord (06 39 98 01 01)"
    assert f"oui : {technician}" in card  # the request is reached
    assert (
        "Le client a rappelé à 23 h 20 : technicien appelé de nouveau, "
        f"mis en relation avec {technician}" in card
    )
    home = read(office.get("/"))
    decisions = re.search(r'id="chart-decisions">(.*?)</figure>', home, re.S).group(1)
    assert "ajout à une demande" in decisions and "technicien appelé" in decisions
    values = re.findall(r'class="value[^"]*"[^>]*>(\d+)<', decisions)
    assert values and set(values) == {"1"}  # one request called now, one call again
    listing = read(office.get("/calls?action=call_now"))
    assert "Appels <small>(1)</small>" in listing  # the call again is under its request
    assert "Rappel du client : technicien appelé de nouveau, mis en relation" in listing

    n.later(minutes=10)
    other = phone_of(n, CLIENT, NOBODY)
    other.start()
    assert "Appelez-vous pour Syndic Résidence Les Pins" in other.press("3")  # another request
    other.press("1")  # theirs, confirmed
    through_details(other, fault="2")
    other.leave_message(10)
    n.run_worker()
    *_, new = calls_of(demo)
    assert new.request_id is None
    morning = read(office.get("/morning"))
    card_of(morning, new.id)
    assert "Demandes de la nuit à traiter <small>(2)</small>" in morning
    page = read(office.get(f"/calls/{new.id}"))
    assert f"Nouvelle demande, différente de la n° {request.id}." in page
    assert not any(code in page for code in CODES)


# --- In a real browser: the request's card with its call again, on a phone and on a desk -------


@needs_chromium
def test_the_call_again_on_the_card_plays_and_passes_axe(site, browser, demo, clock):  # noqa: F811
    """The demo's call of last night (nobody answered); twenty minutes later the client calls
    again, the technician's lines are tried again, in vain, and they leave a message. The
    assistant plays it from the request's card; every page showing it passes axe, and fits a
    phone's screen."""
    from axe_playwright_python.sync_playwright import Axe

    add_user(demo, clock, AGENCY, PASSWORD, "agency", agency="0751")
    site.worker.run_due()
    simulator = site.simulator
    number = simulator.place(CLIENT, simulator.clock.now() + timedelta(minutes=20))
    assert "Vous nous avez appelés à 23 heures" in " ".join(simulator.calls[number].transcript)
    simulator.act(number, "press", "1")
    simulator.act(number, "message", "9")
    site.worker.run_due()
    request, added = calls_of(demo)
    assert added.request_id == request.id
    axe, serious = Axe(), {}
    for viewport in (PHONE, DESK):
        page = page_at(browser, site, AGENCY, viewport)
        page.goto(f"{site.base_url}/morning")
        card = page.locator(f"#request-{request.id}")
        said = card.locator(".again li").inner_text()
        assert re.match(
            r"Le client a rappelé à 23 h \d\d : technicien appelé de nouveau, sans réponse ; "
            r"message ajouté \(9 s\)",
            said,
        ), said
        assert page.locator("article.request").count() == 1
        played = card.locator(".again audio").evaluate(
            """async (audio) => { await audio.play(); await new Promise((d) => setTimeout(d, 300));
                return audio.currentTime; }"""
        )
        assert played > 0
        for path in ("/morning", "/calls", f"/calls/{request.id}", f"/calls/{added.id}"):
            page.goto(site.base_url + path)
            assert fits(page), (path, viewport)
            violations = axe.run(page).response["violations"]
            serious[f"{path} {viewport['width']}"] = [
                (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
                for v in violations
                if v["impact"] in ("serious", "critical")
            ]
    assert not any(serious.values()), {k: v for k, v in serious.items() if v}


from tests.web.test_browser_backoffice import site  # noqa: E402, F401 (the demo on loopback)
