"""Alerts reach people: each new alert is e-mailed to `ALERT_EMAILS` and texted to
`ALERT_SMS_NUMBERS`, by the worker.

A failed fax or a Twilio outage used to be a row in a table until someone opened the back
office. Now the worker notices new alerts as part of its housekeeping, takes them (once,
whichever worker gets there first) and sends them as a job of the highest priority, retried
like any other. Alerts of one kind go at most once per `ALERT_QUIET_MINUTES`: a Twilio outage
raising an alert a minute is one message, then one summary per quiet period, not a message a
minute. Alert messages carry no personal data (ivr.services.trace), so neither do these.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ivr.adapters.db import Database
from ivr.adapters.mail import send_mail
from ivr.adapters.orm import AlertRow
from ivr.adapters.twilio_rest import TwilioRest
from ivr.clock import Clock
from ivr.domain.local_time import in_paris
from ivr.domain.trace_words import ALERTS
from ivr.services.jobs import Done, Job, JobOutcome, JobQueue, provider_errors
from ivr.settings import Settings, listed

log = logging.getLogger(__name__)
KIND = "alert_notice"
MAILED_ONLY = "mailed only"  # the notice's outcome without Twilio (the back office says it)


@dataclass
class AlertNotices:
    db: Database
    clock: Clock
    settings: Settings
    rest: TwilioRest | None

    @property
    def emails(self) -> list[str]:
        return listed(self.settings.ALERT_EMAILS)

    @property
    def numbers(self) -> list[str]:
        return listed(self.settings.ALERT_SMS_NUMBERS)

    def housekeep(self) -> None:
        """Take the new alerts whose kind is not in its quiet period, and plan their notice."""
        if not (self.emails or self.numbers):
            return
        now = self.clock.now()
        with self.db.session() as session:
            waiting = session.execute(
                select(AlertRow.id, AlertRow.kind).where(AlertRow.notified_at.is_(None)).limit(500)
            ).all()
            if not waiting:
                return  # an idle worker writes nothing
            quiet = self._quiet_kinds(session, {kind for _, kind in waiting}, now)
            due = [alert_id for alert_id, kind in waiting if kind not in quiet]
            if due:
                self._take(session, due, now)

    def _quiet_kinds(self, session: Session, kinds: set[str], now: datetime) -> set[str]:
        since = now - timedelta(minutes=self.settings.ALERT_QUIET_MINUTES)
        recent = select(AlertRow.kind).where(AlertRow.kind.in_(kinds), AlertRow.notified_at > since)
        return set(session.scalars(recent))

    def _take(self, session: Session, ids: list[int], now: datetime) -> None:
        taken = session.execute(
            update(AlertRow)
            .where(AlertRow.id.in_(ids), AlertRow.notified_at.is_(None))
            .values(notified_at=now)
            .returning(AlertRow.id, AlertRow.at, AlertRow.kind, AlertRow.message)
        ).all()
        if not taken:
            return  # another worker took them
        alerts = [
            [kind, in_paris(at).strftime("%d/%m %H:%M"), message]
            for _, at, kind, message in sorted(taken)
        ]
        key = f"{KIND}:{min(alert_id for alert_id, *_ in taken)}"
        JobQueue(self.db, self.clock).schedule(session, KIND, key, now, None, {"alerts": alerts})

    def send(self, job: Job) -> JobOutcome:
        """The job: one e-mail to every address, one text to every number."""
        alerts: list[list[str]] = job.payload["alerts"]
        kinds = list(dict.fromkeys(ALERTS.get(kind, kind) for kind, _, _ in alerts))
        title = f"{len(alerts)} alerte(s) : {', '.join(kinds)}"
        if self.emails:
            body = "\n".join(
                f"{at} — {ALERTS.get(kind, kind)}\n    {message}" for kind, at, message in alerts
            )
            body += "\n\nLe détail est sur la page Exploitation du back office."
            with provider_errors():
                send_mail(
                    self.settings.ALERT_SMTP_HOST,
                    self.settings.ALERT_SMTP_PORT,
                    self.settings.ALERT_SMTP_FROM,
                    self.emails,
                    f"Astreinte : {title}",
                    body,
                )
        if self.numbers:
            if self.rest is None or not self.settings.IVR_CALLER_ID:
                # Not a failure: a failed notice would raise an alert, noticed in turn, and
                # so on. The operator was told at the worker's start (`twilio_unset`).
                log.warning("alert not texted: Twilio is not configured")
                return Done(MAILED_ONLY)
            text = f"Astreinte : {title}. Voir la page Exploitation."
            for number in self.numbers:
                with provider_errors():
                    self.rest.send_sms(number, self.settings.IVR_CALLER_ID, text)
        return Done("sent")
