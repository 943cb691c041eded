"""What the program takes for an e-mail address: one "@", a dot in the domain, no space.
Whether it is delivered is the mail server's to say; this catches a typo or a stray name."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_email_address(text: str) -> bool:
    return bool(_EMAIL.match(text))
