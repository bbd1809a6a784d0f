"""A checklist file lives at ``<dir>/<id>/<version>.yaml``.

Answer files pin a checklist by id and version, and postloan finds it at
that path; a file whose content says another id or version would be found
under the wrong name, or not at all.

Fails:

    # checklists/post-loan-standard/1.1.0.yaml
    id: post-loan-standard
    version: "1.0.0"

Passes:

    # checklists/post-loan-standard/1.0.0.yaml
    id: post-loan-standard
    version: "1.0.0"
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.linting.model import ChecklistFile, Finding

CODE = "CL301"
NAME = "path-layout"
LEVEL = "error"
SCOPE = "checklist"


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    cl = ctx.checklist
    expected = f"{cl.id}/{cl.version}.yaml"
    if ctx.path.parent.name != cl.id:
        yield Finding(
            f"checklist '{cl.id}' is in folder '{ctx.path.parent.name}'; "
            f"its path must end in {expected}",
            ("id",),
        )
    if ctx.path.name != f"{cl.version}.yaml":
        yield Finding(
            f"version '{cl.version}' is in file '{ctx.path.name}'; its path must end in {expected}",
            ("version",),
        )
