"""Two files never hold the same checklist id and version.

Which of them an answer file would be checked against depends on the
search order of folders: the same pin could mean two different checklists.

Fails:

    # checklists/mini/1.0.0.yaml and custom/mini/1.0.0.yaml both say id: mini, version: "1.0.0"

Passes:

    # one file per id and version
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.linting.model import Finding, Project

CODE = "CL303"
NAME = "duplicate-version"
LEVEL = "error"
SCOPE = "project"


def check(project: Project) -> Iterator[Finding]:
    first: dict[tuple[str, str], str] = {}
    for ctx in project.checklists:
        key = (ctx.checklist.id, ctx.checklist.version)
        if key in first and first[key] != ctx.display:
            yield Finding(
                f"{key[0]} {key[1]} is also defined in {first[key]}: one file per id and version",
                ("version",),
                file=ctx.display,
            )
        first.setdefault(key, ctx.display)
