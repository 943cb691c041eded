"""Pictures for the back office's front page, as SVG drawn on the server (pygal): calls per
night, decisions, and how often each agency's technicians were reached.

A call that added to a request in progress (the client called again) is a call, but no request
of its own: counted as « ajout à une demande », never as a request reached or not."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pygal
from pygal.style import CleanStyle
from sqlalchemy import select

from ivr.adapters.db import Database
from ivr.adapters.orm import CallRow
from ivr.clock import Clock
from ivr.domain.local_time import in_paris
from ivr.services.accounts import Account
from ivr.services.back_office import visible

NIGHTS = 14
DECISIONS = {
    "call_now": "technicien appelé",
    "call_next_morning": "lendemain matin",
    "fax_only": "fiche seule",
    "escalate": "danger",
    "not_covered": "non couvert",
    "legacy": "centre d'appels",
    "added": "ajout à une demande",
}


def charts(db: Database, clock: Clock, who: Account) -> dict[str, str]:
    """The three charts (SVG markup) over the last NIGHTS nights, as `who` may see them."""
    since = clock.now() - timedelta(days=NIGHTS)
    columns: Any = select(
        CallRow.started_at, CallRow.action, CallRow.agency, CallRow.reached, CallRow.request_id
    )
    query = visible(columns, who).where(CallRow.started_at >= since)
    with db.snapshot() as session:
        rows: list[Any] = list(session.execute(query).all())
    return {
        "nights": _per_night(rows, clock),
        "decisions": _decisions(rows),
        "reach": _reach(rows),
    }


def _chart(kind: Any, title: str) -> Any:
    return kind(
        title=title,
        style=CleanStyle,
        height=260,
        width=520,
        show_legend=False,
        disable_xml_declaration=True,
        js=[],  # no script from a CDN: a plain SVG
        print_values=True,
    )


def _per_night(rows: list[Any], clock: Clock) -> str:
    # A night is named after its evening: a call at 03:00 belongs to the day before.
    per_night = Counter(in_paris(r.started_at - timedelta(hours=8)).date() for r in rows)
    today = in_paris(clock.now()).date()
    nights = [today - timedelta(days=n) for n in range(NIGHTS - 1, -1, -1)]
    chart = _chart(pygal.Bar, "Appels par nuit")
    chart.x_labels = [f"{d:%d/%m}" for d in nights]
    chart.add("appels", [per_night.get(d, 0) for d in nights])
    return str(chart.render(is_unicode=True))


def _decisions(rows: list[Any]) -> str:
    counts = Counter("added" if r.request_id else r.action for r in rows if r.action)
    chart = _chart(pygal.HorizontalBar, "Décisions")
    chart.x_labels = [DECISIONS.get(a, a) for a in counts]
    chart.add("appels", list(counts.values()))
    return str(chart.render(is_unicode=True))


def _reach(rows: list[Any]) -> str:
    """Requests only: one reached on the client's call again has it on the request."""
    requests = [r for r in rows if r.action == "call_now" and r.agency and not r.request_id]
    tried = Counter(r.agency for r in requests)
    reached = Counter(r.agency for r in requests if r.reached)
    chart = _chart(pygal.Bar, "Technicien joint (%) par agence")
    chart.x_labels = list(tried)
    chart.range = (0, 100)
    chart.add("% joint", [round(100 * reached[a] / tried[a]) for a in tried])
    return str(chart.render(is_unicode=True))
