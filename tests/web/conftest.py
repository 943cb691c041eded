"""The back office's tests use the dispatcher's night (the app and a worker, Twilio faked)."""

from tests.dispatch.conftest import fake_twilio, night, twilio_openapi  # noqa: F401
