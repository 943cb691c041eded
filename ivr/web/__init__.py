"""The Flask application: Twilio's webhooks, the back office, health. Its parts (services,
database, clock) are built by the composition root (`ivr.composition`) and handed in."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Flask, Request, Response, render_template, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr.adapters import logs
from ivr.domain.local_time import in_paris
from ivr.domain.phones import digit_pairs
from ivr.domain.trace_words import (
    ACCOUNT_ROLES,
    ALERTS,
    AUDIT_ACTIONS,
    AUDIT_KEYS,
    IMPORT_KINDS,
    IMPORT_STATES,
    JOB_KINDS,
    audit_value,
    job_state,
    label,
)
from ivr.domain.triage import Danger
from ivr.settings import Settings

MAX_BODY_BYTES = 256 * 1024 * 1024


def web_app(settings: Settings, parts: Mapping[str, Any]) -> Flask:
    """The app, its parts kept in `app.extensions` under their names (`ivr.db`, ...)."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = settings.SECRET_KEY or secrets.token_hex(32)
    # No body larger than the largest upload (a million-row client file); the webhooks set
    # their own, smaller limit.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.session_interface = _PeopleSessions()
    if settings.IVR_TRUSTED_PROXIES:
        # Behind a TLS proxy: the pages' links and cookies follow the public scheme and host.
        # Twilio's signatures never depend on it: they are checked against PUBLIC_BASE_URL.
        hops = settings.IVR_TRUSTED_PROXIES
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.extensions.update(parts)
    logs.configure(settings.LOG_FORMAT == "json", parts["ivr.clock"])

    from ivr.web import admin, auth, backoffice, fax, home, reference, twilio

    auth.init(app)
    app.after_request(_security_headers)
    app.add_template_filter(_paris, "paris")
    app.add_template_filter(_day, "day")
    app.add_template_filter(lambda number: digit_pairs(number or ""), "phone")
    app.add_template_filter(lambda kind: JOB_KINDS.get(kind, kind), "job_kind")
    app.add_template_filter(job_state, "job_state")
    app.add_template_filter(audit_value, "audit_value")
    app.add_template_filter(lambda code: label(Danger, code), "danger")
    for name, words in (
        ("import_kind", IMPORT_KINDS),
        ("import_state", IMPORT_STATES),
        ("alert", ALERTS),
        ("audit_action", AUDIT_ACTIONS),
        ("audit_key", AUDIT_KEYS),
        ("account_role", ACCOUNT_ROLES),
    ):
        app.add_template_filter(lambda code, words=words: words.get(code, code), name)
    app.register_error_handler(HTTPException, _error_page)
    app.register_blueprint(home.blueprint)
    app.register_blueprint(backoffice.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(reference.blueprint)
    # Signed their own way (Twilio's signature, the fax callback's token): no CSRF token.
    app.register_blueprint(auth.csrf.exempt(twilio.blueprint))
    app.register_blueprint(auth.csrf.exempt(fax.blueprint))
    return app


# Every answer: never framed (clickjacking), never sniffed as another type (an uploaded
# prompt read as HTML), scripts and everything else from this site only. Inline style
# attributes are allowed: the planning's bars are placed by them; inline scripts are not.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class _PeopleSessions(SecureCookieSessionInterface):
    """Cookie sessions for people; none for Twilio, whose webhooks carry no cookie (opening
    one builds a signing serializer on every turn of every call)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/twilio/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def _paris(instant: datetime | None, pattern: str = "%d/%m/%Y %H:%M") -> str:
    """A stored (UTC) instant as people in France read it."""
    return in_paris(instant).strftime(pattern) if instant else ""


ERRORS = {  # what people read instead of Werkzeug's English pages
    400: ("Demande incomprise", "La page n'a pas compris ce qui lui a été envoyé."),
    403: ("Accès refusé", "Votre compte n'a pas accès à cette page."),
    404: ("Page introuvable", "Cette page n'existe pas, ou n'est pas dans votre périmètre."),
    405: ("Action impossible", "Cette page ne s'utilise pas ainsi."),
    410: ("Effacé", "Cet enregistrement a été effacé après sa durée de conservation."),
    413: ("Fichier trop gros", "Le fichier envoyé dépasse la taille permise."),
    429: ("Trop d'essais", "Patientez un peu avant de réessayer."),
    500: (
        "Erreur du serveur",
        "Une erreur est survenue. Réessayez dans un instant ; si elle persiste, prévenez "
        "l'exploitation (l'erreur est dans le journal du serveur).",
    ),
    502: ("Service injoignable", "Le service externe n'a pas répondu ; réessayez plus tard."),
}


def _error_page(error: HTTPException) -> Any:
    """People get a French page; Twilio and the fax provider keep the bare status."""
    if request.path.startswith(("/twilio/", "/fax/")) or error.code not in ERRORS:
        return error
    title, explanation = ERRORS[error.code]
    page = render_template("error.html", title=title, explanation=explanation)
    return page, error.code


DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def _day(instant: datetime) -> str:
    """« mardi 22/12/2026 »: the Paris date, its day in French whatever the server's locale."""
    local = in_paris(instant)
    return f"{DAYS[local.weekday()]} {local:%d/%m/%Y}"
