"""Expressions read answers only: no names or attributes starting with ``_``.

Expressions run in Jinja2's immutable sandbox; reaching for Python
internals (``x.__class__``) is refused when the checklist loads, so such
a checklist can never be used.

Fails:

    when: "loan.__class__ == 1"

Passes:

    when: "loan.type == 'fixed_asset'"
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.linting.model import ChecklistFile, Finding

CODE = "CL103"
NAME = "expression-internals"
LEVEL = "error"
SCOPE = "checklist"


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    for site in ctx.expressions:
        if site.error is not None and site.error.code == "PL203":
            yield Finding(f"{site.error.message}: {site.source}", site.path)
