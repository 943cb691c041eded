"""Every word the simulator's page shows, in French: its transcripts (the simulator keeps them
in its own notation, `CALLER presses 1`, which the tests read), whose phone each number is,
what the call waits for, the jobs, the summary sheets and the refusals."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ivr.domain.model import Directory
from ivr.domain.phones import digit_pairs
from ivr.simulator.phone import PhoneCall
from ivr.simulator.twiml import Ringing, Whispering


def duration(seconds: int | str) -> str:
    """`42 s`, `1 min 05 s`, `2 min`."""
    minutes, rest = divmod(int(seconds), 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min" + (f" {rest:02d} s" if rest else "")


@dataclass(frozen=True)
class Phonebook:
    """Whose each number is: `people[number] = (who, name)`, e.g. (`le technicien`,
    `Astreinte Paris Nord - principal`); a number not in it is named by its digits."""

    people: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, directory: Directory, **others: str | None) -> Phonebook:
        """The on-call lines, managers, legacy numbers and faxes of `directory`, and `others`
        (`national_duty=`, `operator=`, `ivr=`: numbers that may be unset)."""
        people: dict[str, tuple[str, str]] = {}
        for agency in directory.agencies.values():
            people[agency.fax] = ("le fax", f"agence {agency.name}")
            if agency.legacy_number:
                people[agency.legacy_number] = (
                    f"le service d'astreinte habituel de l'agence {agency.name}",
                    "",
                )
        for region in directory.regions.values():
            people[region.fax] = ("le fax", region.name)
        for cia, lines in directory.lines.items():
            agency_name = directory.agencies[cia].name if cia in directory.agencies else cia
            for line in lines:
                people[line.mobile] = ("le technicien", line.label or f"astreinte {agency_name}")
        for shifts in directory.shifts.values():
            for shift in shifts:
                people[shift.mobile] = ("le cadre", shift.name)
        names = {
            "national_duty": "la permanence nationale",
            "operator": "le centre d'appels",
            "ivr": "le numéro d'astreinte",
        }
        for key, number in others.items():
            if number:
                people[number] = (names[key], "")
        return cls(people)

    def who(self, number: str) -> str:
        """`le technicien (Astreinte Paris Nord - principal, 06 39 98 01 01)`, `le 01 99 ...`."""
        noun, name = self.people.get(number, ("", ""))
        if not noun:
            return f"le {digit_pairs(number)}"
        return f"{noun} ({name + ', ' if name else ''}{digit_pairs(number)})"

    def subject(self, number: str) -> str:
        """Who acts, at the start of a sentence: `Le technicien`, `Le cadre`."""
        noun = self.people.get(number, ("le correspondant", ""))[0]
        return noun[:1].upper() + noun[1:]

    def short(self, number: str) -> str:
        """`06 39 98 01 01 (Astreinte Paris Nord - principal)`, for lists and tables."""
        noun, name = self.people.get(number, ("", ""))
        return digit_pairs(number) + (f" ({name or noun})" if noun else "")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _of(who: str) -> str:
    """`de` before a name: `du technicien (...)`, `de la permanence nationale`."""
    if who.startswith("le "):
        return "du " + who[3:]
    return "de " + who


@dataclass(frozen=True)
class _Side:
    """Whose transcript it is: the words for its party (`subject`), and for the others."""

    book: Phonebook
    subject: str  # "L'appelant", "Le technicien"
    party: str  # whom this side is put through to, if not the number dialed ("l'appelant")
    call_line: Callable[[str, str], str]

    def who(self, number: str) -> str:
        return self.book.who(number)


_CALL_STATUS = {
    "completed": "terminé",
    "no-answer": "pas de réponse",
    "busy": "occupé",
    "failed": "échec",
    "canceled": "annulé",
}

# (pattern, French) for each line the simulator writes; numbers are named by the phonebook.
_Rule = tuple[re.Pattern[str], Callable[[re.Match[str], _Side], str]]
_RULES: list[_Rule] = [
    (re.compile(r"CALL (\S+) -> (\S+)"), lambda m, s: s.call_line(m[1], m[2])),
    (re.compile(r"IVR: (.*)"), lambda m, s: f"Serveur vocal : « {m[1]} »"),
    (re.compile(r"IVR beeps"), lambda m, s: "Serveur vocal : bip"),
    (re.compile(r"IVR hangs up"), lambda m, s: "Le serveur vocal raccroche"),
    (re.compile(r"IVR plays DTMF (.*)"), lambda m, s: f"Le serveur vocal compose {m[1]}"),
    (re.compile(r"IVR plays .*"), lambda m, s: "Le serveur vocal diffuse un enregistrement"),
    (
        re.compile(r"IVR dials (.*) \(timeout (\d+) s\)"),
        lambda m, s: (
            "Le serveur vocal appelle "
            + " et ".join(s.who(n) for n in m[1].split(", "))
            + f", sonnerie de {duration(m[2])} au plus"
        ),
    ),
    (re.compile(r"(?:CALLER|CALLEE) presses (.*)"), lambda m, s: f"{s.subject} tape {m[1]}"),
    (re.compile(r"presses nothing"), lambda m, s: f"{s.subject} ne tape rien"),
    (re.compile(r"presses (.*)"), lambda m, s: f"{s.subject} tape {m[1]}"),
    (re.compile(r'CALLER says "(.*)"'), lambda m, s: f"{s.subject} dit « {m[1]} »"),
    (re.compile(r"(?:CALLER|CALLEE) stays silent"), lambda m, s: f"{s.subject} ne répond rien"),
    (
        re.compile(r"CALLER leaves a (\d+) s message"),
        lambda m, s: f"{s.subject} laisse un message de {duration(m[1])}",
    ),
    (re.compile(r"TWILIO asks again"), lambda m, s: "Twilio renvoie sa dernière requête"),
    (re.compile(r"(?:CALLER|CALLEE) hangs up|hangs up"), lambda m, s: f"{s.subject} raccroche"),
    (re.compile(r"records nothing"), lambda m, s: "Aucun message n'est enregistré"),
    (
        re.compile(r"CALL ENDED after (\d+) s"),
        lambda m, s: f"Appel terminé, au bout de {duration(m[1])}",
    ),
    (
        re.compile(r"CALL ENDED \((\S+)\)"),
        lambda m, s: f"Appel terminé ({_CALL_STATUS.get(m[1], m[1])})",
    ),
    (re.compile(r"VOICEMAIL answers"), lambda m, s: "La messagerie répond"),
    (re.compile(r"CALLEE answers"), lambda m, s: f"{s.subject} décroche"),
    (
        re.compile(r"BRIDGED caller <-> (\S+)"),
        lambda m, s: f"Mis en relation avec {s.party or s.who(m[1])}",
    ),
    (re.compile(r"(\S+): the call fails|(\S+): failed"), lambda m, s: "L'appel échoue"),
    (re.compile(r"(\S+): busy"), lambda m, s: f"{_cap(s.who(m[1]))} : occupé"),
    (re.compile(r"(\S+): no.answer"), lambda m, s: f"{_cap(s.who(m[1]))} ne répond pas"),
    (
        re.compile(r"(\S+): answers \(voicemail\)"),
        lambda m, s: f"La messagerie {_of(s.who(m[1]))} répond",
    ),
    (re.compile(r"(\S+): answers"), lambda m, s: f"{_cap(s.who(m[1]))} décroche"),
    (
        re.compile(r"(\S+): conversation over after (\d+) s"),
        lambda m, s: f"Fin de la conversation, au bout de {duration(m[2])}",
    ),
    (
        re.compile(r"(\S+): stops ringing"),
        lambda m, s: f"Le téléphone {_of(s.who(m[1]))} ne sonne plus",
    ),
]


def _french(line: str, side: _Side) -> str:
    for pattern, words in _RULES:
        match = pattern.fullmatch(line)
        if match:
            return words(match, side)
    return line  # nothing the simulator writes: shown as it is


def _whisper_prefix(line: str) -> str | None:
    """The number whose whisper the line is of (`TECH(+336...): ...`), else None."""
    match = re.match(r"TECH\(([^)]*)\): ", line)
    return match[1] if match else None


def caller_transcript(lines: Iterable[str], book: Phonebook) -> list[str]:
    """A caller's call, as the page shows it: what the caller hears and does, and whom they
    are put through to; what the callees hear is on their own phones."""
    side = _Side(
        book,
        "L'appelant",
        "",
        lambda caller, ivr: (
            f"Appel de {digit_pairs(caller)} au numéro d'astreinte ({digit_pairs(ivr)})"
        ),
    )
    return [_french(line, side) for line in lines if _whisper_prefix(line) is None]


def callee_transcript(lines: Iterable[str], book: Phonebook, number: str, caller: str) -> list[str]:
    """What `number`'s phone heard and did while `caller`'s call was put through to it."""
    side = _Side(
        book,
        book.subject(number),
        f"l'appelant ({digit_pairs(caller)})",
        lambda _from, _to: "",
    )
    shown = []
    for line in lines:
        whose = _whisper_prefix(line)
        if whose == number:
            shown.append(_french(line.split(": ", 1)[1], side))
        elif whose is None and (
            line.startswith(f"{number}: ") or line == f"BRIDGED caller <-> {number}"
        ):
            text = _french(line, side)
            shown.append(f"{side.subject} décroche" if line == f"{number}: answers" else text)
    return shown


def outbound_transcript(lines: Iterable[str], book: Phonebook, to: str) -> list[str]:
    """A dispatcher's call to `to`, from its phone's side."""
    side = _Side(
        book,
        book.subject(to),
        "",
        lambda ivr, callee: (
            f"Appel du service d'astreinte ({digit_pairs(ivr)}) vers {book.who(callee)}"
        ),
    )
    return [_french(line, side) for line in lines]


def caller_status(call: PhoneCall, book: Phonebook) -> str:
    """What the call waits for, in one sentence."""
    transfer = call.transfer
    if call.ended:
        return "L'appel est terminé : plus de touches. Appelez à nouveau pour un autre essai."
    if isinstance(transfer, Ringing):
        phones = " et ".join(_of(book.who(n)) for n in transfer.numbers)
        return (
            f"Mise en relation : le téléphone {phones} sonne dans le panneau « Téléphones des "
            "techniciens et cadres ». Décrochez-y, laissez sonner ou laissez la messagerie "
            "répondre."
        )
    if isinstance(transfer, Whispering):
        return (
            f"{_cap(book.who(transfer.number))} a décroché et entend la demande : répondez "
            "sur son téléphone, dans le panneau « Téléphones des techniciens et cadres »."
        )
    if call.waiting_for == "record":
        return "Après le bip : laissez un message (bouton « Laisser un message ») ou raccrochez."
    if call.inputs == {"speech"}:
        return "Le serveur vocal attend une réponse parlée."
    if "speech" in call.inputs:
        return "Le serveur vocal attend votre réponse : tapez-la, ou dites-la."
    return "Le serveur vocal attend votre réponse : tapez-la."


def caller_refusal(call: PhoneCall, action: str) -> str:
    """Why the caller cannot do `action` now."""
    if call.ended:
        return (
            "L'appel est terminé : plus de touches."
            if action == "press"
            else ("L'appel est terminé.")
        )
    if call.waiting_for == "transfer":
        return (
            "L'appelant attend d'être mis en relation : répondez sur le téléphone qui sonne, "
            "ou raccrochez."
        )
    if call.waiting_for == "record":
        return (
            "Le serveur vocal enregistre un message : laissez-le, restez silencieux ou raccrochez."
        )
    if action == "message":
        return "Le serveur vocal n'enregistre pas de message maintenant : il attend une réponse."
    if action == "say":
        return "Cette question attend des touches, pas une réponse parlée."
    if action == "press" and "dtmf" not in call.inputs:
        return "Cette question attend une réponse parlée, pas des touches."
    return "Touches inconnues : seulement 0 à 9, * et #."


PICKUP_REFUSED = "Ce téléphone ne sonne plus, ou n'attend pas cette action."


# --- The dispatcher's jobs and sheets ------------------------------------------------------------

_JOB_STATUS = {
    "pending": "à venir",
    "running": "en cours",
    "waiting": "en attente de l'issue",
    "done": "faite",
    "failed": "en échec",
    "cancelled": "annulée",
}
_OUTCOME = {
    "reached": "personne jointe",
    "voicemail": "messagerie",
    "not_taken": "décroché sans prendre la demande",
    "no-answer": "pas de réponse",
    "busy": "occupé",
    "failed": "échec",
    "canceled": "annulé",
    "completed": "terminé",
    "delivered": "remise",
    "sent": "envoyé",
    "not_needed": "plus utile : la demande est prise en charge",
    "opted_out": "pas envoyé (le client a répondu STOP)",
    "accepted": "accepté",
    "rejected": "refusé",
    "gone": "fichier introuvable",
}
_ROLE = {
    "technician": "technicien",
    "manager": "cadre",
    "unreachable": "cadre",
    "caller": "client",
}
_PURPOSE = {
    "request": "demande en attente",
    "next_morning": "rappel du matin",
    "danger": "danger",
    "unreachable": "technicien injoignable",
}


def job_what(kind: str, payload: Mapping[str, Any]) -> str:
    """`Appel du technicien (rappel du matin)`, `SMS au cadre`, `Fiche récapitulative`."""
    role = _ROLE.get(str(payload.get("role", "")), "")
    if kind == "call_line":
        purpose = str(payload.get("purpose", "")).split("-")[0]  # `unreachable-12`
        purpose = _PURPOSE.get(purpose, "")
        tour = int(payload.get("round", 1) or 1)
        detail = ", ".join(filter(None, [purpose, f"{tour}e tour" if tour > 1 else ""]))
        whose = f"du {role}" if role else "d'une ligne"
        return f"Appel {whose}" + (f" ({detail})" if detail else "")
    if kind == "sms":
        about = " (technicien injoignable)" if payload.get("role") == "unreachable" else ""
        return "SMS" + (f" au {role}" if role else "") + about
    return {
        "sheet": "Fiche récapitulative (fax)",
        "delete_recordings": "Effacement des enregistrements échus",
        "import_clients": "Import du fichier clients",
    }.get(kind, "Tâche du système")


def job_state(status: str, outcome: str) -> str:
    """`faite : personne jointe`, `à venir`."""
    said = _JOB_STATUS.get(status, status)
    if outcome in _OUTCOME:
        return f"{said} : {_OUTCOME[outcome]}"
    deleted = re.fullmatch(r"(\d+) deleted", outcome)
    if deleted:
        return f"{said} : {deleted[1]} effacé(s)"
    if outcome.startswith("dealt with by"):
        return f"{said} : déjà prise en charge"
    return said  # "done", or a provider's own message: the back office shows it


def sheet_title(name: str) -> str:
    """`fiche-12-agence` -> `Fiche 12, pour l'agence`; a follow-up, a resend, another fax."""
    match = re.fullmatch(
        r"fiche-(\d+)(-suite-\d+)?-(agence|direction-regionale|fax-\d+)(?:-renvoi-(\d+))?", name
    )
    if not match:
        return name
    whom = {"agence": "pour l'agence", "direction-regionale": "pour la direction régionale"}
    to = whom.get(match[3]) or f"pour le fax {digit_pairs('+' + match[3][4:])}"
    return (
        f"Fiche {match[1]}"
        + (" (suite)" if match[2] else "")
        + f", {to}"
        + (f", renvoi {match[4]}" if match[4] else "")
    )
