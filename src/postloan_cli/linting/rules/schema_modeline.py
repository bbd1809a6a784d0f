"""A checklist names its JSON Schema in a yaml-language-server modeline.

Editors (VS Code's YAML plugin and others built on yaml-language-server)
read the modeline in the first lines of the file and then offer completion,
hover help and validation as the policy author types. Without it a typo is
found only when CI runs.

Fails:

    id: post-loan-standard
    version: "1.0.0"

Passes:

    # yaml-language-server: $schema=../../schemas/checklist.schema.json
    id: post-loan-standard
    version: "1.0.0"
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.linting.model import ChecklistFile, Finding

CODE = "CL001"
NAME = "schema-modeline"
LEVEL = "warning"
SCOPE = "checklist"

MODELINE = "# yaml-language-server: $schema="


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    head = ctx.document.text.splitlines()[:5]
    if not any(line.strip().startswith(MODELINE) for line in head):
        yield Finding(
            "no yaml-language-server schema modeline in the first lines; add "
            f"'{MODELINE}<path to>/schemas/checklist.schema.json'",
            line=1,
            column=1,
        )
