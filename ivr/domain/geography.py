"""Where a caller is, from the postcode they key: the department, then an agency."""

from __future__ import annotations

from ivr.domain.model import Agency, Directory


def department_of(postcode: str) -> str:
    """The department of a French postcode: `57000` -> `57`, `20100` -> `2A`, `97110` -> `971`."""
    if postcode.startswith("97"):
        return postcode[:3]
    if postcode.startswith("20"):
        return "2A" if postcode < "20200" else "2B"
    return postcode[:2]


def agency_for_postcode(directory: Directory, postcode: str) -> Agency | None:
    """The agency of that department whose own postcode is nearest; None if there is none."""
    department = department_of(postcode)
    candidates = [a for a in directory.agencies.values() if a.department == department]
    if not candidates:
        return None
    return min(candidates, key=lambda a: (abs(int(a.postcode) - int(postcode)), a.cia))
