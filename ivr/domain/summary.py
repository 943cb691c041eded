"""What a technician or a manager is told of a request, wherever they are told it: the
announcement before being put through, the dispatcher's call and voicemail message, the text
message, the summary sheet. The most useful first: the town and the fault, then the
client and the number to call back, then the reference."""

from __future__ import annotations

from dataclasses import dataclass

from ivr.domain.model import Client, Equipment
from ivr.domain.phones import digit_pairs
from ivr.domain.spoken import said
from ivr.domain.triage import Danger, Fault

_EQUIPMENT_WORDS = {
    Equipment.GAS_BOILER: "une chaudière gaz",
    Equipment.OIL_BOILER: "une chaudière fioul",
    Equipment.HEAT_PUMP: "une pompe à chaleur",
    Equipment.BOILER_ROOM: "une chaufferie",
    Equipment.OTHER: "votre équipement",
}


def equipment_words(client: Client) -> str:
    """The client's equipment as read to the caller and written to the technician."""
    return client.equipment_label or _EQUIPMENT_WORDS[client.equipment]


@dataclass(frozen=True)
class RequestSummary:
    """What a technician driving at 3 a.m. needs: where (town, street), what (fault,
    equipment), whom to call back and on which number, how soon, and the reference."""

    reference: str  # the request's number in the trace
    city: str  # the client's town; empty for an unidentified caller
    address: str  # the street; empty for an unidentified caller
    postcode: str  # the client's, or the one an unidentified caller keyed
    fault: str
    name: str
    callback: str | None  # E.164: the number to call back
    delay: str
    danger: str  # empty when there is none
    equipment: str

    @property
    def place(self) -> str:
        """Where to go, the town first: « Paris, 37 rue Riquet », « Code postal 57000 »."""
        if self.city:
            return ", ".join(filter(None, (self.city, self.address)))
        return f"Code postal {self.postcode}" if self.postcode else "Lieu inconnu"

    def values(self, *, spoken: bool) -> dict[str, str]:
        """The prompts' values. `spoken`: as a voice says them (the number in pairs of digits,
        the reference digit by digit, symbols in words); else as a text message writes them."""
        words = said if spoken else str
        return {
            "reference": " ".join(self.reference) if spoken else self.reference,
            "place": words(self.place),
            "city": self.city or (f"code postal {self.postcode}" if self.postcode else ""),
            "address": words(self.address),
            "fault": self.fault,
            "name": words(self.name),
            "phone": digit_pairs(self.callback) if self.callback else "numéro inconnu",
            "delay": words(self.delay),
            "danger": self.danger,
            "postcode": self.postcode,
            "equipment": words(self.equipment),
        }


def summarise(
    reference: int,
    client: Client | None,
    *,
    fault: str | None,
    danger: str | None,
    callback: str | None,
    postcode: str | None,
) -> RequestSummary:
    """The summary of request `reference`, from what its call established."""
    return RequestSummary(
        reference=str(reference),
        city=client.city if client else "",
        address=client.address if client else "",
        postcode=client.postcode if client else postcode or "",
        fault=Fault(fault).label if fault else "non précisée",  # la panne
        name=client.name if client else "inconnu",
        callback=callback,
        delay=client.delay_label if client and client.delay_label else "non précisé",
        danger=Danger(danger).label if danger else "",
        equipment=equipment_words(client) if client else "non précisé",
    )
