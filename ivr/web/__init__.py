"""The Flask application: Twilio webhooks, the back office, health."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr.adapters.db import Database
from ivr.domain.local_time import in_paris
from ivr.services.callee import Announcements, DispatcherCalls
from ivr.services.calls import Calls
from ivr.services.dispatch import make_dispatcher
from ivr.services.reference import ReferenceCache
from ivr.settings import Settings, load_settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from settings (the environment by default). Nothing happens at import."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config["SECRET_KEY"] = settings.SECRET_KEY or secrets.token_hex(32)
    app.session_interface = _PeopleSessions()
    if settings.IVR_TRUSTED_PROXIES:
        # Behind a TLS proxy: the pages' links and cookies follow the public scheme and host.
        # Twilio's signatures never depend on it: they are checked against PUBLIC_BASE_URL.
        hops = settings.IVR_TRUSTED_PROXIES
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.extensions["ivr.settings"] = settings
    app.extensions["ivr.db"] = db = Database(settings.DATABASE_URL)
    app.extensions["ivr.clock"] = clock = settings.make_clock()
    app.extensions["ivr.reference"] = reference = ReferenceCache()
    app.extensions["ivr.calls"] = Calls(db, settings, clock, reference)
    app.extensions["ivr.announcements"] = Announcements(db, settings, clock, reference)
    app.extensions["ivr.dispatcher_calls"] = DispatcherCalls(db, settings, clock, reference)
    # The web app follows the dispatcher's calls; placing them is the worker's (ivr worker).
    app.extensions["ivr.dispatcher"] = make_dispatcher(db, settings, clock, reference)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    from ivr.web import auth, backoffice, fax, home, twilio

    auth.init(app)
    app.add_template_filter(_paris, "paris")
    app.register_blueprint(home.blueprint)
    app.register_blueprint(backoffice.blueprint)
    # Signed their own way (Twilio's signature, the fax callback's token): no CSRF token.
    app.register_blueprint(auth.csrf.exempt(twilio.blueprint))
    app.register_blueprint(auth.csrf.exempt(fax.blueprint))
    if settings.IVR_SIMULATOR:
        from ivr.simulator.demo import Simulator
        from ivr.web import simulator

        simulator.register(app, Simulator(app, settings, db, clock))
    return app


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
