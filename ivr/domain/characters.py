"""Characters no XML document may hold (XML 1.0, §2.2): control characters but tab, line feed
and carriage return, lone surrogates, U+FFFE and U+FFFF. Old exports leave \\x1a (Ctrl-Z) in
names, and a paste can bring \\x00 or \\x1b; one of them in a prompt or a client's name would
make every answer that says it invalid TwiML, which Twilio refuses: the caller hears an error.
"""

from __future__ import annotations

import re

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def forbidden_in(text: str) -> str | None:
    """The first forbidden character of `text`, named as a person can look it up (« U+001A »);
    None if there is none."""
    found = _FORBIDDEN.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def without_forbidden(text: str) -> str:
    """`text` with every forbidden character removed."""
    return _FORBIDDEN.sub("", text)
