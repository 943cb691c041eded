"""How the outside providers (Twilio, the fax services) fail, as every adapter of one says it.
The service layer decides what each means for its work (`ivr.services.jobs.provider_errors`)."""

from __future__ import annotations


class ProviderError(Exception):
    """The provider did not do what it was asked."""


class TransientProviderError(ProviderError):
    """Worth trying again later, as it is (provider down, rate limited, network).
    `maybe_done`: no answer came back, so the provider may have done the work all the same."""

    def __init__(self, message: str, maybe_done: bool = False) -> None:
        super().__init__(message)
        self.maybe_done = maybe_done


class PermanentProviderError(ProviderError):
    """Asking again as it is cannot work (a bad number, a refused request)."""
