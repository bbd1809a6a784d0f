"""A standard checklist covers all eight inspection areas.

The bank's standard post-loan inspection covers use of funds, business
environment, operations, financials, management, major events, guarantor
and collateral; a ``kind: standard`` checklist needs a section for each
(``area:``). Checklists for a narrower purpose say ``kind: custom``.

Fails:

    kind: standard
    sections:
      - {id: use_of_funds, area: use_of_funds, title: Use of funds}

Passes:

    kind: custom
    sections:
      - {id: use_of_funds, area: use_of_funds, title: Use of funds}
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.linting.model import ChecklistFile, Finding
from postloan_cli.models import AREAS

CODE = "CL203"
NAME = "standard-areas"
LEVEL = "error"
SCOPE = "checklist"


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    if ctx.checklist.kind != "standard":
        return
    present = {s.area for s in ctx.checklist.sections}
    missing = [a for a in AREAS if a not in present]
    if missing:
        yield Finding(
            "a standard checklist needs a section for every area; missing: " + ", ".join(missing),
            ("kind",),
        )
