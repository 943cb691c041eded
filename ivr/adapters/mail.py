"""E-mail to people (the operators' alerts), through an SMTP server."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ivr.adapters.providers import PermanentProviderError, TransientProviderError


def send_mail(
    host: str, port: int, sender: str, to: list[str], subject: str, body: str, timeout: float = 15
) -> str:
    """Mail `body` to every address of `to`; its Message-ID. A server away or busy is
    transient (tried again later), a refusal permanent."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, ", ".join(to), subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="astreinte")
    message.set_content(body)
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as server:
            server.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        refused = len(error.recipients)
        raise PermanentProviderError(f"mail refused for {refused} address(es)") from None
    except smtplib.SMTPResponseException as error:
        kind = PermanentProviderError if error.smtp_code >= 500 else TransientProviderError
        raise kind(f"mail server said {error.smtp_code}") from None
    except (smtplib.SMTPException, OSError) as error:
        raise TransientProviderError(f"mail server: {type(error).__name__}") from None
    return str(message["Message-ID"])
