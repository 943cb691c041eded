"""The fax provider's delivery reports (Sinch Fax API v3 callbacks, `FAX_COMPLETED`).

Sinch signs nothing: the callback URL carries a token derived from SECRET_KEY, checked here
in constant time; anything else gets 403 and changes nothing.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from flask import Blueprint, Response, abort, request

from ivr.adapters.fax import fax_callback_token
from ivr.services.dispatch import Dispatcher
from ivr.web.parts import part, settings

log = logging.getLogger(__name__)
blueprint = Blueprint("fax", __name__, url_prefix="/fax")

_STATUSES = {"COMPLETED": "completed", "FAILURE": "failed"}


@blueprint.post("/status")
def status() -> Response:
    expected = fax_callback_token(settings())
    given = request.args.get("token", "")
    if expected is None or not hmac.compare_digest(given.encode(), expected.encode()):
        log.warning("refused a fax callback without the right token")
        abort(403)
    fax = _fax_of(request)
    reference, state = str(fax.get("id", "")), _STATUSES.get(str(fax.get("status", "")).upper())
    if not reference or state is None:
        return Response(status=204)  # queued, in progress, or not about a fax we sent
    dispatcher: Dispatcher = part("ivr.dispatcher")
    dispatcher.sheets.delivered(reference, state)
    return Response(status=204)


def _fax_of(req: Any) -> dict[str, Any]:
    """The fax of a callback: a JSON body, or a form whose `fax` field holds its JSON."""
    try:
        body = req.get_json(silent=True) or json.loads(req.form.get("fax") or "{}")
    except ValueError:
        return {}
    fax = body.get("fax", body) if isinstance(body, dict) else {}
    return fax if isinstance(fax, dict) else {}
