"""The lock file is readable and has the expected layout.

``postloan.lock`` is written by ``postloan lint --update-lock``; a lock
that cannot be read switches the version checks off, so it is an error.

Fails:

    # checklists/postloan.lock
    mini: 1.0.0

Passes:

    format: 1
    checklists:
      "mini":
        "1.0.0": "sha256:…"
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.linting.model import Finding, Project

CODE = "CL305"
NAME = "lock-file"
LEVEL = "error"
SCOPE = "project"


def check(project: Project) -> Iterator[Finding]:
    for lock in project.locks.values():
        for problem in lock.problems:
            yield Finding(
                problem.message,
                line=problem.line,
                column=problem.column,
                file=problem.file,
                code=problem.code,
            )
