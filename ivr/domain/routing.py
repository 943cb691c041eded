"""The routing decision (docs/procedure.md §3, §5): one pure function, `decide`.

The command line (`ivr route`), the voice flow and the dispatcher all call it; none of them
re-implements a rule. It reads the directory and the client as plain values and returns what
to do, whom to call, where to fax, and one sentence saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ivr.domain import wording
from ivr.domain.geography import agency_for_postcode
from ivr.domain.local_time import in_paris
from ivr.domain.model import (
    ONCALL_TYPE_OF_CONTRACT,
    Agency,
    Client,
    Contract,
    Directory,
    Region,
)
from ivr.domain.oncall import daytime_start, local_date, morning_after, window_at


class Action(StrEnum):
    CALL_NOW = "call_now"
    CALL_NEXT_MORNING = "call_next_morning"
    FAX_ONLY = "fax_only"
    ESCALATE = "escalate"
    NOT_COVERED = "not_covered"
    LEGACY = "legacy"
    # Not a rule's: a caller's call that added to their request in progress (a message, the
    # problem solved) and tried no line; `decide` never answers it.
    ADDED = "added"


@dataclass(frozen=True, slots=True)
class Call:
    """What the rules need to know about a call."""

    at: datetime
    client: Client | None
    danger: bool = False
    caller_postcode: str | None = None  # keyed by an unidentified caller
    legacy_unreached: bool = False  # the agency's legacy arrangement did not take the call


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    call_at: datetime | None
    call_numbers: tuple[str, ...]
    fax_numbers: tuple[str, ...]
    reason: str

    def as_json(self) -> dict[str, Any]:
        """The object `ivr route` prints (docs/contract.md)."""
        return {
            "action": self.action.value,
            "call_at": in_paris(self.call_at).isoformat() if self.call_at else None,
            "call_numbers": list(self.call_numbers),
            "fax_numbers": list(self.fax_numbers),
            "reason": self.reason,
        }


def decide(call: Call, directory: Directory, national_duty_number: str | None = None) -> Decision:
    """What to do with a call, by the procedure's rules, in the order they take precedence."""
    client = call.client
    agency = directory.agencies.get(client.agency) if client else None
    today = local_date(call.at)
    # A danger the legacy arrangement did not take is escalated as for a live agency: the
    # roll-out never leaves a caller in danger with nobody warned.
    if (
        agency is not None
        and not agency.is_live(today)
        and not (call.danger and call.legacy_unreached)
    ):
        return _legacy(call, agency)
    if call.danger:
        return _escalate(call, directory, agency, national_duty_number)
    if client is None or agency is None:
        return _not_covered(
            "Client inconnu du fichier clients : il peut laisser un message "
            "pour son agence, traité à l'ouverture ; personne n'est appelé."
        )
    contract = client.effective_contract(today)
    if contract is Contract.STANDARD:
        if client.contract is not Contract.STANDARD:
            return _not_covered(
                f"Contrat échu le {wording.day(client.valid_until)} "  # type: ignore[arg-type]
                "(plus de couverture hors heures ouvrables) : message pour "
                "l'agence, traité à l'ouverture ; personne n'est appelé."
            )
        return _not_covered(
            "Contrat sans intervention hors heures ouvrables : message pour "
            "l'agence, traité à l'ouverture ; personne n'est appelé."
        )
    return _covered(call, directory, client, agency, contract)


def _covered(
    call: Call, directory: Directory, client: Client, agency: Agency, contract: Contract
) -> Decision:
    oncall_type = ONCALL_TYPE_OF_CONTRACT[contract]
    windows = directory.windows_for(agency.cia, oncall_type)
    lines = _numbers(*(line.mobile for line in directory.lines_for(agency.cia, oncall_type)))
    fax = _numbers(agency.fax)
    morning = morning_after(windows, call.at, agency.department)
    # §5.2: a 7/7 client calling after 18:00 is handled as outside the window, to spare the
    # technician's rest, whatever the agency's windows say.
    resting = contract is Contract.INDIVIDUAL_7_7 and morning is not None
    period = None if resting else window_at(windows, call.at, agency.department)
    start = daytime_start(windows, morning, agency.department) if morning and not period else None
    if (period or start) and not lines:
        return Decision(
            Action.FAX_ONLY,
            None,
            (),
            fax,
            f"L'agence {agency.name} est d'astreinte, mais l'annuaire ne lui donne aucun "
            "numéro d'astreinte : la fiche est faxée à l'agence.",
        )
    if period is not None:
        return Decision(
            Action.CALL_NOW,
            call.at,
            lines,
            fax,
            f"Appel pendant l'astreinte de l'agence {agency.name} (du "
            f"{wording.when(period.start)} au {wording.when(period.end)}) : "
            "le technicien d'astreinte est appelé maintenant.",
        )
    why = (
        "Client individuel 7/7 appelant après 18 h (repos du technicien)"
        if resting
        else f"Appel hors des plages d'astreinte de l'agence {agency.name}"
    )
    if start is not None:
        return Decision(
            Action.CALL_NEXT_MORNING,
            start,
            lines,
            fax,
            f"{why}, avant un jour d'astreinte : le technicien sera appelé le "
            f"{wording.when(start)}, au début de l'astreinte de jour ; la fiche est faxée à "
            "l'agence.",
        )
    return Decision(
        Action.FAX_ONLY,
        None,
        (),
        fax,
        f"{why}, et le lendemain n'est pas un jour d'astreinte : la fiche est faxée à "
        "l'agence, qui traitera la demande à son ouverture."
        if morning
        else f"{why}, en journée : la fiche est faxée à l'agence, qui traite la demande.",
    )


def _escalate(
    call: Call, directory: Directory, agency: Agency | None, national_duty_number: str | None
) -> Decision:
    if agency is None and call.caller_postcode:  # an unidentified caller: where they are
        agency = agency_for_postcode(directory, call.caller_postcode)
    region = directory.regions.get(agency.region) if agency else None
    fax = _numbers(agency.fax if agency else None, region.fax if region else None)
    sheet = _danger_sheet(agency, region)
    on_duty = directory.managers_on_duty(region.code, call.at) if region else ()
    if region is not None and on_duty:
        names = " puis ".join(s.name for s in on_duty)
        return Decision(
            Action.ESCALATE,
            call.at,
            _numbers(*(s.mobile for s in on_duty)),
            fax,
            f"Danger signalé : le cadre régional d'astreinte ({names}, {region.name}) "
            f"est appelé ; {sheet}.",
        )
    missing = (
        f"aucun cadre d'astreinte n'est au planning de la région {region.name}"
        if region
        else "la région de l'appelant est inconnue"
    )
    who = (
        "la permanence nationale est appelée"
        if national_duty_number
        else "aucune permanence nationale n'est configurée"
    )
    return Decision(
        Action.ESCALATE,
        call.at,
        _numbers(national_duty_number),
        fax,
        f"Danger signalé, mais {missing} : {who} ; {sheet}.",
    )


def _danger_sheet(agency: Agency | None, region: Region | None) -> str:
    """Where a danger's sheet goes (§5.2: the agency and the regional direction)."""
    if agency is not None and region is not None:
        return f"la fiche est faxée à l'agence {agency.name} et à la direction régionale"
    if agency is not None:
        return f"la fiche est faxée à l'agence {agency.name} (région inconnue)"
    return "aucune agence n'est connue : la fiche ne peut être faxée"


def _legacy(call: Call, agency: Agency) -> Decision:
    return Decision(
        Action.LEGACY,
        call.at,
        _numbers(agency.legacy_number),
        (),
        f"L'agence {agency.name} ne passe à ce système que le "
        f"{wording.day(agency.live_from)} : l'appel est transféré à son dispositif "  # type: ignore[arg-type]
        "habituel.",
    )


def added_to(request_id: int) -> Decision:
    """A caller's call that added to their request in progress and tried no line."""
    reason = f"Ajout à la demande n° {request_id} en cours : personne n'est rappelé."
    return Decision(Action.ADDED, None, (), (), reason)


def _not_covered(reason: str) -> Decision:
    return Decision(Action.NOT_COVERED, None, (), (), reason)


def _numbers(*numbers: str | None) -> tuple[str, ...]:
    """Numbers in order, without blanks or repeats."""
    return tuple(dict.fromkeys(n for n in numbers if n))
