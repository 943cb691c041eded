"""Logging in to the back office: Flask-Login sessions, ended at logout; CSRF on every form
(Flask-WTF); failed logins slowed down per account and per address (`accounts.login_wait`);
cookies HttpOnly, SameSite and, over HTTPS, Secure. Twilio's and the fax provider's
callbacks are signed their own way: no CSRF there."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from ivr.services import accounts
from ivr.services.accounts import Account

F = TypeVar("F", bound=Callable[..., Any])
blueprint = Blueprint("auth", __name__)
csrf = CSRFProtect()


class User(UserMixin):  # type: ignore[misc]
    def __init__(self, account: Account) -> None:
        self.account = account
        # The session names the account and its session version: after a logout, which
        # bumps the version, a copy of the cookie finds nobody.
        self.id = f"{account.id}:{account.session_version}"


def init(app: Flask) -> None:
    settings = app.extensions["ivr.settings"]
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.PUBLIC_BASE_URL.startswith("https://"),
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead: a form left open overnight
    )
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = "Connectez-vous pour continuer."

    @manager.user_loader  # type: ignore[untyped-decorator]
    def load(session_id: str) -> User | None:
        user_id, _, version = session_id.partition(":")
        if not (user_id.isdigit() and version.isdigit()):
            return None  # a session of before session versions: log in again
        found = accounts.account(app.extensions["ivr.db"], int(user_id))
        return User(found) if found and found.session_version == int(version) else None

    csrf.init_app(app)
    app.register_blueprint(blueprint)


def current_account() -> Account:
    account: Account = current_user.account
    return account


def requires(*roles: str) -> Callable[[F], F]:
    """A logged-in account with one of `roles` (every role when none is given)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if roles and current_account().role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "POST":
        app = current_app
        db, clock = app.extensions["ivr.db"], app.extensions["ivr.clock"]
        email = request.form.get("email", "").strip().lower()
        # Counted by account and by address, in the database: every process sees them.
        keys = [f"email:{email}"[:250], f"address:{request.remote_addr or '?'}"]
        wait = accounts.login_wait(db, clock, keys)
        if wait:
            seconds = max(1, round(wait.total_seconds()))
            return render_template("login.html", too_many=True, seconds=seconds), 429
        found = accounts.authenticate(db, clock, email, request.form.get("password", ""))
        if found is not None:
            accounts.login_succeeded(db, keys)
            login_user(User(found))
            app.logger.info("account %s logged in", found.id)
            return redirect(_safe_next(request.args.get("next")))
        accounts.login_failed(db, clock, keys)
        app.logger.warning("failed login attempt")
        flash("Adresse ou mot de passe incorrect.")
    return render_template("login.html")


@blueprint.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        accounts.end_sessions(current_app.extensions["ivr.db"], current_account().id)
    logout_user()
    return redirect("/login")


def _safe_next(target: str | None) -> str:
    """Back where the visitor was going, on this site only. Browsers drop tabs and line
    breaks from a URL and read « \\ » as « / »: « /\t/evil.example » is « //evil.example »,
    another site; so a target with any of them, or naming a scheme or a host, goes home."""
    if not target or "\\" in target or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target
