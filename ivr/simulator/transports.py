"""How the phone simulator reaches the webhooks: in-process through a Flask app's test client,
or over HTTP(S)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from flask import Flask


class Transport(Protocol):
    """How the simulator reaches the webhooks: one form-encoded POST, answered by status + body."""

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        """POST `params` (form-encoded) to the absolute `url`; return (HTTP status, body)."""
        ...


class FlaskTransport:
    """Calls a Flask app in-process through its test client.

    The absolute URL is split into host, path and query string; the query string is passed on
    untouched, so that the app sees the very URL that was signed.
    """

    def __init__(self, app: Flask) -> None:
        self._client = app.test_client()

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        """POST to the app; see `Transport.post`."""
        parts = urllib.parse.urlsplit(url)
        response = self._client.post(
            parts.path or "/",
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            data=params,
            headers=headers,
        )
        body = response.get_data(as_text=True)
        response.close()  # sent: what the app does after the answer is done, as a server would
        return response.status_code, body


class HttpTransport:
    """Calls a server over HTTP(S) with `urllib.request`."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._timeout = timeout

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        """POST to the server; see `Transport.post`. HTTP errors come back as a status."""
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {url!r}")
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            url,
            data=urllib.parse.urlencode(params).encode(),
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                return int(response.status), response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")
