"""The simulator page in a real browser (Debian's Chromium, headless, driven by Playwright):
a newcomer follows the guide, places a call as a demo client, keys through the questions,
and answers the technician's phone while the caller waits; the dispatcher's later call rings
there too; the date field follows the simulated clock, which never goes back."""

from __future__ import annotations

import threading

from tests.calls.conftest import BACKUP, TECHNICIAN
from tests.conftest import needs_chromium
from tests.simulator.test_demo import BERARD, NOTATION, PINS, demo_served

# How many key presses the caller's transcript shows, at least (the next question came).
PRESSES = """n => (document.querySelector('#caller-transcript').textContent
    .match(/L'appelant tape/g) || []).length >= n"""

pytestmark = needs_chromium


def open_page(browser, app):
    page = browser.new_page(locale="fr-FR")
    page.goto(f"{app.extensions['ivr.settings'].PUBLIC_BASE_URL}/simulator")
    page.uncheck("#voice")  # no speech synthesis in a headless browser
    return page


def call_keying_the_contract(page, contract: str, name: str):
    """Call from a number no demo client has, key the contract number when asked, and wait
    to hear the client's name; the caller's transcript."""
    page.click("#place button[type=submit]")
    transcript = page.locator("#caller-transcript")
    transcript.get_by_text("Tapez votre numéro de contrat").wait_for()
    for key in f"{contract}#":
        page.click(f'#keypad button[data-key="{key}"]')
    transcript.get_by_text(name).wait_for()
    return transcript


def keys(page, sequence: str, already: int = 0) -> int:
    """Press one-key answers one by one, each once the previous one was heard."""
    for pressed, key in enumerate(sequence, start=already + 1):
        page.click(f'#keypad button[data-key="{key}"]')
        page.wait_for_function(PRESSES, arg=pressed)
    return already + len(sequence)


def test_a_newcomer_puts_a_demo_client_through_to_the_technician(browser, settings, demo):
    with demo_served(settings, "2026-12-22T23:00") as (app, _worker):
        page = open_page(browser, app)
        guide = page.locator("#guide")
        assert guide.locator("h2").inner_text().startswith("Pour commencer")
        assert guide.locator("li.case h3").count() == 6
        # A demo client calls from the start, at the simulated clock's time.
        assert page.input_value("#from") == PINS
        assert "Syndic Résidence Les Pins" in page.locator("#client option:checked").inner_text()
        assert page.input_value("#at") == "2026-12-22T23:00"

        page.click("#place button[type=submit]")
        transcript = page.locator("#caller-transcript")
        transcript.get_by_text("Appelez-vous pour Syndic Résidence Les Pins").wait_for()
        keys(page, "111#")
        # The technician's phone rings in its panel while the caller waits.
        ringing = page.locator("#ringing .phone.ringing")
        ringing.wait_for()
        assert "06 39 98 01 01" in ringing.inner_text()
        assert "un appelant en ligne attend d'être mis en relation" in ringing.inner_text()
        assert page.locator("#call-status").inner_text().startswith("Mise en relation")
        assert page.is_disabled('#keypad button[data-key="1"]')  # the caller is on hold
        ringing.locator('button[data-action="answer"]').click()
        technician = page.locator("#phones .phone").first
        technician.get_by_text("Pour prendre l'appel, tapez 1").wait_for()
        for key in "123456789*0#":  # every key a prompt may name is on the phone
            assert technician.locator(f'button[data-value="{key}"]').count() == 1
        technician.locator('button[data-value="1"]').click()
        transcript.get_by_text("Mis en relation avec le technicien").wait_for()
        technician.get_by_text("Mis en relation avec l'appelant").wait_for()

        # The call has ended: the keypad is disabled, and says so.
        status = page.locator("#call-status")
        status.get_by_text("L'appel est terminé : plus de touches.").wait_for()
        assert all(page.is_disabled(f'#keypad button[data-key="{key}"]') for key in "123456789*0#")
        assert page.is_disabled("#hangup") and page.is_disabled("#say button")
        shown = transcript.inner_text() + technician.inner_text()
        assert not NOTATION.search(shown), shown


def test_the_dispatchers_call_rings_the_technicians_phone(browser, settings, demo):
    with demo_served(settings, "2026-12-22T23:00") as (app, worker):
        stop = threading.Event()
        runner = threading.Thread(target=worker.run, args=(stop,), kwargs={"poll": 0.2})
        runner.start()
        try:
            page = open_page(browser, app)
            page.click("#staff details summary")
            for number in (TECHNICIAN, BACKUP):  # nobody takes it while the caller waits
                page.select_option(f'select[data-number="{number}"]', "ring")
            page.fill("#from", "+33611111111")
            assert page.input_value("#client") == ""  # not a demo client's number
            transcript = call_keying_the_contract(page, "10000002", "Syndic Résidence Les Pins")
            keys(page, "111#", already=1)
            transcript.get_by_text("laissez votre message").wait_for()
            page.click("#message")
            ringing = page.wait_for_selector("#ringing .phone.ringing", timeout=10_000)
            assert "06 39 98 01 01" in ringing.inner_text()
            assert "le service d'astreinte rappelle" in ringing.inner_text()
            page.click('#ringing .phone.ringing button[data-action="answer"]')
            called = page.locator("#phones .phone", has_text="rappel du service d'astreinte")
            called.get_by_text("Paris, 37 rue Riquet : panne de chauffage").wait_for()
            called.locator('button[data-value="*"]').click()  # hear it again
            called.get_by_text("Le technicien tape *").wait_for()
            called.locator('button[data-value="2"]').click()  # taken in hand
            called.get_by_text("C'est noté, merci").wait_for()
            page.locator("#jobs td", has_text="SMS au technicien").first.wait_for()
        finally:
            stop.set()
            runner.join(timeout=10)


def test_the_date_follows_the_simulated_clock_which_never_goes_back(browser, settings, demo):
    with demo_served(settings, "2026-12-22T23:00") as (app, _worker):
        page = open_page(browser, app)
        assert page.input_value("#at") == "2026-12-22T23:00"
        page.click('button[data-advance="60"]')
        page.wait_for_function("() => document.querySelector('#at').value === '2026-12-23T00:00'")
        assert "mercredi 23 décembre 2026, 00:0" in page.inner_text("#clock")

        page.fill("#at", "2026-12-22T23:30")  # already past
        page.click("#place button[type=submit]")
        page.locator("#error").get_by_text("ne recule jamais").wait_for()
        assert page.locator("#current-call").is_hidden()
        assert "mercredi 23 décembre 2026" in page.inner_text("#clock")

        # The guide readies the 7/7 case on the next evening it shows.
        page.click('button[data-case="7-7-soir"]')
        page.wait_for_function("() => document.querySelector('#at').value === '2026-12-24T19:00'")
        assert page.input_value("#from") == BERARD
        assert "Hélène Bérard" in page.locator("#client option:checked").inner_text()
        page.click("#place button[type=submit]")
        page.locator("#caller-transcript").get_by_text("Hélène Bérard").wait_for()
        assert "jeudi 24 décembre 2026, 19:0" in page.inner_text("#clock")
        page.click("#hangup")
        page.locator("#call-status").get_by_text("L'appel est terminé").wait_for()
        assert page.input_value("#at").startswith("2026-12-24T19:0")  # following the clock


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
        page = open_page(browser, app)
        page.click("#staff details summary")
        page.locator("#messages li", has_text="onerror").wait_for()
        assert page.locator("#messages img").count() == 0
        assert page.evaluate("window.pwned") is None


def test_the_callers_phone_gets_its_texts_and_answers_stop(browser, settings, demo):
    """After the call, the confirmation arrives in « SMS reçus » on the caller's phone; the
    caller answers STOP from the page and reads the reply. A text's words are shown as text,
    never run."""
    import requests

    hostile = '<img src=x onerror="window.pwned=1">'
    with demo_served(settings, "2026-12-24T19:00") as (app, worker):
        page = open_page(browser, app)
        page.fill("#from", "+33611111111")  # a mobile no demo client has: key the contract
        call_keying_the_contract(page, "10000001", "Hélène Bérard")
        keys(page, "111#", already=1)
        page.click("#hangup")
        page.locator("#call-status").get_by_text("L'appel est terminé").wait_for()
        texts = page.locator("#texts")
        assert texts.inner_text() == "Aucun SMS reçu sur ce numéro."
        worker.run_due()  # the dispatcher sends the confirmation
        texts.locator("li.received", has_text="demande n°").wait_for()
        assert "24/12 19:0" in texts.inner_text() and "répondez STOP" in texts.inner_text()

        page.fill("#reply-text", "STOP")
        page.click("#reply button[type=submit]")
        texts.locator("li.mine", has_text="Vous : STOP").wait_for()
        texts.locator("li.received", has_text="Vous ne recevrez plus de SMS").wait_for()
        assert page.input_value("#reply-text") == ""

        base = app.extensions["ivr.settings"].PUBLIC_BASE_URL
        sent = requests.post(
            f"{base}/simulator/twilio/2010-04-01/Accounts/{'AC' + '0' * 32}/Messages.json",
            data={"To": "+33611111111", "From": "+33199000000", "Body": hostile},
            timeout=5,
        )
        assert sent.status_code == 201
        texts.locator("li", has_text="onerror").wait_for()
        assert texts.locator("img").count() == 0 and page.evaluate("window.pwned") is None
        page.fill("#from", "+33622222222")  # another phone: its own screen
        page.wait_for_function(
            "() => document.querySelector('#texts').textContent === 'Aucun SMS reçu sur ce numéro.'"
        )
