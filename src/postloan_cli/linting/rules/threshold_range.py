"""Threshold values are in range: percents within 0–100, days and amounts not negative.

Thresholds are policy data that rules compare answers with. A percent is in
per-hundred units (``70`` means 70 %), so ``170`` or ``-5`` is a typo; a
number of days, an amount of money or a ratio below zero cannot be met by
any loan.

Fails:

    thresholds:
      - {id: own_funding_min, label: Minimum own funding, type: percent, value: 130}

Passes:

    thresholds:
      - {id: own_funding_min, label: Minimum own funding, type: percent, value: 30}
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.linting.model import ChecklistFile, Finding

CODE = "CL207"
NAME = "threshold-range"
LEVEL = "error"
SCOPE = "checklist"


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    for index, threshold in enumerate(ctx.checklist.thresholds):
        value = threshold.value
        path = ("thresholds", index, "value")
        if threshold.type == "percent" and not 0 <= value <= 100:
            yield Finding(
                f"threshold '{threshold.id}' is a percent (per hundred) but is {value}; "
                "use a value from 0 to 100",
                path,
            )
        elif threshold.type in ("days", "money", "ratio", "integer") and value < 0:
            yield Finding(
                f"threshold '{threshold.id}' ({threshold.type}) is negative ({value})", path
            )
