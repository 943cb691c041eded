"""The short guide on the simulator's page: which demo client shows what (`config/demo/`).

Each case names a demo client of the file in force; a case whose client is not there (another
client file was imported) is left out. The evening on which a 7/7 client's call is deferred to
the next morning is found by the routing rules themselves, from the simulated clock on, since
the clock only moves forward.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from ivr.domain import wording
from ivr.domain.local_time import PARIS
from ivr.domain.model import ONCALL_TYPE_OF_CONTRACT, Client, Directory
from ivr.domain.phones import is_mobile
from ivr.domain.routing import Action, Call, decide

# A number in the range kept for fiction that no demo client, line or manager has.
UNKNOWN_CALLER = "+33639989999"
DAYS_LOOKED_AHEAD = 21


@dataclass(frozen=True)
class Case:
    """One thing to try: who calls, when, what to do and what it shows."""

    key: str
    title: str
    caller: str  # E.164
    who: str
    steps: str
    shows: str
    at: datetime | None = None  # None: now
    phones: Mapping[str, str] = field(default_factory=dict)  # number -> behaviour, set first

    @property
    def at_input(self) -> str:
        """`at` as the page's date field takes it (Paris time), or empty."""
        return self.at.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M") if self.at else ""


def deferred_evening(client: Client, directory: Directory, now: datetime) -> datetime | None:
    """The first evening at 19:00, from `now` on, on which the client's call is deferred to
    the next morning (`call_next_morning`); None if there is none in three weeks."""
    day = now.astimezone(PARIS).date()
    for _ in range(DAYS_LOOKED_AHEAD):
        at = datetime.combine(day, time(19, 0), tzinfo=PARIS)
        if at >= now and decide(Call(at, client), directory).action is Action.CALL_NEXT_MORNING:
            return at
        day += timedelta(days=1)
    return None


def cases(find: Callable[[str], Client | None], directory: Directory, now: datetime) -> list[Case]:
    """The guide's cases, for the clients `find` (a contract number) finds."""
    found: list[Case] = []
    collective = find("10000002")
    if collective is not None:
        found.append(
            Case(
                "collectif",
                "Un client collectif mis en relation avec le technicien",
                collective.phone,
                f"{collective.name}, contrat {collective.client_id}",
                "Appelez maintenant, puis tapez 1 (c'est bien ce client), 1 (coordonnées "
                "exactes), 1 (panne de chauffage) et # (rien à ajouter).",
                "Le délai du contrat est annoncé, puis le téléphone d'astreinte de l'agence "
                "sonne dans le panneau « Téléphones des techniciens et cadres » : décrochez, "
                "écoutez la demande et tapez 1, client et technicien sont mis en relation. "
                "Laissez-le sonner : la ligne de secours sonne à son tour, puis l'appelant "
                "laisse un message et le système rappellera le technicien.",
            )
        )
    seven = find("10000001")
    evening = deferred_evening(seven, directory, now) if seven is not None else None
    if seven is not None and evening is not None:
        found.append(
            Case(
                "7-7-soir",
                "Un client 7/7 après 18 h : le technicien est appelé le lendemain matin",
                seven.phone,
                f"{seven.name}, contrat {seven.client_id}",
                f"Appelez le {wording.when(evening)} (la veille d'un jour d'astreinte), puis "
                "tapez 1, 1, 1 et # ; laissez un message ou raccrochez.",
                "Après 18 h, un client individuel 7/7 n'est pas mis en relation : le "
                "technicien se repose. La veille d'un samedi, d'un dimanche ou d'un jour férié, "
                "il sera appelé le lendemain au début de l'astreinte de jour : la tâche "
                "apparaît dans « Tâches planifiées », et « Aller à la prochaine tâche » y "
                "avance l'horloge. La veille d'un jour ouvré, personne n'est appelé : la fiche est "
                "faxée à l'agence.",
                at=evening,
            )
        )
    if seven is not None and evening is not None:
        found.append(calling_again(seven, evening))
    found.append(
        Case(
            "inconnu",
            "Un appelant inconnu du fichier clients",
            UNKNOWN_CALLER,
            "un numéro qu'aucun client n'a",
            "Tapez trois fois un numéro de contrat qui n'existe pas, suivi de # (11111111#), "
            "puis le code postal 75018, et laissez un message.",
            "Personne n'est appelé : la fiche du message part à l'agence dont dépend le code "
            "postal, qui le traitera à son ouverture.",
        )
    )
    if seven is not None:
        found.append(
            Case(
                "gaz",
                "Une odeur de gaz",
                seven.phone,
                f"{seven.name}, contrat {seven.client_id}",
                "Tapez 9 dès la première question (ou dites « ça sent le gaz »), puis 1 (odeur "
                f"de gaz) ; après les consignes de sécurité, tapez {seven.client_id}# si le "
                "numéro de contrat est demandé (il ne l'est pas à qui rappelle pour une "
                "demande en cours).",
                "Le cadre d'astreinte de la région est appelé, quels que soient le contrat et "
                "l'heure : son téléphone sonne dans le panneau, décrochez et tapez 1. Il reçoit "
                "aussi un SMS, et la fiche part à l'agence et à la direction régionale.",
            )
        )
    if collective is not None:
        oncall_type = ONCALL_TYPE_OF_CONTRACT[collective.contract]
        lines = directory.lines_for(collective.agency, oncall_type)
        found.append(
            Case(
                "injoignable",
                "Un technicien injoignable trois fois de suite",
                collective.phone,
                f"{collective.name}, contrat {collective.client_id}",
                "Ce bouton règle les téléphones d'astreinte de l'agence sur « ne répond pas ». "
                "Appelez trois fois de suite. La première fois, tapez 1, 1, 1 et # ; les "
                "suivantes, le serveur vocal dit où en est la demande : tapez 1. Laissez "
                "chaque fois un message.",
                "À chaque appel, les lignes d'astreinte sonnent sans réponse et le système "
                "rappellera le technicien ; le client qui rappelle les fait sonner de nouveau "
                "aussitôt. À la fin du troisième appel, le cadre d'astreinte est "
                "appelé (son téléphone sonne) et reçoit un SMS des demandes en attente. "
                "Remettez ensuite les téléphones sur « sonne ici ».",
                phones={line.mobile: "ring" for line in lines},
            )
        )
    return found


def calling_again(client: Client, evening: datetime) -> Case:
    """A 7/7 client calls on an evening their technician is called the next morning, then
    calls again from the same phone (their mobile, if the file has one): where the request
    stands, then what they may do about it."""
    caller = client.phone2 or client.phone
    texted = (
        " Sur un portable, le SMS de confirmation arrive dans « SMS reçus » ; répondez-y STOP "
        "et les SMS suivants ne partent plus, START les rétablit."
        if is_mobile(caller)
        else ""
    )
    return Case(
        "rappel",
        "Un client qui rappelle : où en est sa demande",
        caller,
        f"{client.name}, contrat {client.client_id}"
        + (", depuis son portable" if client.phone2 else ""),
        f"Appelez le {wording.when(evening)}, tapez 1, 1, 1 et #, puis raccrochez. "
        "Rappelez aussitôt du même numéro : écoutez où en est la demande, puis tapez 2 "
        "(le problème est réglé), ou 1 pour laisser un message de plus.",
        "Un client qui rappelle pour une demande en cours l'entend d'abord : l'heure de son "
        "appel, puis ce qui est prévu (ici, le technicien prévenu le lendemain à 8 h). Il "
        "peut ajouter un message (1), dire que le problème est réglé (2), faire une autre "
        "demande (3) ou signaler un danger (9). Réglé, la demande est close : l'appel du "
        "lendemain matin est annulé dans « Tâches planifiées » et l'agence en est informée."
        + texted,
        at=evening,
    )
