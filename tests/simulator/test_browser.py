"""The simulator page in a real browser (Debian's Chromium, headless, driven by Playwright):
a newcomer places a call, keys a client number, and sees the technician's phone ring."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.calls.conftest import BACKUP, TECHNICIAN
from tests.simulator.test_demo import demo_served

CHROMIUM = Path("/usr/bin/chromium")
# How many key presses the caller's transcript shows, at least (the next question came).
PRESSES = """n => (document.querySelector('#caller-transcript').textContent
    .match(/CALLER presses/g) || []).length >= n"""

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium)"
)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        yield chromium
        chromium.close()


def test_a_call_placed_on_the_page_rings_the_technicians_phone(browser, settings, demo):
    with demo_served(settings, "2026-12-22T23:00") as (app, worker):
        stop = threading.Event()
        runner = threading.Thread(target=worker.run, args=(stop,), kwargs={"poll": 0.2})
        runner.start()
        try:
            page = browser.new_page()
            base = app.extensions["ivr.settings"].PUBLIC_BASE_URL
            page.goto(f"{base}/simulator")
            page.uncheck("#voice")  # no speech synthesis in a headless browser
            page.click("#staff details summary")
            for number in (TECHNICIAN, BACKUP):  # nobody takes it while the caller waits
                page.select_option(f'select[data-number="{number}"]', "ring")
            page.fill('input[name="from"]', "+33611111111")
            page.click("#place button[type=submit]")
            transcript = page.locator("#caller-transcript")
            transcript.get_by_text("Tapez votre numéro de contrat").wait_for()
            for key in "10000002#":
                page.click(f'#keypad button[data-key="{key}"]')
            transcript.get_by_text("Syndic Résidence Les Pins").wait_for()
            for pressed, key in enumerate("111#", start=2):  # one-key menus, one by one
                page.click(f'#keypad button[data-key="{key}"]')
                page.wait_for_function(PRESSES, arg=pressed)
            transcript.get_by_text("laissez votre message").wait_for()
            page.click("#message")
            ringing = page.wait_for_selector(".phone.ringing", timeout=10_000)
            assert TECHNICIAN in ringing.inner_text()
            page.click('.phone.ringing button[data-action="answer"]')
            phone = page.locator("#outbound .phone")
            phone.get_by_text("Paris, 37 rue Riquet : panne de chauffage").wait_for()
            for key in "123456789*0#":  # every key a prompt may name is on the phone
                assert phone.locator(f'button[data-value="{key}"]').count() == 1
            phone.locator('button[data-value="*"]').click()  # hear it again
            phone.get_by_text("CALLEE presses *").wait_for()
            phone.locator('button[data-value="2"]').click()  # taken in hand
            phone.get_by_text("C'est noté, merci").wait_for()
        finally:
            stop.set()
            runner.join(timeout=10)


def test_what_the_page_shows_of_requests_it_was_sent_is_never_run_as_html(browser, settings, demo):
    """The page is on the back office's origin: a number or a text sent to the demo's fake
    Twilio API (it needs no login) is shown as text, never run."""
    import requests

    hostile = '<img src=x onerror="window.pwned=1">'
    with demo_served(settings, "2026-12-22T23:00") as (app, _worker):
        base = app.extensions["ivr.settings"].PUBLIC_BASE_URL
        account = "AC" + "0" * 32
        sent = requests.post(
            f"{base}/simulator/twilio/2010-04-01/Accounts/{account}/Messages.json",
            data={"To": hostile, "From": "+33199000000", "Body": hostile},
            timeout=5,
        )
        assert sent.status_code == 201
        page = browser.new_page()
        page.goto(f"{base}/simulator")
        page.uncheck("#voice")
        page.click("#staff details summary")
        page.locator("#messages li", has_text="onerror").wait_for()
        assert page.locator("#messages img").count() == 0
        assert page.evaluate("window.pwned") is None
