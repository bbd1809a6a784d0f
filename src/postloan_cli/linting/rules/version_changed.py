"""A published checklist version is never changed: bump the version instead.

Answer files pin a checklist version, and an inspection opinion must be
reproducible from its answer file years later. The lock file
(``postloan.lock`` beside the checklist folders) records a content hash per
id and version; a checklist whose content no longer matches its recorded
hash was changed after publication. Comments and layout may change; the
meaning may not. Add ``<id>/<new version>.yaml`` and run
``postloan lint --update-lock``.

Fails:

    # checklists/postloan.lock records mini 1.0.0 with another hash
    # checklists/mini/1.0.0.yaml was edited

Passes:

    # checklists/mini/1.0.0.yaml unchanged; the edit is in checklists/mini/1.1.0.yaml,
    # recorded with `postloan lint --update-lock`
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.linting.lock import content_hash
from postloan_cli.linting.model import Finding, Project

CODE = "CL302"
NAME = "version-changed"
LEVEL = "error"
SCOPE = "project"


def check(project: Project) -> Iterator[Finding]:
    for ctx, lock, key in project.locked():
        recorded = lock.entries.get(key)
        if recorded is not None and recorded != content_hash(ctx.document.data):
            yield Finding(
                f"{key[0]} {key[1]} differs from the version recorded in {lock.path.name}: "
                "a published version is immutable; bump the version (and run "
                "'postloan lint --update-lock')",
                ("version",),
                file=ctx.display,
            )
