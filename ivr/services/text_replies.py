"""A text message to the out-of-hours number (Twilio's "A message comes in"): STOP, in its
French and English forms, stops the texts to the client (`caller_texts.stop`), START brings
them back; no other text is read, and the reply says so. Each reply is a prompt in force, its
words editable.

Only a whole message that is the keyword counts, give or take case, accents, punctuation and
a polite word (« Stop merci », « ARRÊT SMS »): « Arrêt de la chaudière » is no STOP, and its
sender is told to call."""

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum

from ivr.adapters.db import Database
from ivr.domain.triage import fold
from ivr.services import caller_texts
from ivr.services.reference import ReferenceCache


class Asked(Enum):
    STOP = "sms_stopped"  # the prompt that answers it
    START = "sms_restarted"
    NOTHING = "sms_unread"


STOPPING = frozenset(
    (
        "stop",
        "stop all",
        "stopall",
        "arret",
        "arreter",
        "desinscrire",
        "desinscription",
        "desabonner",
        "desabonnement",
        "unsubscribe",
        "opt out",
        "optout",
        "cancel",
        "end",
        "quit",
        "revoke",
    )
)
STARTING = frozenset(("start", "unstop"))
# Words around a keyword that do not change what it asks.
POLITE = frozenset(("sms", "svp", "stp", "merci", "please", "pls", "thanks", "thank", "you"))
_NOT_A_LETTER = re.compile(r"[^0-9a-z]+")


def normalised(body: str) -> str:
    """`body` as its words: lower case, accents removed, punctuation as spaces."""
    return " ".join(_NOT_A_LETTER.sub(" ", fold(body)).split())


def asked(body: str) -> Asked:
    """What a text asks: to stop the texts, to start them again, or nothing we read."""
    words = [w for w in dict.fromkeys(normalised(body).split()) if w not in POLITE]
    said = " ".join(words)
    if said in STOPPING:
        return Asked.STOP
    if said in STARTING:
        return Asked.START
    return Asked.NOTHING


def reply(db: Database, reference: ReferenceCache, number: str, body: str, at: datetime) -> str:
    """Do what the text from `number` (E.164) asks; the words to answer it with."""
    wanted = asked(body)
    if wanted is Asked.STOP:
        caller_texts.stop(db, number, at)
    elif wanted is Asked.START:
        caller_texts.start(db, number)
    return reference.prompts(db).text(wanted.value)
