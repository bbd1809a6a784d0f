"""A choice question offers at least two options.

A choice list with one option is no choice: it is either unfinished or
should be a yes/no question.

Fails:

    - id: repayment_source
      type: single_choice
      prompt: Main repayment source
      choices: [{id: sales, label: Sales}]

Passes:

    - id: repayment_source
      type: single_choice
      prompt: Main repayment source
      choices: [{id: sales, label: Sales}, {id: refinancing, label: Refinancing}]
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.linting.model import ChecklistFile, Finding

CODE = "CL204"
NAME = "single-option"
LEVEL = "warning"
SCOPE = "checklist"


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    for site in ctx.all_questions:
        choices = getattr(site.question, "choices", None)
        if choices is not None and len(choices) == 1:
            yield Finding(
                f"'{site.question.id}' offers one choice only; add options or make it yes_no",
                (*site.path, "choices"),
            )
