"""The front page and the health check."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template
from sqlalchemy import text

from ivr.services.back_office import overview
from ivr.services.charts import charts
from ivr.web.auth import current_account, requires
from ivr.web.parts import clock, db

blueprint = Blueprint("home", __name__)


@blueprint.get("/")
@requires()
def index() -> str:
    """What this is, and what data it answers from."""
    seen = overview(db())
    return render_template(
        "index.html",
        clients=seen.clients,
        agencies=seen.agencies,
        imports=seen.imports,
        now=clock().local_now(),
        charts=charts(db(), clock(), current_account()),
    )


@blueprint.get("/healthz")
def health() -> Any:
    """Up, and the database answers."""
    try:
        with db().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # any failure means "not healthy"; the reason goes to the log
        current_app.logger.exception("health check: database unreachable")
        return jsonify(status="database unreachable"), 503
    return jsonify(status="ok")
