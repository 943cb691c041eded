"""The Messages pages' « Écouter » button in a real browser (Debian's Chromium, headless,
Playwright), under the pages' Content-Security-Policy: the browser's speech synthesis is asked
to say the words in French, their values replaced by examples. The browser's
`speechSynthesis.speak` is replaced by a recorder before the page loads (a headless browser
has no voice to listen to); the page's own script is what is tested."""

from __future__ import annotations

import pytest

from ivr.composition import serve_demo
from ivr.domain.local_time import parse_instant
from ivr.services.accounts import add_user
from tests.conftest import AUTH_TOKEN, needs_chromium

EMAIL, PASSWORD = "admin@example.fr", "a long enough password"

pytestmark = needs_chromium

# What each call to speechSynthesis.speak asked to say, in window.spoken.
RECORD_SPEECH = """
window.spoken = [];
if (window.speechSynthesis) {
    window.speechSynthesis.speak = (utterance) => {
        window.spoken.push({text: utterance.text, lang: utterance.lang});
    };
}
"""


@pytest.fixture
def site(settings, demo, clock):
    """The demo served on loopback, and an administrator."""
    add_user(demo, clock, EMAIL, PASSWORD, "admin")
    with serve_demo(
        settings.model_copy(update={"TWILIO_AUTH_TOKEN": AUTH_TOKEN}),
        parse_instant("2026-12-22T23:00"),
    ) as stack:
        yield stack


@pytest.fixture
def page(site, browser):
    """An administrator's page, logged in, its speech recorded; no script error allowed."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def console(message) -> None:
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            errors.append(message.text)

    page.on("console", console)
    page.add_init_script(RECORD_SPEECH)
    page.goto(f"{site.base_url}/prompts")
    page.fill('input[name="email"]', EMAIL)
    page.fill('input[name="password"]', PASSWORD)
    page.click("text=Se connecter")
    page.wait_for_url("**/prompts")
    yield page
    assert errors == []  # a script refused by the CSP says so on the console


def test_listen_reads_the_words_in_force_in_french_with_example_values(page):
    listen = page.get_by_role("button", name="Écouter le message « Confirmation du contrat »")
    listen.click()
    assert page.evaluate("window.spoken") == [
        {
            "text": "Contrat 1 0 0 0 0 0 0 2 : Syndic Résidence Les Pins, à Paris. "
            "Si c'est exact, tapez 1. Sinon, tapez 2.",
            "lang": "fr-FR",
        }
    ]
    page.get_by_role("button", name="Écouter le message « Accueil »").click()
    assert page.evaluate("window.spoken[1]") == {
        "text": "Bonjour, service d'urgence chauffage.",
        "lang": "fr-FR",
    }


def test_listen_on_a_prompts_page_reads_the_text_as_it_stands_unsaved(page, site):
    page.goto(f"{site.base_url}/prompts/confirm_identity")
    page.fill("#prompt-text", "Bonjour {name}, à {city} : contrat {client_id}. {inconnu}Tapez 1.")
    page.get_by_role("button", name="Écouter le message « Confirmation du contrat »").click()
    assert page.evaluate("window.spoken") == [
        {
            "text": "Bonjour Syndic Résidence Les Pins, à Paris : "
            "contrat 1 0 0 0 0 0 0 2. Tapez 1.",
            "lang": "fr-FR",
        }
    ]
    page.get_by_text("Texte par défaut, jamais modifié").wait_for()  # nothing was saved
