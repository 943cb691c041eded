"""The example nginx front (deploy/nginx/) before a real `ivr serve`: slow clients and large
bodies stop at nginx, and Twilio's webhooks go through. Debian's nginx; skipped, loudly,
without it (apt-get install nginx-light)."""

from __future__ import annotations

import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import AUTH_TOKEN, NGINX, needs_nginx, new_call, running_ivr, wait_until

LOCATIONS = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "ivr-locations.conf"

pytestmark = needs_nginx


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def front(tmp_path, database_url, demo):
    """nginx on a free port, with the project's locations, before `ivr serve`."""
    port = _free_port()
    public = f"http://127.0.0.1:{port}"
    with running_ivr(database_url, TWILIO_AUTH_TOKEN=AUTH_TOKEN, PUBLIC_BASE_URL=public) as app:
        upstream = urllib.parse.urlsplit(app).netloc
        conf = tmp_path / "nginx.conf"
        conf.write_text(
            "user root;\n"
            "daemon off;\n"
            f"pid {tmp_path}/nginx.pid;\n"
            f"error_log {tmp_path}/error.log;\n"
            "events {}\n"
            "http {\n"
            f"  access_log off;\n"
            f"  client_body_temp_path {tmp_path}/body;\n"
            f"  proxy_temp_path {tmp_path}/proxy;\n"
            f"  upstream ivr {{ server {upstream}; keepalive 8; }}\n"
            f"  server {{ listen 127.0.0.1:{port}; include {LOCATIONS}; }}\n"
            "}\n"
        )
        nginx = subprocess.Popen([str(NGINX), "-p", str(tmp_path), "-c", str(conf)])
        try:
            wait_until(lambda: _listening(port), "nginx to listen")
            yield public
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _webhook(base: str) -> tuple[int, str]:
    return new_call(f"{base}/twilio/voice")


def test_slow_clients_stop_at_nginx_and_the_webhooks_go_through(front):
    port = int(front.rsplit(":", 1)[1])
    stalled = []
    for _ in range(20):  # each sends its headers and a little of a body, then nothing
        held = socket.create_connection(("127.0.0.1", port))
        held.sendall(
            b"POST /twilio/voice HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\nCallSid=CA"
        )
        stalled.append(held)
    try:
        status, twiml = _webhook(front)
        assert status == 200 and "numéro de contrat" in twiml
    finally:
        for held in stalled:
            held.close()


def test_a_body_too_large_for_a_webhook_stops_at_nginx(front):
    request = urllib.request.Request(
        f"{front}/twilio/voice", data=b"x" * (200 * 1024), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=8)
    assert refused.value.code == 413
