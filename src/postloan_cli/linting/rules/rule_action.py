"""A major or critical warning rule says what to do and to whom it is escalated.

A serious warning signal in the opinion must come with a required action
(``action``) and an escalation target (``escalate_to``, e.g. the branch
head or the risk committee): credit policy requires both, and the opinion
lists them with their due date (``within_days``).

Fails:

    rules:
      - {id: funds_diverted, when: "funds_as_contracted == false", severity: critical,
         signal: Funds diverted}

Passes:

    rules:
      - {id: funds_diverted, when: "funds_as_contracted == false", severity: critical,
         signal: Funds diverted, action: Recall the loan, escalate_to: Branch head,
         within_days: 1}
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.linting.model import ChecklistFile, Finding
from postloan_cli.models import Severity

CODE = "CL201"
NAME = "rule-action"
LEVEL = "warning"
SCOPE = "checklist"


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    for s_index, section in enumerate(ctx.checklist.sections):
        for r_index, rule in enumerate(section.rules):
            if rule.severity not in (Severity.major, Severity.critical):
                continue
            missing = [key for key in ("action", "escalate_to") if not getattr(rule, key)]
            if missing:
                yield Finding(
                    f"rule '{rule.id}' is {rule.severity.value} but has no "
                    + " and no ".join(missing)
                    + "; serious signals need a required action and an escalation target",
                    ("sections", s_index, "rules", r_index, "severity"),
                )
