"""The summary sheet ("fiche récapitulative") faxed to the agency, as a one-page A4 PDF.

The agency reads it in the morning, often from a fax machine: black on white, big words for
what matters (was the technician reached, is there a danger), French dates in Paris time.
Only reportlab's built-in fonts are used (Helvetica: Latin-1 French accents, no font files).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import escape

from babel.dates import format_datetime
from reportlab.lib import colors  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.enums import TA_CENTER  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.units import mm  # type: ignore[import-untyped, unused-ignore]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped, unused-ignore]
from reportlab.platypus import (  # type: ignore[import-untyped, unused-ignore]
    Flowable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from ivr.domain.local_time import in_paris
from ivr.domain.phones import digit_pairs
from ivr.domain.sheet_words import ACTIONS, CALL_RESULTS, UNKNOWN
from ivr.domain.trace_words import decision_said
from ivr.domain.wording import day, when

MARGIN = 15 * mm
FRAME_PADDING = 6  # reportlab's default, inside the margins on each side
ROW_WIDTHS = ["28%", "72%"]
ATTEMPT_WIDTHS = ["21%", "19%", "30%", "30%"]


@dataclass(frozen=True)
class Budget:
    """How much of the free text and of the attempts a sheet shows."""

    attempts: int
    words: int  # the caller's words
    text: int  # any other value


# Tried in turn until the sheet fits one page. Every value is cut, so the last one fits
# whatever the data (a test renders the worst case): nothing is ever scaled down or split.
BUDGETS = (
    Budget(attempts=10, words=900, text=200),
    Budget(attempts=6, words=700, text=120),
    Budget(attempts=6, words=400, text=80),
    Budget(attempts=4, words=200, text=60),
    Budget(attempts=1, words=100, text=60),  # a busy night: the latest call, values whole
    Budget(attempts=2, words=40, text=16),  # only for absurd data: keeps the sheet on a page
)


@dataclass(frozen=True)
class SheetAttempt:
    """One call placed to a technician or manager for this request."""

    number: str
    role: str  # as the sheet says it: « technicien d'astreinte »
    at: datetime
    outcome: str  # "no-answer", "busy", "voicemail", "silent", "completed", ...
    reached: bool


@dataclass(frozen=True)
class SheetReach:
    """Who took the request, how and when (§5.2: the sheet says whether someone was reached)."""

    title: str  # « Technicien joint », « Cadre régional joint », « Permanence nationale jointe »
    who: str  # « Cadre régional d'astreinte Claire Lefèvre »
    number: str
    how: str  # « mis en relation avec l'appelant pendant son appel »
    at: datetime


@dataclass(frozen=True)
class SheetData:
    """Everything the sheet shows; None is "not known" and is printed as such."""

    reference: str
    received_at: datetime
    client_id: str | None
    client_name: str | None
    address: str | None
    postcode: str | None
    city: str | None
    phones: tuple[str, ...]
    callback_number: str | None
    equipment: str | None
    contract: str | None
    delay: str | None
    fault: str | None
    caller_words: str | None
    danger: str | None
    action: str
    reason: str
    reached: SheetReach | None
    awaited: str  # who was to be reached, as the box says it: « Technicien joint »
    attempts: tuple[SheetAttempt, ...]
    next_morning_at: datetime | None
    message_left: bool
    message_seconds: int
    voicemail_message_left: bool
    agency: str | None  # its name and code
    details_confirmed: bool | None = None  # the address and equipment read back to the caller
    title_suffix: str = ""
    manager_alerted: str | None = None  # the technician's line unreachable, the manager told
    follow_up: str | None = None  # what the technician reported (§6), when they did
    called_again: tuple[str, ...] = ()  # what each later call of the client did, in order


def render_sheet(data: SheetData) -> bytes:
    """The sheet as a one-page A4 PDF; the same data always gives the same bytes."""
    buffer = io.BytesIO()
    document = _document(buffer, f"Fiche récapitulative {data.reference}")
    document.build(_fitting_story(data, document.width, document.height))
    return buffer.getvalue()


@dataclass(frozen=True)
class FollowUpData:
    """A short sheet that tells the agency what changed since its sheet went: the morning's
    call reached the technician (or not), the technician said what came of the request."""

    reference: str
    received_at: datetime
    agency: str | None
    client: str  # name, address, town; or « client non identifié »
    change: str  # one sentence: who, what
    at: datetime


def render_follow_up(data: FollowUpData) -> bytes:
    """The follow-up sheet as a one-page A4 PDF; the same data always gives the same bytes."""
    buffer = io.BytesIO()
    document = _document(buffer, f"Fiche de suite {data.reference}")
    received, happened = in_paris(data.received_at), in_paris(data.at)
    lines = [
        f"Demande reçue le {day(received.date())} à {received:%H:%M}",
        f"Agence : {_clip(data.agency or UNKNOWN, 120)}",
        f"Client : {_clip(data.client, 200)}",
    ]
    box = Table(
        [
            [Paragraph(_text(f"Le {day(happened.date())} à {happened:%H:%M}"), _STYLES["bold"])],
            [Paragraph(_text(_clip(data.change, 600)), _STYLES["centred"])],
        ],
        colWidths=["100%"],
    )
    box.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 2, colors.black)]))
    title = f"Fiche de suite — réf. {_clip(data.reference, 40)}"
    document.build(
        [
            Paragraph(_text(title), _STYLES["title"]),
            *(Paragraph(_text(line), _STYLES["body"]) for line in lines),
            Spacer(1, 4 * mm),
            box,
        ]
    )
    return buffer.getvalue()


def _document(buffer: io.BytesIO, title: str) -> SimpleDocTemplate:
    return SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=_plain(title),
        author="Serveur d'astreinte",
        invariant=True,  # no creation date or random id: a re-sent sheet is the same file
    )


def _fitting_story(data: SheetData, width: float, height: float) -> list[Flowable]:
    """The most generous story that fits the page's frame."""
    canvas = Canvas(io.BytesIO(), pagesize=A4)
    for budget in BUDGETS[:-1]:
        story = _content(data, budget)
        if _height(story, width - 2 * FRAME_PADDING, canvas) <= height - 2 * FRAME_PADDING:
            return story
    return _content(data, BUDGETS[-1])


def _height(story: list[Flowable], width: float, canvas: Canvas) -> float:
    total = 0.0
    for flowable in story:
        _, drawn = flowable.wrapOn(canvas, width, 10_000)
        total += drawn + flowable.getSpaceBefore() + flowable.getSpaceAfter()
    return total


# -- the sheet's sections ------------------------------------------------------------------


def _content(data: SheetData, budget: Budget) -> list[Flowable]:
    story: list[Flowable] = [*_header(data, budget)]
    if data.danger:
        story += [_banner(f"DANGER : {_clip(data.danger, budget.text)}"), Spacer(1, 3 * mm)]
    story += [*_reached_box(data, budget), Spacer(1, 3 * mm)]
    followed = [("Suite indiquée", _clip(data.follow_up, budget.text))] if data.follow_up else []
    again = _again_rows(data, budget) if data.called_again else []
    if followed and again and budget is BUDGETS[-1]:  # absurd data: one heading for both
        followed, again = followed + again, []
    if followed:
        story += _section("Suite donnée", followed)
    if again:
        story += _section("Rappels du client", again)
    story += _section("Décision", _decision_rows(data, budget))
    story += _section("Client", _client_rows(data, budget))
    story += _section("Demande", _request_rows(data, budget))
    story += [_heading("Appels passés"), _attempts_table(data, budget), Spacer(1, 2 * mm)]
    story += _section("Messages", _message_rows(data))
    story.append(Paragraph(_text(f"Réf. {_clip(data.reference, budget.text)}"), _STYLES["small"]))
    return story


def _header(data: SheetData, budget: Budget) -> list[Flowable]:
    received = in_paris(data.received_at)
    title = f"Fiche récapitulative d'astreinte{_clip(data.title_suffix, budget.text)}"
    lines = [
        f"Appel reçu le {day(received.date())} à {received:%H:%M}",
        f"Agence : {_cut(data.agency, budget.text) or UNKNOWN}",
        f"Référence : {_clip(data.reference, budget.text)}",
    ]
    return [
        Paragraph(_text(title), _STYLES["title"]),
        *(Paragraph(_text(line), _STYLES["body"]) for line in lines),
        Spacer(1, 3 * mm),
    ]


def _banner(words: str) -> Table:
    """White on black: survives a fax machine better than any colour."""
    table = Table([[Paragraph(_text(words), _STYLES["banner"])]], colWidths=["100%"])
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), colors.black),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    return table


def _reached_box(data: SheetData, budget: Budget) -> list[Flowable]:
    """The one thing the agency must see first: was someone reached, who, how and when."""
    reach = data.reached
    headline = f"{reach.title} : OUI" if reach else f"{data.awaited} : NON"
    cells: list[Flowable] = [Paragraph(_text(_clip(headline, 60)), _STYLES["reached"])]
    if reach is not None:
        cut = 160 if budget is not BUDGETS[-1] else budget.text  # our words: whole
        who = f"{_clip(reach.who, cut)}, {_clip(_phone(reach.number), 40)}"
        how = f"{_clip(reach.how, cut)}, {_time(reach.at, in_paris(data.received_at).date())}"
        cells += [Paragraph(_text(line), _STYLES["centred"]) for line in (who, how)]
    elif not data.attempts:
        cells.append(Paragraph("Aucun appel passé", _STYLES["centred"]))
    if data.manager_alerted:  # the technician's line unreachable: who was told
        cells.append(Paragraph(_text(_clip(data.manager_alerted, 200)), _STYLES["centred"]))
    if data.next_morning_at is not None:
        planned = f"Rappel du technicien prévu le {when(data.next_morning_at)}"
        cells.append(Paragraph(_text(planned), _STYLES["centred"]))
    table = Table([[cell] for cell in cells], colWidths=["100%"])
    table.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 2, colors.black)]))
    return [table]


def _again_rows(data: SheetData, budget: Budget) -> list[tuple[str, str]]:
    """The client's later calls, our words whole but for absurd data; the latest when they
    are too many (the last may have closed the request): half as many as attempts, at least
    the last, its rank telling how many came before."""
    hidden = max(len(data.called_again) - max(budget.attempts // 2, 1), 0)
    rows = [("…", f"{hidden} rappel(s) plus ancien(s) non listé(s)")] if hidden else []
    rows, cut = (rows, 400) if budget is not BUDGETS[-1] else ([], budget.text)
    for n, said in enumerate(data.called_again[hidden:], hidden + 1):
        rows.append((f"{n}{'er' if n == 1 else 'e'} rappel", _clip(said, cut)))
    return rows


def _decision_rows(data: SheetData, budget: Budget) -> list[tuple[str, str | None]]:
    """The reason is one sentence of the rules: whole, but for absurd data."""
    identified = data.client_id is not None
    action = decision_said(data.action, identified, ACTIONS, _clip(data.action, budget.text))
    reason = data.reason if budget is not BUDGETS[-1] else _clip(data.reason, budget.text)
    return [("Suite donnée", action), ("Motif", reason or None)]


def _client_rows(data: SheetData, budget: Budget) -> list[tuple[str, str | None]]:
    town = " ".join(part for part in (data.postcode, data.city) if part)
    phones = ", ".join(_phone(number) for number in data.phones)
    callback = _phone(data.callback_number) if data.callback_number else None
    checked = {
        True: "confirmés par l'appelant",
        False: "SIGNALÉS INEXACTS par l'appelant : à vérifier avec lui",
        None: "non confirmés",
    }
    return [
        ("N° client", _cut(data.client_id, budget.text) or "client non identifié"),
        ("Nom", _cut(data.client_name, budget.text)),
        ("Adresse", _cut(data.address, budget.text)),
        ("Commune", _cut(town, budget.text)),
        ("Adresse et équipement", checked[data.details_confirmed] if data.client_id else None),
        ("Téléphones", _cut(phones, budget.text)),
        ("Rappeler au", _cut(callback, budget.text)),
    ]


def _request_rows(data: SheetData, budget: Budget) -> list[tuple[str, str | None]]:
    # Speech recognition and keyed text come with any spacing: one paragraph on the sheet.
    words = " ".join(data.caller_words.split()) if data.caller_words else None
    return [
        ("Équipement", _cut(data.equipment, budget.text)),
        ("Contrat", _cut(data.contract, budget.text)),
        ("Délai contractuel", _cut(data.delay, budget.text)),
        ("Panne", _cut(data.fault, budget.text)),
        ("Danger signalé", _cut(data.danger, budget.text) or "non"),
        ("Paroles de l'appelant", _cut(words, budget.words)),
    ]


def _message_rows(data: SheetData) -> list[tuple[str, str | None]]:
    caller = (
        f"message enregistré ({_duration(data.message_seconds)})"
        if data.message_left
        else "aucun message"
    )
    voicemail = "message laissé" if data.voicemail_message_left else "aucun message laissé"
    return [("Message de l'appelant", caller), ("Messagerie de la personne appelée", voicemail)]


def _attempts_table(data: SheetData, budget: Budget) -> Flowable:
    if not data.attempts:
        return Paragraph("Aucune tentative d'appel.", _STYLES["body"])
    received_day = in_paris(data.received_at).date()
    rows = [[_cell(h, "bold") for h in ("Heure", "Numéro", "Destinataire", "Résultat")]]
    cut = min(40, budget.text // 2)  # narrow columns
    hidden = len(data.attempts) - budget.attempts  # the oldest: the latest say how it ended
    if hidden > 0:
        rows.append([_cell(f"… {hidden} tentative(s) plus ancienne(s) non listée(s)"), "", "", ""])
    for attempt in data.attempts[-budget.attempts :]:
        outcome = "JOINT" if attempt.reached else CALL_RESULTS.get(attempt.outcome, attempt.outcome)
        rows.append(
            [
                _cell(_time(attempt.at, received_day)),
                _cell(_clip(_phone(attempt.number), cut)),
                _cell(_clip(attempt.role, cut)),
                _cell(_clip(outcome, cut)),
            ]
        )
    table = Table(rows, colWidths=ATTEMPT_WIDTHS)
    table.setStyle(_GRID)
    if hidden > 0:
        table.setStyle(TableStyle([("SPAN", (0, 1), (-1, 1))]))
    return table


def _section(title: str, rows: Sequence[tuple[str, str | None]]) -> list[Flowable]:
    """A heading over a two-column table: label, value."""
    table = Table(
        [[_cell(label, "bold"), _cell(value)] for label, value in rows], colWidths=ROW_WIDTHS
    )
    table.setStyle(_GRID)
    return [_heading(title), table, Spacer(1, 2 * mm)]


def _heading(title: str) -> Paragraph:
    return Paragraph(_text(title), _STYLES["section"])


# -- words and numbers ---------------------------------------------------------------------


def _phone(number: str) -> str:
    """A number as the French read it; a name (or anything but E.164) as it is."""
    return digit_pairs(number) if number.startswith("+") else number


def _time(at: datetime, received_day: date) -> str:
    """`23:06` on the day of the call, `ven. 25/12 à 08:00` on another: one line either way."""
    local = in_paris(at)
    if local.date() == received_day:
        return f"{local:%H:%M}"
    return str(format_datetime(local, "EEE d/MM 'à' HH:mm", locale="fr_FR"))


def _duration(seconds: int) -> str:
    minutes, rest = divmod(max(seconds, 0), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def _clip(value: str, limit: int) -> str:
    """At most `limit` characters, cut on a word with "…" when it is longer."""
    if len(value) <= limit:
        return value
    head = value[: limit - 1]
    word_end = head.rfind(" ")
    if word_end > limit * 2 // 3:  # on a word, unless that loses too much
        head = head[:word_end]
    return head.rstrip() + "…"


def _cut(value: str | None, limit: int) -> str | None:
    """`_clip` for a value that may be unknown (None or empty: printed as such)."""
    return _clip(value, limit) if value else None


def _plain(value: str) -> str:
    """What Helvetica can draw: Windows-1252, anything else becomes `?`."""
    return value.encode("cp1252", errors="replace").decode("cp1252")


def _text(value: str) -> str:
    """Free text as paragraph markup: drawable, and never read as tags."""
    return escape(_plain(value))


def _cell(value: str | None, style: str = "body") -> Paragraph:
    return Paragraph(_text(value if value else UNKNOWN), _STYLES[style])


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName="Helvetica", fontSize=10, leading=12)

    def derived(name: str, **changes: Any) -> ParagraphStyle:
        return ParagraphStyle(name, parent=body, **changes)

    return {
        "body": body,
        "bold": derived("bold", fontName="Helvetica-Bold"),
        "small": derived("small", fontSize=8, leading=10, textColor=colors.black),
        "title": derived("title", fontName="Helvetica-Bold", fontSize=16, leading=20),
        "section": derived(
            "section", fontName="Helvetica-Bold", fontSize=12, leading=15, spaceBefore=2
        ),
        "centred": derived("centred", alignment=TA_CENTER, fontSize=11, leading=14),
        "reached": derived(
            "reached", fontName="Helvetica-Bold", fontSize=20, leading=26, alignment=TA_CENTER
        ),
        "banner": derived(
            "banner",
            fontName="Helvetica-Bold",
            fontSize=18,
            leading=22,
            alignment=TA_CENTER,
            textColor=colors.white,
        ),
    }


def _grid() -> TableStyle:
    return TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 1),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]
    )


_STYLES = _styles()
_GRID = _grid()
