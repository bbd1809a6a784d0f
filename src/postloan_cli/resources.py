"""Where shipped checklists, templates and schemas are, and how a user overrides them.

An installed wheel carries them inside the package (``postloan_cli/_data``);
a source checkout reads the top-level folders. A user's own folders
(``--checklists``, ``--templates``) are searched first.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def shipped(kind: str) -> Path:
    """The shipped folder ``kind`` (``checklists``, ``templates`` or ``schemas``)."""
    packaged = Path(str(resources.files("postloan_cli").joinpath("_data", kind)))
    if packaged.is_dir():
        return packaged
    return _SOURCE_ROOT / kind


def search_path(kind: str, user_dirs: Iterable[Path] = ()) -> list[Path]:
    """User folders first, then the shipped one."""
    return [*user_dirs, shipped(kind)]


_VERSION_KEY = re.compile(r"^(\d+)\.(\d+)\.(\d+)")


def version_key(version: str) -> tuple[int, int, int, str]:
    """Sort key for semantic versions (pre-releases sort by their text)."""
    match = _VERSION_KEY.match(version)
    if not match:
        return (0, 0, 0, version)
    major, minor, patch = (int(g) for g in match.groups())
    return (major, minor, patch, version[match.end() :])


def checklist_file(checklist_id: str, version: str, dirs: Sequence[Path]) -> Path | None:
    """The file of ``checklist_id`` at ``version``: ``<dir>/<id>/<version>.yaml``."""
    for candidate in checklist_candidates(checklist_id, version, dirs):
        if candidate.is_file():
            return candidate
    return None


def checklist_candidates(checklist_id: str, version: str, dirs: Sequence[Path]) -> list[Path]:
    """Where :func:`checklist_file` looks, in order (none for an unsafe id or version)."""
    if not _safe_part(checklist_id) or not _safe_part(version):
        return []
    name = f"{version}.yaml"
    return [folder / checklist_id / name for folder in dirs]


def checklist_versions(checklist_id: str, dirs: Sequence[Path]) -> list[str]:
    """Every version of ``checklist_id`` found in ``dirs``, oldest first."""
    found: set[str] = set()
    if _safe_part(checklist_id):
        for folder in dirs:
            sub = folder / checklist_id
            if sub.is_dir():
                found.update(p.stem for p in sub.glob("*.yaml"))
    return sorted(found, key=version_key)


def checklist_ids(dirs: Sequence[Path]) -> list[str]:
    """Every checklist id found in ``dirs``."""
    ids: set[str] = set()
    for folder in dirs:
        if folder.is_dir():
            ids.update(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.yaml")))
    return sorted(ids)


def _safe_part(text: str) -> bool:
    """A checklist id or version used as a path part: no separators, no ``..``."""
    return bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", text)) and ".." not in text
