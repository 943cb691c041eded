"""Importing the reference data: the weekly client file and the directory (docs/formats.md).

Both follow one discipline: read and check everything, report every bad line, and only when
nothing is wrong, swap the new data in at once. The data in force is never half-replaced,
and calls keep being answered from it while an import runs:
- the client file lives in two tables: the one in force, and the standby the next import
  empties and loads without indexes (built once at the end: ten times faster than keeping
  them up row by row). Readers never look at the standby; the swap is a one-row update of
  `reference_state`. The previous file stays in the old table until the next import;
- the directory (hundreds of rows) is replaced in one short transaction.
"""

from __future__ import annotations

from ivr.services.importing.clients import SHRINK_CONFIRMATION, import_clients
from ivr.services.importing.directory import import_directory
from ivr.services.importing.report import ImportReport

__all__ = ["SHRINK_CONFIRMATION", "ImportReport", "import_clients", "import_directory"]
