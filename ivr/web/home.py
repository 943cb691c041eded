"""The front page and the health check."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template
from sqlalchemy import func, select, text

from ivr.adapters.db import Database
from ivr.adapters.orm import AgencyRow, ImportRecord
from ivr.adapters.repository import client_count
from ivr.services.charts import charts
from ivr.web.auth import current_account, requires

blueprint = Blueprint("home", __name__)


def _db() -> Database:
    db: Database = current_app.extensions["ivr.db"]
    return db


@blueprint.get("/")
@requires()
def index() -> str:
    """What this is, and what data it answers from."""
    with _db().snapshot() as session:
        clients = client_count(session)
        agencies = session.scalar(select(func.count()).select_from(AgencyRow))
        imports = session.scalars(
            select(ImportRecord).order_by(ImportRecord.id.desc()).limit(5)
        ).all()
    clock = current_app.extensions["ivr.clock"]
    pictures = charts(_db(), clock, current_account())
    return render_template(
        "index.html",
        clients=clients,
        agencies=agencies,
        imports=imports,
        now=clock.local_now(),
        charts=pictures,
    )


@blueprint.get("/healthz")
def health() -> Any:
    """Up, and the database answers."""
    try:
        with _db().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # any failure means "not healthy"; the reason goes to the log
        current_app.logger.exception("health check: database unreachable")
        return jsonify(status="database unreachable"), 503
    return jsonify(status="ok")
