"""The lock file: one content hash per published checklist id and version.

A published checklist version is immutable: answer files pin it, and an
opinion must be reproducible years later. ``postloan.lock`` sits in the
checklist folder (``checklists/postloan.lock`` for ``checklists/<id>/<version>.yaml``)
and is committed with it. Lint compares each checklist with its entry:

* same id and version, different hash: the published version was changed
  (``CL302``; add a new version instead);
* no entry: a new version, not yet recorded (``CL304``; run
  ``postloan lint --update-lock``).

The hash is SHA-256 of the *parsed data* as canonical JSON, so comments,
the schema modeline, quoting and indentation may change; any change of
meaning may not. The file is written by :func:`write_lock` with a fixed
layout (sorted, one entry a line), so its diff in a pull request shows
exactly which versions were added or re-hashed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from postloan_cli import yamlio
from postloan_cli.errors import InputError, Problem
from postloan_cli.resources import version_key

LOCK_NAME = "postloan.lock"
LOCK_FORMAT = 1

_HEADER = """\
# postloan.lock: content hashes of published checklist versions.
# Written by `postloan lint --update-lock`; commit it beside the checklists.
# A published version is immutable: to change a checklist, add a new version file.
"""

Key = tuple[str, str]


def content_hash(data: Any) -> str:
    """``sha256:<hex>`` of ``data`` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class LockFile:
    """A lock file's entries; ``exists`` is false for a lock not written yet."""

    path: Path
    entries: dict[Key, str] = field(default_factory=dict)
    exists: bool = False
    problems: list[Problem] = field(default_factory=list)


def lock_path_for(checklist: Path) -> Path:
    """Where the lock of ``<root>/<id>/<version>.yaml`` lives: ``<root>/postloan.lock``."""
    return checklist.parent.parent / LOCK_NAME


def read_lock(path: Path, display: str | None = None) -> LockFile:
    """Read ``path``; a missing file gives an empty lock, a malformed one its problems."""
    name = display or str(path)
    lock = LockFile(path)
    if not path.exists():
        return lock
    lock.exists = True
    try:
        doc = yamlio.load(path, display=name)
    except InputError as exc:
        lock.problems.extend(exc.problems)
        return lock
    data = doc.data
    table = data.get("checklists")
    if data.get("format") != LOCK_FORMAT or not isinstance(table, dict):
        lock.problems.append(
            Problem(
                "CL305",
                f"not a postloan lock file (expected 'format: {LOCK_FORMAT}' and a "
                "'checklists' mapping); rewrite it with 'postloan lint --update-lock'",
                name,
                1,
                1,
            )
        )
        return lock
    for checklist_id, versions in table.items():
        if not isinstance(versions, dict):
            line, column = doc.locate(("checklists", checklist_id)) or (1, 1)
            lock.problems.append(
                Problem(
                    "CL305",
                    f"entry '{checklist_id}' must map versions to hashes",
                    name,
                    line,
                    column,
                )
            )
            continue
        for version, digest in versions.items():
            lock.entries[(str(checklist_id), str(version))] = str(digest)
    return lock


def lock_text(entries: Mapping[Key, str]) -> str:
    """The lock file's text for ``entries``: sorted by id, then by version."""
    lines = [_HEADER, f"format: {LOCK_FORMAT}\n", "checklists:\n"]
    by_id: dict[str, list[tuple[str, str]]] = {}
    for (checklist_id, version), digest in entries.items():
        by_id.setdefault(checklist_id, []).append((version, digest))
    if not by_id:
        lines[-1] = "checklists: {}\n"
    for checklist_id in sorted(by_id):
        lines.append(f"  {json.dumps(checklist_id)}:\n")
        for version, digest in sorted(by_id[checklist_id], key=lambda v: version_key(v[0])):
            lines.append(f"    {json.dumps(version)}: {json.dumps(digest)}\n")
    return "".join(lines)


def write_lock(path: Path, entries: Mapping[Key, str]) -> None:
    """Write the lock atomically."""
    from postloan_cli.outputs import atomic_write

    atomic_write(path, lock_text(entries))
