"""Back-office accounts, their roles and what each may see.

`admin` sees and changes everything; `manager` sees the calls of their region; `agency` those
of their agency. Passwords are hashed with scrypt (Werkzeug's default), never stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from werkzeug.security import check_password_hash, generate_password_hash

from ivr.adapters.db import Database
from ivr.adapters.orm import AgencyRow, AuditRow, LoginFailureRow, RegionRow, UserRow
from ivr.clock import Clock
from ivr.domain.emails import is_email_address

ROLES = ("admin", "manager", "agency")
MIN_PASSWORD = 10


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
    session_version: int = 0  # a session made with another version is over

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
    if not is_email_address(email):
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


# Checked against when the address is unknown: the same work for a known address and an
# unknown one, so the time of the answer does not tell which addresses have an account.
_NO_ACCOUNT_HASH = generate_password_hash("no account has this password")


def authenticate(db: Database, clock: Clock, email: str, password: str) -> Account | None:
    with db.session() as session:
        row = session.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
        known = check_password_hash(row.password_hash if row else _NO_ACCOUNT_HASH, password)
        if row is None or not row.active or not known:
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


def end_sessions(db: Database, user_id: int) -> None:
    """Every session of the account ends (at logout: a copied cookie is worth nothing after)."""
    with db.session() as session:
        row = session.get(UserRow, user_id)
        if row is not None:
            row.session_version += 1


def _account(row: UserRow) -> Account:
    return Account(row.id, row.email, row.role, row.region, row.agency, row.session_version)


# --- Failed logins ----------------------------------------------------------------------------

FREE_TRIES = 5  # failures in a row before the next try must wait
LONGEST_WAIT = timedelta(minutes=15)


def login_wait(db: Database, clock: Clock, keys: Sequence[str]) -> timedelta:
    """How long before the next try under any of `keys` (an e-mail, a network address) is
    heard: none for the first tries, then 1 s, 2 s, 4 s... up to 15 min after the last
    failure. A wait that grows, never a lock: the real person gets in once it is over."""
    with db.snapshot() as session:
        rows = session.scalars(select(LoginFailureRow).where(LoginFailureRow.key.in_(keys)))
        waits = [
            row.last_at + _wait_after(row.failures) - clock.now()
            for row in rows
            if row.failures >= FREE_TRIES
        ]
    return max([timedelta(0), *waits])


def _wait_after(failures: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(failures - FREE_TRIES, 20)), LONGEST_WAIT)


def login_failed(db: Database, clock: Clock, keys: Sequence[str]) -> None:
    with db.session() as session:
        for key in keys:
            row = session.get(LoginFailureRow, key, with_for_update=True)
            if row is None:
                session.add(LoginFailureRow(key=key, failures=1, last_at=clock.now()))
            else:
                row.failures, row.last_at = row.failures + 1, clock.now()


def login_succeeded(db: Database, keys: Sequence[str]) -> None:
    with db.session() as session:
        session.execute(delete(LoginFailureRow).where(LoginFailureRow.key.in_(keys)))
