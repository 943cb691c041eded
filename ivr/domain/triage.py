"""What the caller reports: the kind of fault, and whether their words reveal a danger."""

from __future__ import annotations

import re
import unicodedata

from ivr.domain.labelled import Labelled


class Fault(Labelled):
    """The kind of fault, with its words on the sheet and for the technician."""

    NO_HEATING = "no_heating", "panne de chauffage"
    NO_HOT_WATER = "no_hot_water", "pas d'eau chaude"
    WATER_LEAK = "water_leak", "fuite d'eau"
    SAFETY_LOCK = "safety_lock", "chaudière en sécurité ou code erreur"  # of older requests
    OTHER = "other", "autre problème"


class Danger(Labelled):
    GAS = "gas", "odeur de gaz ou fuite de gaz"
    FIRE = "fire", "fumée, incendie ou explosion"
    CARBON_MONOXIDE = "carbon_monoxide", "malaise ou monoxyde de carbone"
    OTHER = "other", "autre danger"


# Words (accents folded) that reveal a danger, and the danger they point to; the first of this
# list found in the caller's words decides: gas first, the most frequent and most urgent, then
# the precise words before a mere smell (« odeur de brûlé » is a fire).
_DANGER_WORDS: tuple[tuple[str, Danger], ...] = (
    (r"gaz", Danger.GAS),
    (r"fumees?", Danger.FIRE),
    (r"incendies?", Danger.FIRE),
    (r"feux?", Danger.FIRE),
    (r"flammes?", Danger.FIRE),
    (r"brul(?:e|ee|es|ees|er|ure)", Danger.FIRE),
    (r"explos(?:ion|ions|e|er)", Danger.FIRE),
    (r"etincelles?|court[- ]circuit", Danger.FIRE),
    (r"monoxyde", Danger.CARBON_MONOXIDE),
    (r"intoxi(?:que|quee|ques|quees|cation)", Danger.CARBON_MONOXIDE),
    (r"malaises?", Danger.CARBON_MONOXIDE),
    (r"mal (?:a|à) la tete", Danger.CARBON_MONOXIDE),
    (r"evanoui(?:e|s|es)?", Danger.CARBON_MONOXIDE),
    # A smell, with nothing more precise said: most often gas.
    (r"odeurs?", Danger.GAS),
    (r"ca sent", Danger.GAS),
)
_PATTERNS = [(re.compile(rf"\b(?:{words})\b"), danger) for words, danger in _DANGER_WORDS]


def fold(text: str) -> str:
    """Lower case, accents removed: speech transcripts vary in both."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def danger_in(words: str) -> tuple[Danger, str] | None:
    """The danger the words reveal and the word that revealed it, or None."""
    folded = fold(words)
    for pattern, danger in _PATTERNS:
        match = pattern.search(folded)
        if match:
            return danger, match.group(0)
    return None


_SPOKEN_DIGITS = {
    "zero": "0",
    "un": "1",
    "une": "1",
    "deux": "2",
    "trois": "3",
    "quatre": "4",
    "cinq": "5",
    "six": "6",
    "sept": "7",
    "huit": "8",
    "neuf": "9",
}


def spoken_digits(words: str) -> str:
    """The digits in a spoken answer: `1 2 34`, `zéro six, douze` (words for 0-9 only)."""
    out = []
    for token in re.findall(r"\d+|[a-z]+", fold(words)):
        out.append(token if token.isdigit() else _SPOKEN_DIGITS.get(token, ""))
    return "".join(out)
