"""The Messages pages, for an administrator who never read the code: the prompts grouped by
moment of the call in the order a call meets them, each under its French title with the
sentence saying when it is heard, its technical key small, the words in force and their
version, and an « Écouter » button with the words to read aloud."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from ivr.adapters.prompt_store import defaults, guides, moments
from ivr.domain.prompts import Prompts, placeholders_in
from ivr.services.accounts import add_user
from ivr.services.prompt_editing import EXAMPLES
from tests.conftest import log_in

EMAIL, PASSWORD = "admin@example.fr", "a long enough password"


@pytest.fixture
def admin(make_app, demo, clock):
    """An administrator's browser session (a test client) and its CSRF token."""
    add_user(demo, clock, EMAIL, PASSWORD, "admin")
    return log_in(make_app(WTF_CSRF_ENABLED=True), EMAIL, PASSWORD)


class Outline(HTMLParser):
    """What a page shows, in document order: its headings, the section (h2 id) each prompt's
    row is in, each row's texts, and its « Écouter » button."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[tuple[str, str, str]] = []  # (tag, id, text)
        self.rows: dict[str, dict] = {}  # prompt name -> row
        self.buttons: list[dict[str, str | None]] = []
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[str] = []  # on* attributes: none allowed
        self.words: list[str] = []  # every text, as a reader sees it
        self._heading: list[str] | None = None
        self._row: dict | None = None
        self._tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if tag in ("h1", "h2", "h3"):
            self._heading = [tag, found.get("id") or "", ""]
        elif tag == "tr" and (found.get("id") or "").startswith("prompt-"):
            section = next((h[1] for h in reversed(self.headings) if h[0] == "h2"), None)
            self._row = {"section": section, "texts": [], "tags": []}
            self.rows[found["id"].removeprefix("prompt-")] = self._row
        elif tag == "button":
            self.buttons.append(found)
            if self._row is not None:
                self._row["button"] = found
        elif tag == "script":
            self.scripts.append(found)
        if tag not in ("br", "input", "meta", "link"):
            self._tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._heading is not None and tag == self._heading[0]:
            self.headings.append((self._heading[0], self._heading[1], self._heading[2].strip()))
            self._heading = None
        if tag == "tr":
            self._row = None
        if self._tags and self._tags[-1] == tag:
            self._tags.pop()

    def handle_data(self, data: str) -> None:
        self.words.append(data)
        if self._heading is not None:
            self._heading[2] += data
        if self._row is not None and data.strip():
            self._row["texts"].append(data.strip())
            self._row["tags"].append(tuple(self._tags))

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.words).split())


def outline(html: str) -> Outline:
    parsed = Outline()
    parsed.feed(html)
    return parsed


# --- What config/prompts.toml says of each prompt ---------------------------------------------


def test_every_prompt_has_a_french_title_a_known_moment_and_when_it_is_heard():
    known = {moment.key for moment in moments()}
    lacking = [
        name
        for name, guide in guides().items()
        if not guide.title.strip() or guide.moment not in known or not guide.heard.strip()
    ]
    assert not lacking, f"config/prompts.toml: moment, title or heard missing for {lacking}"
    assert set(guides()) == set(defaults())
    titles = [guide.title for guide in guides().values()]
    assert len(set(titles)) == len(titles), "two prompts with one title: which is which?"
    for name, guide in guides().items():
        assert guide.heard.endswith("."), name  # a sentence
        assert guide.title != name and not re.fullmatch(r"[a-z_]+", guide.title), name


def test_the_moments_are_named_in_french_in_the_order_of_a_call_and_each_is_used():
    listed = [moment.key for moment in moments()]
    assert len(set(listed)) == len(listed)
    assert all(moment.name and moment.about for moment in moments())
    order = ["greeting", "identification", "details", "fault", "decision", "connecting"]
    assert [key for key in listed if key in order] == order
    assert listed.index("danger") < listed.index("staff")
    assert {guide.moment for guide in guides().values()} == set(listed)  # no empty moment


def test_every_value_a_prompt_may_use_has_an_example_to_read_aloud():
    for name, default in defaults().items():
        assert set(placeholders_in(default.text)) <= set(default.placeholders), name
        missing = set(default.placeholders) - set(EXAMPLES)
        assert not missing, f"{name}: no example for {missing}"


# --- The Messages page ------------------------------------------------------------------------


def test_the_prompts_are_grouped_by_moment_in_the_order_of_a_call(admin):
    client, _ = admin
    page = outline(client.get("/prompts").get_data(as_text=True))
    assert [tag for tag, _, _ in page.headings][:2] == ["h1", "h2"]
    assert all(tag == "h2" for tag, _, _ in page.headings[1:])  # one h2 per moment, in order
    sections = [heading_id for tag, heading_id, _ in page.headings if tag == "h2"]
    assert sections == [f"moment-{moment.key}" for moment in moments()]
    names = {f"moment-{moment.key}": moment.name for moment in moments()}
    assert [text for tag, _, text in page.headings if tag == "h2"] == list(names.values())
    assert names["moment-greeting"] == "Accueil" and names["moment-danger"] == "Danger"
    assert set(page.rows) == set(defaults())  # every prompt, once
    for name, row in page.rows.items():
        assert row["section"] == f"moment-{guides()[name].moment}", name
    assert page.rows["welcome"]["section"] == "moment-greeting"
    assert page.rows["unknown_client_id"]["section"] == "moment-identification"
    assert page.rows["safety_gas"]["section"] == "moment-danger"
    assert page.rows["staff_ask_pin"]["section"] == "moment-staff"


def test_each_prompt_shows_its_title_first_its_key_small_when_heard_and_the_text_in_force(admin):
    client, _ = admin
    page = outline(client.get("/prompts").get_data(as_text=True))
    for name, row in page.rows.items():
        guide = guides()[name]
        texts, tags = row["texts"], row["tags"]
        assert texts[0] == guide.title and "a" in tags[0], name  # the title first, a link
        key = texts.index(name)
        assert "code" in tags[key] and "small" in tags[key], name  # the key, small
        assert guide.heard in texts, name
    welcome = page.rows["welcome"]["texts"]
    assert welcome[0] == "Accueil"
    assert "Entendu au tout début de chaque appel" in " ".join(welcome)
    assert "Bonjour, service d'urgence chauffage." in welcome
    assert "Texte par défaut, jamais modifié" in welcome
    unknown = " ".join(page.rows["unknown_client_id"]["texts"])
    assert "Quand le numéro de contrat tapé n'est pas reconnu" in unknown


def test_a_saved_version_is_shown_with_its_number_and_read_aloud(admin):
    client, token = admin
    words = "Contrat de {name}, à {city} ? Si oui, tapez 1."
    client.post("/prompts/confirm_identity", data={"csrf_token": token, "text": words})
    page = outline(client.get("/prompts").get_data(as_text=True))
    row = page.rows["confirm_identity"]
    assert words in row["texts"]
    assert any(t.startswith("Version 1, enregistrée le ") and EMAIL in t for t in row["texts"])
    said = "Contrat de Syndic Résidence Les Pins, à Paris ? Si oui, tapez 1."
    assert row["button"]["data-say"] == said


def test_every_prompt_has_a_listen_button_with_its_words_filled_with_examples(admin):
    client, _ = admin
    html = client.get("/prompts").get_data(as_text=True)
    page = outline(html)
    prompts = Prompts(defaults())
    for name, row in page.rows.items():
        button = row["button"]
        assert button["type"] == "button" and "data-listen" in button, name
        assert button["aria-label"] == f"Écouter le message « {guides()[name].title} »", name
        assert button["data-say"] == prompts.text(name, EXAMPLES), name
        assert "{" not in button["data-say"], name  # every value replaced
    said = page.rows["confirm_identity"]["button"]["data-say"]
    assert said == (
        "Contrat 1 0 0 0 0 0 0 2 : Syndic Résidence Les Pins, à Paris. "
        "Si c'est exact, tapez 1. Sinon, tapez 2."
    )
    assert "Écouter</button>" in html


def test_the_page_runs_no_inline_script_and_its_script_is_served(admin):
    client, _ = admin
    answer = client.get("/prompts")
    page = outline(answer.get_data(as_text=True))
    assert page.scripts == [{"src": "/static/prompts.js", "defer": None}]
    assert page.handlers == []
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src" not in policy  # self only
    script = client.get("/static/prompts.js")
    assert script.status_code == 200 and "javascript" in script.content_type
    body = script.get_data(as_text=True)
    assert 'utterance.lang = "fr-FR"' in body and "innerHTML" not in body


def test_words_that_look_like_html_are_shown_as_words(admin):
    client, token = admin
    words = '<img src=x onerror="alert(1)"> Bonjour & bienvenue'
    client.post("/prompts/welcome", data={"csrf_token": token, "text": words})
    listing = client.get("/prompts").get_data(as_text=True)
    single = client.get("/prompts/welcome").get_data(as_text=True)
    for html in (listing, single):
        assert "<img" not in html and "&lt;img src=x onerror=" in html
        assert outline(html).handlers == []
    assert outline(listing).rows["welcome"]["button"]["data-say"] == words


# --- A prompt's own page ----------------------------------------------------------------------


def test_a_prompts_page_says_what_it_is_when_it_is_heard_and_reads_the_text_as_it_stands(admin):
    client, _ = admin
    html = client.get("/prompts/unknown_client_id").get_data(as_text=True)
    page = outline(html)
    assert page.headings[0] == ("h1", "", "Numéro de contrat non reconnu")
    assert [tag for tag, _, _ in page.headings[1:]] == ["h2"] * len(page.headings[1:])
    assert guides()["unknown_client_id"].heard in page.text
    assert "Moment de l'appel Identification du client" in page.text
    assert "<code>unknown_client_id</code>" in html
    assert '<label for="prompt-text">' in html and 'id="prompt-text" name="text"' in html
    assert '<label for="prompt-audio">' in html and 'id="prompt-audio" type="file"' in html
    listen = next(b for b in page.buttons if "data-listen" in b)
    assert listen["data-source"] == "prompt-text" and listen["type"] == "button"
    assert listen["aria-label"] == "Écouter le message « Numéro de contrat non reconnu »"
    assert listen["data-examples"] == "{}"  # no value to fill
    technical = re.search(
        r"<details[^>]*>\s*<summary>Détails techniques</summary>(.*?)</details>", html, re.DOTALL
    )
    assert technical and '<pre class="twiml">' in technical.group(1)  # the TwiML, tucked away
    assert "Ce numéro de contrat n&#39;est pas reconnu." in technical.group(1)


def test_a_prompts_page_gives_the_examples_of_its_own_values(admin):
    client, _ = admin
    page = outline(client.get("/prompts/confirm_identity").get_data(as_text=True))
    listen = next(b for b in page.buttons if "data-listen" in b)
    assert json.loads(listen["data-examples"]) == {
        "name": "Syndic Résidence Les Pins",
        "city": "Paris",
        "client_id": "1 0 0 0 0 0 0 2",
    }
