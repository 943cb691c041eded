"""Back-office accounts, their roles and what each may see.

`admin` sees and changes everything; `manager` sees the calls of their region; `agency` those
of their agency. Passwords are hashed with scrypt (Werkzeug's default), never stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from ivr.adapters.db import Database
from ivr.adapters.orm import AgencyRow, AuditRow, RegionRow, UserRow
from ivr.clock import Clock

ROLES = ("admin", "manager", "agency")
MIN_PASSWORD = 10
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """A bad account request, said in a sentence an administrator can act on."""


class AccountExists(AccountError):
    """That email address already has an account."""


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    role: str
    region: str | None
    agency: str | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_see(self, agency: str | None, region: str | None) -> bool:
        """Whether a call of that agency (in that region) is this account's to see."""
        if self.role == "admin":
            return True
        if self.role == "manager":
            return region is not None and region == self.region
        return agency is not None and agency == self.agency


def add_user(
    db: Database,
    clock: Clock,
    email: str,
    password: str,
    role: str,
    region: str | None = None,
    agency: str | None = None,
) -> Account:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise AccountError(f"{email!r} is not an email address")
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")
    if role == "manager" and not region:
        raise AccountError("a manager needs --region")
    if role == "agency" and not agency:
        raise AccountError("an agency account needs --agency")
    with db.session() as session:
        if region and session.get(RegionRow, region) is None:
            raise AccountError(f"no region {region!r} in the directory")
        if agency and session.get(AgencyRow, agency) is None:
            raise AccountError(f"no agency {agency!r} in the directory")
        if session.scalar(select(UserRow.id).where(UserRow.email == email)):
            raise AccountExists(f"{email} already has an account")
        row = UserRow(
            email=email,
            password_hash=generate_password_hash(password),
            role=role,
            region=region if role == "manager" else None,
            agency=agency if role == "agency" else None,
            created_at=clock.now(),
        )
        session.add(row)
        session.flush()
        return _account(row)


def authenticate(db: Database, clock: Clock, email: str, password: str) -> Account | None:
    with db.session() as session:
        row = session.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
        if row is None or not row.active or not check_password_hash(row.password_hash, password):
            return None
        row.last_login_at = clock.now()
        return _account(row)


def account(db: Database, user_id: int) -> Account | None:
    with db.snapshot() as session:
        row = session.get(UserRow, user_id)
        return _account(row) if row is not None and row.active else None


def audit(db: Database, clock: Clock, who: Account, action: str, **detail: Any) -> None:
    """Note a change made in the back office (the audit log)."""
    with db.session() as session:
        session.add(AuditRow(at=clock.now(), user_email=who.email, action=action, detail=detail))


def _account(row: UserRow) -> Account:
    return Account(row.id, row.email, row.role, row.region, row.agency)
