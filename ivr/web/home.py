"""The front page and the health check."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template

from ivr.adapters.db import Database
from ivr.adapters.migrations import revisions
from ivr.services.back_office import overview
from ivr.services.charts import charts
from ivr.web.auth import current_account, requires
from ivr.web.parts import clock, db, part, reference

blueprint = Blueprint("home", __name__)


@blueprint.get("/")
@requires()
def index() -> str:
    """What this is, and what data it answers from."""
    seen = overview(db(), current_account())
    return render_template(
        "index.html",
        clients=seen.clients,
        agencies=seen.agencies,
        imports=seen.imports,
        now=clock().local_now(),
        charts=charts(db(), clock(), current_account()),
    )


@blueprint.get("/livez")
def alive() -> Any:
    """Liveness: the process answers (restart it if not). Needs nothing else."""
    return jsonify(status="alive")


@blueprint.get("/healthz")
def health() -> Any:
    """Readiness: this process can answer a call. The database answers within a call's
    bound, its schema is the one the code expects, the directory is loaded. Else 503, with
    what is wrong (send calls elsewhere, and look)."""
    calls_db: Database = part("ivr.calls_db")
    try:
        with calls_db.engine.connect() as connection:
            current, expected = revisions(connection)
        if current != expected:
            return jsonify(status=f"schema at {current}, expected {expected}: ivr db upgrade"), 503
        if not reference().directory(calls_db).agencies:
            return jsonify(status="no directory loaded: ivr import directory"), 503
    except Exception:  # any failure means "not ready"; the reason goes to the log
        current_app.logger.exception("health check: database unreachable")
        return jsonify(status="database unreachable"), 503
    return jsonify(status="ok")
