"""The back office in a real browser (Debian's Chromium, headless, Playwright): an
administrator logs in, finds last night's call and listens to its message, changes the
greeting and hears it on the next call, uploads a bad client file and reads why it failed."""

from __future__ import annotations

import pytest

from ivr.composition import serve_demo
from ivr.domain.local_time import parse_instant
from ivr.services.accounts import add_user
from tests.calls.conftest import BACKUP, TECHNICIAN
from tests.conftest import AUTH_TOKEN, needs_chromium

EMAIL, PASSWORD = "admin@example.fr", "a long enough password"

pytestmark = needs_chromium


@pytest.fixture
def site(settings, demo, clock):
    """The demo served on loopback, an administrator, and last night's call with a message."""
    add_user(demo, clock, EMAIL, PASSWORD, "admin")
    with serve_demo(
        settings.model_copy(update={"TWILIO_AUTH_TOKEN": AUTH_TOKEN}),
        parse_instant("2026-12-22T23:00"),
    ) as stack:
        simulator = stack.simulator
        simulator.behaviours.update({TECHNICIAN: "ring", BACKUP: "ring"})
        number = simulator.place("+33611111111", None)
        for keys in ("10000002#", "1", "1", "1", "#"):
            simulator.act(number, "press", keys)
        simulator.act(number, "message", "12")
        yield stack


def log_in(browser, site, email: str):
    page = browser.new_page()
    page.goto(f"{site.base_url}/calls")
    assert "/login" in page.url  # nothing without logging in
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', PASSWORD)
    page.click("text=Se connecter")
    return page


@pytest.fixture
def page(site, browser):
    return log_in(browser, site, EMAIL)


def test_an_agency_user_sees_only_their_agency(site, browser, demo, clock):
    add_user(demo, clock, "paris@example.fr", PASSWORD, "agency", agency="0751")
    add_user(demo, clock, "metz@example.fr", PASSWORD, "agency", agency="5701")
    paris = log_in(browser, site, "paris@example.fr")
    assert paris.locator("table a").count() == 1  # last night's call, agency 0751
    assert "Messages" not in paris.locator("nav").inner_text()  # no administration
    metz = log_in(browser, site, "metz@example.fr")
    metz.get_by_text("Aucun appel.").wait_for()
    assert metz.goto(f"{site.base_url}/prompts").status == 403


def test_find_last_nights_call_and_listen_to_its_message(site, page):
    page.fill('input[name="night"]', "2026-12-22")
    page.click("text=Filtrer")
    page.locator("table a").first.click()
    page.get_by_text("Contrat 10000002 · Agence 0751").wait_for()
    page.get_by_text("Message de 12 s").wait_for()
    duration = page.evaluate(
        """async () => {
            const audio = document.querySelector('audio');
            await audio.play();
            await new Promise((done) => setTimeout(done, 300));
            return [audio.duration, audio.currentTime];
        }"""
    )
    assert duration[0] == pytest.approx(12, abs=0.5) and duration[1] > 0


def test_a_new_greeting_is_heard_on_the_next_call(site, page):
    page.goto(f"{site.base_url}/prompts/welcome")
    page.fill('textarea[name="text"]', "Bonjour, ici le service d'astreinte de démonstration.")
    page.click("text=Enregistrer")
    page.get_by_text("Version 1 enregistrée").wait_for()
    simulator = site.simulator
    number = simulator.place("+33622222222", None)
    assert "Bonjour, ici le service d'astreinte de démonstration." in " ".join(
        simulator.calls[number].transcript
    )


def test_a_bad_client_file_is_refused_with_its_report(site, page, tmp_path):
    bad = tmp_path / "clients-semaine-52.csv"
    bad.write_text(
        "client_id;name;address;postcode;city;phone;phone2;equipment;equipment_label;"
        "contract;delay_label;valid_until;agency;delay_hours\n"
        "123;M. Sans Code;1 rue X;7500;Paris;pas un numéro;;gas_boiler;;individual_7_7;;;0751;\n",
        encoding="utf-8",
    )
    page.goto(f"{site.base_url}/reference")
    page.set_input_files('input[name="file"]', str(bad))
    page.click("text=Importer")
    page.get_by_text("importé en arrière-plan").wait_for()
    assert site.worker.run_due() >= 1  # the worker imports it
    page.reload()
    report = page.locator("#clients-report")
    report.get_by_text("refusé, rien n’a changé").wait_for()
    text = report.inner_text()
    assert "erreur : clients-semaine-52.csv, ligne 2 : " in text
    assert "« 7500 » doit avoir 5 chiffres" in text


# --- The agency's morning, on a desk and on a phone; every page for everyone ------------------

PHONE, DESK = {"width": 390, "height": 844}, {"width": 1280, "height": 800}


def page_at(browser, site, email: str, viewport: dict):
    page = browser.new_page(viewport=viewport)
    page.goto(f"{site.base_url}/login")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', PASSWORD)
    page.click("text=Se connecter")
    page.wait_for_url(f"{site.base_url}/")
    return page


def fits(page) -> bool:
    """Nothing runs off the screen sideways."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["390px", "1280px"])
def test_the_assistants_morning_on_a_phone_and_on_a_desk(site, browser, demo, clock, viewport):
    add_user(demo, clock, "paris@example.fr", PASSWORD, "agency", agency="0751")
    site.worker.run_due()  # the night's jobs: the technician's line rings, nobody answers
    page = page_at(browser, site, "paris@example.fr", viewport)
    assert fits(page)
    for chart in page.locator(".charts figure").all():
        assert chart.bounding_box()["width"] > 100  # drawn, not 0 px wide
    page.get_by_role("link", name="À traiter").click()
    card = page.locator("article.request").first
    card.get_by_role(
        "heading", name=f"Demande n° {_the_call(demo)} : Syndic Résidence Les Pins"
    ).wait_for()
    assert card.locator('a[href="tel:+33611111111"]').inner_text() == "06 11 11 11 11"
    assert "panne de chauffage" in card.inner_text()
    assert fits(page)
    played = card.locator("audio").evaluate(
        """async (audio) => { await audio.play(); await new Promise((d) => setTimeout(d, 300));
            return audio.currentTime; }"""
    )
    assert played > 0
    card.get_by_role("button", name="Marquer traitée").click()
    page.get_by_text("Rien à traiter.").wait_for()
    page.get_by_text("traitée par paris@example.fr").wait_for()
    page.get_by_role("button", name="Annuler : remettre à traiter").click()
    page.locator("article.request").first.get_by_role("heading").wait_for()
    for path in ("/calls", f"/calls/{_the_call(demo)}"):
        page.goto(site.base_url + path)
        assert fits(page), path


def _the_call(db) -> int:
    from sqlalchemy import select

    from ivr.adapters.orm import CallRow

    with db.snapshot() as session:
        return session.scalars(select(CallRow.id)).first()


def test_every_page_passes_axe_with_no_serious_violation(site, browser, demo):
    from axe_playwright_python.sync_playwright import Axe

    site.worker.run_due()
    call = _the_call(demo)
    axe = Axe()
    found = {}
    anonymous = browser.new_page()
    for path in ("/login", "/simulator"):
        anonymous.goto(site.base_url + path)
        found[path] = axe.run(anonymous).response["violations"]
    for viewport in (DESK, PHONE):
        page = page_at(browser, site, EMAIL, viewport)
        for path in (
            "/",
            "/calls",
            f"/calls/{call}",
            "/morning",
            "/prompts",
            "/prompts/welcome",
            "/reference",
            "/operations",
            "/calls/999999",
        ):
            page.goto(site.base_url + path)
            found[f"{path} {viewport['width']}"] = axe.run(page).response["violations"]
    serious = {
        where: [
            (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
            for v in violations
            if v["impact"] in ("serious", "critical")
        ]
        for where, violations in found.items()
    }
    assert not any(serious.values()), {k: v for k, v in serious.items() if v}
