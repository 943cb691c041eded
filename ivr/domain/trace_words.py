"""The back office's words for what the trace stores as codes: a request's events said as
French sentences, the jobs' kinds and states, Twilio's call outcomes. An agency assistant
reads « Le technicien d'astreinte (06 39 98 01 01) ne répond pas », never `line_no-answer`.

Pure: the people behind the numbers are named by the caller of `event_said` (`name`), who
knows the directory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ivr.domain.local_time import in_paris
from ivr.domain.model import Directory
from ivr.domain.outcomes import RequestOutcome
from ivr.domain.phones import digit_pairs
from ivr.domain.progress import SOLVED_BY_CLIENT, TAKEN_ON_CALL_AGAIN
from ivr.domain.triage import Danger, Fault

ACTIONS = {
    "call_now": "Technicien appelé",
    "call_next_morning": "Technicien le lendemain matin",
    "fax_only": "Fiche seule",
    "escalate": "Danger : cadre régional",
    "not_covered": "Non couvert",
    "legacy": "Centre d'appels",
    "added": "Ajout à une demande en cours",
}


def decision_said(
    action: str | None,
    identified: bool,
    labels: Mapping[str, str] = ACTIONS,
    unknown: str = "raccroché avant la décision",
) -> str:
    """A request's decision, as the agency reads it: in `labels` (the back office's, or the
    sheet's own), `unknown` for a code they lack. An unidentified caller's « non couvert » is
    no verdict on a contract: they may be a client who keyed a wrong number, to call back."""
    if action == "not_covered" and not identified:
        return "Appelant non identifié : message pour l'agence"
    return labels.get(action or "", unknown)


JOB_KINDS = {
    "call_line": "Appel d'astreinte",  # a technician's line or a manager: « Pour » says whom
    "sms": "SMS",
    "sheet": "Fiche récapitulative",  # to the agency, or the regional direction: « Pour »
    "import_clients": "Import du fichier clients",
    "delete_recordings": "Effacement des enregistrements anciens",
}
JOB_STATES = {
    "pending": "prévue",
    "running": "en cours",
    "waiting": "en attente du résultat",  # Twilio's or the fax provider's
    "done": "faite",
    "failed": "en échec",
    "cancelled": "annulée",
}
# How a call placed to someone ended: Twilio's statuses and the dispatcher's own outcomes.
CALL_OUTCOMES = {
    "reached": "joint",
    "completed": "a décroché",
    "voicemail": "messagerie",
    "not_taken": "a décroché sans prendre la demande",
    "no-answer": "ne répond pas",
    "busy": "occupé",
    "failed": "appel impossible",
    "canceled": "appel annulé",
    "silent": "n'a rien tapé à l'annonce",
    "declined": "a refusé l'appel",
    "caller_gone": "l'appelant a raccroché avant",
    "sent": "envoyé",
    "mailed only": "envoyée par e-mail seulement (pas de SMS sans Twilio)",
    "delivered": "reçue",
    "not_needed": "inutile : déjà prise en charge",
    "gone": "déjà importé",
    "accepted": "accepté",
    "rejected": "refusé",
    "opted_out": "non envoyé : le client a répondu STOP",
}
# What a client who called again about their request in progress chose (`called_again`).
CALLED_AGAIN = {"add": "message ajouté", "solved": "problème réglé, demande close"}
_CHOSEN = {**CALLED_AGAIN, "add": "complément à la demande"}  # as the call's trace says it
IMPORT_KINDS = {"clients": "fichier clients", "directory": "annuaire"}
_NATIONAL, _MANAGER = "à la permanence nationale", "au cadre régional"  # told of a request
IMPORT_STATES = {
    "running": "en cours",
    "accepted": "accepté",
    "rejected": "refusé : rien n'a changé",
    "failed": "interrompu : rien n'a changé",
}
ALERTS = {  # what an operator must look at, said as the alert's title
    "job_failed": "Tâche abandonnée après ses essais",
    "planning_failed": "Suite d'un appel non planifiée",
    "nobody_to_escalate_to": "Danger : personne à prévenir",
    "no_manager": "Aucun cadre d'astreinte au planning",
    "manager_unreached": "Cadre d'astreinte injoignable",
    "technician_unreached": "Personne de la chaîne joint",
    "retention_failed": "Effacement des vieux enregistrements en échec",
    "webhook_failed": "Erreur en répondant à Twilio : réponse de secours donnée",
    "webhook_malformed": "Requête signée refusée (pas un de nos appels)",
    "fallback": "Twilio a utilisé l'adresse de secours",
    "emergency_message": "Message laissé en mode secours : à écouter et rappeler",
    "message_found": "Message d'un appelant retrouvé chez Twilio (son avis perdu) : sur sa demande",
    "recordings_unchecked": "Messages perdus non recherchés chez Twilio depuis 30 min",
    "database_unreachable": "Base de données injoignable : réponse de secours donnée",
    "unit_failed": "Service arrêté en échec (importation refusée, service abandonné)",
    "twilio_unset": "Répartiteur démarré sans les réglages Twilio : appels et SMS impossibles",
}
AUDIT_ACTIONS = {
    "call_processed": "demande marquée traitée",
    "call_processed_undone": "demande remise à traiter",
    "import_clients_sent": "fichier clients envoyé",
    "import_clients": "fichier clients importé",
    "import_directory": "annuaire importé",
    "job_retried": "tâche relancée",
    "pin_set": "code personnel enregistré",
    "prompt_audio": "enregistrement de message joint",
    "prompt_rolled_back": "message revenu à une version",
    "prompt_saved": "message modifié",
}
AUDIT_KEYS = {
    "file": "fichier",
    "allow_shrink": "baisse du nombre de clients acceptée",
    "accepted": "accepté",
    "number": "numéro",
    "prompt": "message",
    "version": "version",
    "to": "version",
    "job": "tâche",
    "kind": "type",
    "call": "demande",
}


def audit_value(value: Any) -> str:
    """A value of the audit log's detail, in words."""
    if isinstance(value, bool):
        return "oui" if value else "non"
    return JOB_KINDS.get(str(value), str(value))


ACCOUNT_ROLES = {"admin": "administrateur", "manager": "cadre régional", "agency": "agence"}

Name = Callable[[str], str]  # a phone number -> who has it, for a sentence


def namer(
    directory: Directory, national_duty_number: str | None, agency: str | None = None
) -> Name:
    """Who has a number, as a sentence names them: « Jeanne Roux, cadre régional (06 …) »,
    « le technicien d'astreinte de Paris Nord (06 …) », « la permanence nationale (…) »,
    « l'agence Paris Nord (01 …) » (its fax), « la direction régionale Est (03 …) ».
    `agency`: the request's, named first when agencies share a line or a fax."""
    first = directory.agencies.get(agency or "")
    agencies = [first] if first else []
    agencies += [a for a in directory.agencies.values() if a is not first]

    def name(number: str) -> str:
        if not number:
            return "quelqu'un"
        pairs = digit_pairs(number)
        if number == national_duty_number:
            return f"la permanence nationale ({pairs})"
        manager = directory.manager_named(number)
        if manager:
            return f"{manager}, cadre régional ({pairs})"
        for each in agencies:
            if any(line.mobile == number for line in directory.lines.get(each.cia, ())):
                return f"le technicien d'astreinte de l'agence {each.name} ({pairs})"
        # A sheet's fax (or an office's phone): the agency, or the regional direction.
        for each in agencies:
            if number in (each.fax, each.phone):
                return f"l'agence {each.name} ({pairs})"
        for region in directory.regions.values():
            if number in (region.fax, region.phone):
                return f"la direction régionale {region.name} ({pairs})"
        return pairs

    return name


def label(kind: type[Fault] | type[Danger] | type[RequestOutcome], code: str | None) -> str:
    """A stored code's French label; the code itself if it is none of the kind's."""
    if not code:
        return ""
    try:
        return kind(code).label
    except ValueError:
        return code


def job_state(status: str, outcome: str | None) -> str:
    """« faite : ne répond pas », « annulée » ...: a job's state and how it ended."""
    said = JOB_STATES.get(status, status)
    if not outcome:
        return said
    if outcome.startswith(("dealt with by ", TAKEN_ON_CALL_AGAIN)):
        return f"{said} : prise en charge entre-temps"
    if outcome.startswith(SOLVED_BY_CLIENT):
        return f"{said} : problème réglé selon le client"
    ended = CALL_OUTCOMES.get(outcome, outcome)
    return f"{said} : {ended}"


def job_for(payload: Mapping[str, Any], name: Name) -> str:
    """Whom a job calls or texts: « le client (06 11 11 11 11) » for the client's own texts,
    else the person named; « — » when nobody (a sheet, an import)."""
    numbers = payload.get("numbers") or [""]
    to = payload.get("to") or numbers[min(payload.get("index", 0), len(numbers) - 1)]
    if not to:
        return "—"
    return f"le client ({digit_pairs(to)})" if payload.get("role") == "caller" else name(to)


def at_said(at: datetime, day_of: datetime) -> str:
    """« à 23 h 40 » (Paris time), « le 19/12 à 8 h 05 » when not the day of `day_of`."""
    local = in_paris(at)
    said = f"à {local.hour} h {local.minute:02}"
    return said if in_paris(day_of).date() == local.date() else f"le {local:%d/%m} {said}"


def addition_said(
    choice: str, tried_lines: bool, tried_before: bool, reached_by: str, seconds: int
) -> str:
    """What a call that added to a request did, in words: « message ajouté (15 s) »,
    « technicien appelé de nouveau, sans réponse ; message ajouté (15 s) », « problème
    réglé, demande close ». `tried_lines`: the call tried the technician's lines;
    `tried_before`: the request had (not one the agency was to see to at its opening)."""
    if choice == "solved":
        return CALLED_AGAIN["solved"]
    parts = []
    if tried_lines:
        outcome = f"mis en relation avec {reached_by}" if reached_by else "sans réponse"
        parts.append(f"technicien appelé{' de nouveau' if tried_before else ''}, {outcome}")
    if seconds:
        parts.append(f"{CALLED_AGAIN['add']} ({seconds} s)")
    elif not reached_by:
        parts.append("aucun message laissé")
    return " ; ".join(parts)


def event_said(kind: str, detail: Mapping[str, Any], name: Name) -> str:
    """One event of a request's trace, as a sentence."""
    if kind.startswith("line_") and kind not in _SENTENCES:
        outcome = kind.removeprefix("line_")
        return f"{_cap(name(detail.get('number', '')))} : {CALL_OUTCOMES.get(outcome, outcome)}."
    sentence = _SENTENCES.get(kind)
    if sentence is None:
        return f"Étape « {kind} »."  # a new kind of event, not worded yet: still readable
    return sentence(detail, name)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _seconds(detail: Mapping[str, Any]) -> str:
    return f"{detail.get('seconds', 0)} s"


def _ended(detail: Mapping[str, Any], name: Name) -> str:
    if detail.get("status") == "never reported":
        return "Fin d'appel jamais signalée par Twilio : tenue pour terminée."
    if detail.get("asked"):
        return "Fin de l'appel, apprise en la demandant à Twilio (son signal s'était perdu)."
    return "L'appelant a raccroché." if detail.get("by_caller") else "Fin de l'appel."


def _details(detail: Mapping[str, Any], name: Name) -> str:
    confirmed = "confirmés" if detail.get("confirmed") else "non confirmés par l'appelant"
    callback = detail.get("callback")
    return f"Adresse et équipement {confirmed}" + (
        f" ; rappeler au {digit_pairs(callback)}." if callback else "."
    )


def _dial_outcome(detail: Mapping[str, Any], name: Name) -> str:
    who = _cap(name(detail.get("number", "")))
    if detail.get("accepted"):
        return f"{who} : mis en relation."
    gone = detail.get("caller_gone")
    return f"{who} : l'appelant a raccroché avant." if gone else f"{who} : pas de réponse."


def _declined(detail: Mapping[str, Any], name: Name) -> str:
    why = "n'a rien tapé à l'annonce" if detail.get("why") == "silence" else "a refusé l'appel"
    return f"{_cap(name(detail.get('number', '')))} {why}."


def _staff_report(detail: Mapping[str, Any], name: Name) -> str:
    slot = f" ({detail['slot']})" if detail.get("slot") else ""
    said = label(RequestOutcome, detail.get("outcome"))
    return f"{_cap(name(detail.get('by', '')))} a indiqué la suite : {said}{slot}."


def _decision(detail: Mapping[str, Any], name: Name) -> str:
    action = ACTIONS.get(detail.get("action", ""), detail.get("action", ""))
    reason = detail.get("reason")
    return f"Décision : {action}." + (f" {reason}" if reason else "")


def _called_again(detail: Mapping[str, Any], name: Name) -> str:
    """On the request: the call that added to it; on that call: the request it added to. Said
    at the key: what the call then did is on its own trace (its message, its dials)."""
    said = _CHOSEN.get(detail.get("choice", ""), "sans choix")
    if "call" in detail:
        return f"Le client a rappelé (appel n° {detail['call']}) : {said}."
    return f"Ajout à la demande n° {detail.get('request', '?')} en cours : {said}."


_RECORDED = {"message": "message", "emergency": "message laissé en mode secours"}


def _recording(detail: Mapping[str, Any], name: Name) -> str:
    what = _RECORDED.get(detail.get("kind", ""), "conversation")
    if detail.get("found"):  # its callback lost: found by asking Twilio, heard by nobody yet
        return f"Enregistrement retrouvé chez Twilio ({what}, {_seconds(detail)}) : à écouter."
    return f"Enregistrement reçu ({what}, {_seconds(detail)})."


_SENTENCES: dict[str, Callable[[Mapping[str, Any], Name], str]] = {
    "prompt": lambda d, n: f"Entendu : « {d.get('text', '')} »",
    "input": lambda d, n: (
        f"A dit : « {d['speech']} »."
        if d.get("speech")
        else f"A tapé {d['digits']}."
        if d.get("digits")
        else "N'a rien tapé."
    ),
    "silence": lambda d, n: "Pas de réponse de l'appelant : la question est reposée.",
    "gave_up": lambda d, n: "Toujours sans réponse : le serveur passe à la suite.",
    "visit_limit": lambda d, n: "Trop d'essais à cette question : le serveur passe à la suite.",
    "client_keyed": lambda d, n: f"Numéro de contrat tapé : {d.get('client_id', '')}.",
    "client_confirmed": lambda d, n: f"Client confirmé : contrat {d.get('client_id', '')}.",
    "client_unknown": lambda d, n: (
        f"Contrat {d.get('keyed', '')} inconnu (essai {d.get('attempt', 1)})."
    ),
    "details": _details,
    "fault": lambda d, n: f"Panne : {label(Fault, d.get('fault'))}.",
    "description": lambda d, n: f"Description de l'appelant : « {d.get('speech', '')} »",
    "danger": lambda d, n: f"Danger signalé : {label(Danger, d.get('danger'))}.",
    "danger_key": lambda d, n: "L'appelant a tapé la touche danger.",
    "danger_words": lambda d, n: f"Mots de danger entendus : « {d.get('speech', '')} »",
    "danger_confirmed": lambda d, n: f"Danger confirmé : {label(Danger, d.get('danger'))}.",
    "danger_denied": lambda d, n: "L'appelant a dit qu'il n'y a pas de danger.",
    "operator_key": lambda d, n: "L'appelant a demandé un conseiller.",
    "recording_refused": lambda d, n: "L'appelant a refusé l'enregistrement de l'appel.",
    "decision": _decision,
    "dial": lambda d, n: f"Mise en relation : on appelle {n(d.get('number', ''))}.",
    "dial_outcome": _dial_outcome,
    "dialed": lambda d, n: (
        f"Mise en relation terminée ({_seconds(d)})."
        if d.get("accepted")
        else "Personne n'a pris l'appel pendant la mise en relation."
    ),
    "call_taken": lambda d, n: f"{_cap(n(d.get('number', '')))} a pris l'appel.",
    "call_declined": _declined,
    "taken": lambda d, n: "Demande prise en charge.",
    "message": lambda d, n: f"Message laissé ({_seconds(d)}).",
    "recorded": lambda d, n: f"Enregistrement de {_seconds(d)}.",
    "recording": _recording,
    "voicemail_message_left": lambda d, n: "Message laissé sur la messagerie du technicien.",
    "ended": _ended,
    "status_asked": lambda d, n: "Appel sans nouvelle : le service demande à Twilio où il en est.",
    "line_called": lambda d, n: f"Le service d'astreinte appelle {n(d.get('number', ''))}.",
    "line_unreachable": lambda d, n: "Personne n'a pu être joint sur les lignes d'astreinte.",
    "technician_unreachable": lambda d, n: (
        f"Technicien injoignable {d.get('times', '?')} fois de suite : le cadre régional est "
        "appelé, s'il y en a un à joindre."
    ),
    "manager_alerted": lambda d, n: (
        f"Demande signalée {_NATIONAL if d.get('national') else _MANAGER} (appel et SMS) : "
        f"technicien injoignable {d.get('times', '?')} fois de suite."
    ),
    "escalation_suspended": lambda d, n: (
        f"Technicien injoignable ({d.get('times', '?')} "
        "fois), mais un problème de réseau est déclaré : pas d'alerte au cadre."
    ),
    "staff_in": lambda d, n: f"{_cap(n(d.get('number', '')))} appelle l'espace technicien.",
    "staff_key": lambda d, n: "Touche étoile : espace d'astreinte (code agence demandé).",
    "staff_unknown_agency": lambda d, n: (
        f"Code agence inconnu ({d['keyed']})." if d.get("keyed") else "Aucun code agence tapé."
    ),
    "pin_refused": lambda d, n: "Code personnel refusé.",
    "coverage": lambda d, n: (
        f"{_cap(n(d.get('number', '')))} déclare un problème de réseau "
        f"pour {d.get('hours', '?')} h."
    ),
    "staff_report": _staff_report,
    "staff_outcome": lambda d, n: (
        f"{_cap(n(d.get('by', '')))} : {d.get('label') or label(RequestOutcome, d.get('outcome'))}."
    ),
    "request_in_progress": lambda d, n: (
        f"Informé de sa demande en cours n° {d.get('request', '?')}."
    ),
    "called_again": _called_again,
    "closed_by_caller": lambda d, n: (
        f"Demande close : problème réglé selon le client (appel n° {d.get('call', '?')})."
    ),
    "new_request": lambda d, n: f"Nouvelle demande, différente de la n° {d.get('besides', '?')}.",
    "caller_texted": lambda d, n: (
        f"SMS au client ({digit_pairs(d.get('to', ''))}) : « {d.get('text', '')} »"
    ),
    "recording_deleted": lambda d, n: (
        f"Enregistrement effacé après {d.get('kept_days', '?')} jours (durée de conservation)."
    ),
}
