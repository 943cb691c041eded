"""The front page and the health check."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ivr.adapters.db import Database
from ivr.adapters.metrics import JobsDue, exposition
from ivr.adapters.migrations import schema_behind
from ivr.services.back_office import jobs_due, overview
from ivr.services.charts import charts
from ivr.web.auth import current_account, requires
from ivr.web.parts import clock, db, part, reference, settings

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


@blueprint.get("/metrics")
def metrics() -> Any:
    """Prometheus's scrape, with the `METRICS_TOKEN` bearer token only (else 404: the page
    is not there for anyone else). The jobs due are read from the database, bounded."""
    token = settings().METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if not token or not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        abort(404)
    due, oldest = jobs_due(part("ivr.calls_db"), clock().now())
    text, content_type = exposition(JobsDue(due, oldest))
    return Response(text, content_type=content_type)


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
            behind = schema_behind(connection)
        if behind:
            return jsonify(status=behind), 503
        if not reference().directory(calls_db).agencies:
            return jsonify(status="no directory loaded: ivr import directory"), 503
    except (OperationalError, InterfaceError, PoolTimeout):  # refused, timed out, locked...
        current_app.logger.exception("health check: database unreachable")
        return jsonify(status="database unreachable"), 503
    except Exception:  # it answers, and something stops this code: the log says what
        current_app.logger.exception("health check: the database answers, its data fails")
        return jsonify(status="the database answers, but this server fails: see its log"), 503
    return jsonify(status="ok")
