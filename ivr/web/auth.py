"""Logging in to the back office: Flask-Login sessions, CSRF on every form (Flask-WTF),
login attempts rate-limited (`limits`), cookies HttpOnly, SameSite and, over HTTPS,
Secure. Twilio's and the fax provider's callbacks are signed their own way: no CSRF there."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from werkzeug.wrappers import Response

from ivr.services import accounts
from ivr.services.accounts import Account

F = TypeVar("F", bound=Callable[..., Any])
blueprint = Blueprint("auth", __name__)
csrf = CSRFProtect()
# Login attempts per address, counted in the login view only (the `limits` library; a
# Flask-wide hook would cost every Twilio webhook its time for nothing).
LOGIN_ATTEMPTS = RateLimitItemPerMinute(10)


class User(UserMixin):  # type: ignore[misc]
    def __init__(self, account: Account) -> None:
        self.account = account
        self.id = str(account.id)


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
    def load(user_id: str) -> User | None:
        found = accounts.account(app.extensions["ivr.db"], int(user_id))
        return User(found) if found else None

    csrf.init_app(app)
    # One app per process in production; the tests build many in one process, each of which
    # must count its own login attempts.
    app.extensions["ivr.login_attempts"] = MovingWindowRateLimiter(MemoryStorage())
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
        attempts: MovingWindowRateLimiter = current_app.extensions["ivr.login_attempts"]
        if not attempts.hit(LOGIN_ATTEMPTS, request.remote_addr or "?"):
            return render_template("login.html", too_many=True), 429
        app = current_app
        found = accounts.authenticate(
            app.extensions["ivr.db"],
            app.extensions["ivr.clock"],
            request.form.get("email", ""),
            request.form.get("password", ""),
        )
        if found is not None:
            login_user(User(found))
            app.logger.info("account %s logged in", found.id)
            return redirect(_safe_next(request.args.get("next")))
        app.logger.warning("failed login attempt")
        flash("Adresse ou mot de passe incorrect.")
    return render_template("login.html")


@blueprint.post("/logout")
def logout() -> Response:
    logout_user()
    return redirect("/login")


def _safe_next(target: str | None) -> str:
    """Back where the visitor was going, on this site only."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"
