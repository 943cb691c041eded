"""Words as a French voice should say them: the data the company sends is written for the eye
(« 7/7 », « 2 × 120 kW », « M. et Mme », « bd »), and a text-to-speech voice reads symbols
badly or not at all. Times are said as people say them: « demain samedi, à 8 heures »."""

from __future__ import annotations

import re
from datetime import datetime

from babel.dates import format_date

from ivr.domain.local_time import in_paris
from ivr.domain.model import Client, Contract

# Each pattern is replaced in turn, ignoring case but for the titles (« M. » is Monsieur, an
# « m. » is not).
_WRITTEN = (
    (r"\b7\s*/\s*7\b", "sept jours sur sept"),
    (r"\b24\s*h?\s*/\s*24\b", "vingt-quatre heures sur vingt-quatre"),
    (r"(?<=\d)\s*[×x]\s*(?=\d)", " fois "),
    (r"(?<=\d)\s*kW\b", " kilowatts"),
    (r"(?<=\d)\s*m²", " mètres carrés"),
    (r"(?<=\d)\s*°\s*C\b", " degrés"),
    (r"\bn°\s*", "numéro "),
    (r"\s*&\s*", " et "),
    (r"\bMM\.(?=\s)", "Messieurs"),
    (r"\bMmes\b\.?", "Mesdames"),
    (r"\bMme\b\.?", "Madame"),
    (r"\bMlle\b\.?", "Mademoiselle"),
    (r"\bM\.(?=\s)", "Monsieur"),
    (r"\bbd\b\.?", "boulevard"),
    (r"\bav\b\.?", "avenue"),
    (r"\bpl\b\.?", "place"),
    (r"\brte\b\.?", "route"),
    (r"\bimp\b\.?", "impasse"),
    (r"\bch(?:em)?\b\.?", "chemin"),
    (r"\bf(?:b)?g\b\.?", "faubourg"),
    (r"\bste\b\.?", "sainte"),
    (r"\bst\b\.?", "saint"),
    (r"\s+:\s+", ", "),  # « 7/7 individuel : intervention ... »: a pause, not « deux-points »
    (r"\s*/\s*", " "),
)
_CASED = (r"\bMM\.(?=\s)", r"\bM\.(?=\s)")
_PATTERNS = [
    (re.compile(pattern, 0 if pattern in _CASED else re.IGNORECASE), words)
    for pattern, words in _WRITTEN
]


def said(text: str) -> str:
    """`text` with what a voice would misread written out in words."""
    for pattern, words in _PATTERNS:
        text = pattern.sub(words, text)
    return " ".join(text.split())


def when_said(at: datetime, now: datetime) -> str:
    """An instant as a caller hears it, from `now`: « ce matin, à 8 heures », « demain
    samedi, à 8 heures 30 », « lundi, à midi », « samedi 2 janvier, à 8 heures »."""
    local, today = in_paris(at), in_paris(now).date()
    days = (local.date() - today).days
    weekday = str(format_date(local.date(), "EEEE", locale="fr_FR"))
    if days <= 0:
        day = "ce soir" if local.hour >= 18 else "ce matin" if local.hour < 12 else "aujourd'hui"
    elif days == 1:
        day = f"demain {weekday}"
    elif days < 7:
        day = weekday
    else:
        day = str(format_date(local.date(), "EEEE d MMMM", locale="fr_FR"))
    return f"{day}, à {hour_said(local.hour, local.minute)}"


def opening_said(opens: datetime | None, now: datetime) -> str:
    """When an agency sees to a request sent to it (`opens`: its next opening, None while it
    is open): « dès son ouverture, demain lundi, à 8 heures », or « aujourd'hui »."""
    return f"dès son ouverture, {when_said(opens, now)}" if opens else "aujourd'hui"


def hour_said(hour: int, minute: int = 0) -> str:
    """« 8 heures », « 8 heures 30 », « 1 heure 5 », « midi », « minuit », « minuit 15 »
    (never « 0 heure »)."""
    if hour == 0:
        words = "minuit"
    elif hour == 12 and not minute:
        words = "midi"
    else:
        words = f"{hour} heure" + ("s" if hour > 1 else "")
    return f"{words} {minute}" if minute else words


def contract_said(client: Client) -> dict[str, str]:
    """The contractual delay as the caller hears it (§5.1.2): « Votre contrat sept jours sur
    sept » and « une intervention le jour même », from the client file's free label
    (« 7/7 individuel : intervention le jour même »)."""
    contract = "Votre contrat"
    if client.contract is Contract.INDIVIDUAL_7_7:
        contract += " sept jours sur sept"
    delay = client.delay_label.rsplit(" : ", 1)[-1].strip()  # the kind of contract is said
    if delay.lower().startswith("intervention"):
        delay = f"une {delay[0].lower()}{delay[1:]}"
    return {"contract": contract, "delay": said(delay)}
