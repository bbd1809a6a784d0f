"""Every expression parses as one Jinja2 expression.

Conditions (``when``), computed values (``expr``) and warning rules are
expressions; one that does not parse makes the whole checklist unusable,
so it is found here rather than when a loan is inspected.

Fails:

    rules:
      - id: overdue
        when: "loan.days_past_due >"
        severity: major
        signal: Overdue

Passes:

    rules:
      - id: overdue
        when: "loan.days_past_due > 90"
        severity: major
        signal: Overdue
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.linting.model import ChecklistFile, Finding

CODE = "CL102"
NAME = "expression-syntax"
LEVEL = "error"
SCOPE = "checklist"


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    for site in ctx.expressions:
        if site.error is not None and site.error.code == "PL201":
            yield Finding(f"{site.error.message}: {site.source}", site.path)
