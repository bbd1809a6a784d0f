"""The ``classification:`` block names the floor of all four severities.

Each severity (info, watch, major, critical) implies a floor for the
suggested five-category classification. The defaults exist, but a policy
document must state its mapping: an unmapped severity would silently take
a default nobody reviewed.

Fails:

    classification:
      watch: special_mention
      major: special_mention
      critical: substandard

Passes:

    classification:
      info: normal
      watch: special_mention
      major: special_mention
      critical: substandard
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.linting.model import ChecklistFile, Finding
from postloan_cli.models import Severity

CODE = "CL202"
NAME = "classification-map"
LEVEL = "error"
SCOPE = "checklist"


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    block = ctx.document.data.get("classification")
    if block is None:
        yield Finding(
            "no 'classification:' block; map every severity (info, watch, major, critical) "
            "to a classification floor",
            line=1,
            column=1,
        )
        return
    named = set(block) if isinstance(block, dict) else set()
    missing = [s.value for s in Severity if s.value not in named]
    if missing:
        yield Finding(
            "the 'classification:' block leaves " + ", ".join(missing) + " unmapped; "
            "name all four severities",
            ("classification",),
            key=True,
        )
