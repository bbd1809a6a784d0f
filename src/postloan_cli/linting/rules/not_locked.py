"""Every checklist version is recorded in the lock file, once one exists.

A version missing from ``postloan.lock`` is new: record it with
``postloan lint --update-lock`` in the same pull request, so that later
edits to it are caught. (Without a lock file, version checks are off.)

Fails:

    # checklists/postloan.lock has no entry for mini 1.1.0

Passes:

    # checklists/postloan.lock lists mini 1.1.0 (written by --update-lock)
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.linting.model import Finding, Project

CODE = "CL304"
NAME = "not-locked"
LEVEL = "warning"
SCOPE = "project"


def check(project: Project) -> Iterator[Finding]:
    for ctx, lock, key in project.locked():
        if key not in lock.entries:
            yield Finding(
                f"{key[0]} {key[1]} is not recorded in {lock.path.name}; run "
                "'postloan lint --update-lock' and commit the lock file",
                ("version",),
                file=ctx.display,
            )
