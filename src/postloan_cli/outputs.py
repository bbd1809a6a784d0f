"""Writing files safely: atomically, and only inside the output folder.

Reports and answer files are written to a temporary file in the same
folder and renamed over the target, so a reader never sees half a file and
an interrupted run leaves either the old file or the new one. Names derived
from data (a loan id, an input path) are sanitised and checked to stay
inside the output folder whatever they contain.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tempfile
import unicodedata
from pathlib import Path, PurePath

from postloan_cli.errors import InputError, Problem

_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}
_UNSAFE = re.compile(r"[^\w.-]+", re.UNICODE)


def safe_name(text: str, *, max_length: int = 100) -> str:
    """A file-name part made from ``text``: no separators, no dot-files, no device names."""
    name = unicodedata.normalize("NFKC", text)
    name = _UNSAFE.sub("_", name).strip("._ ")
    name = re.sub(r"_+", "_", name)[:max_length].rstrip("._ ")
    if not name or name.lower().split(".")[0] in _RESERVED:
        name = f"_{name}" if name else "_"
    return name


def safe_relative(path: PurePath) -> PurePath:
    """``path`` with every part sanitised; ``..`` and roots are dropped."""
    parts = [safe_name(p) for p in path.parts if p not in ("", ".", "..", "/", "\\")]
    parts = [p for p in parts if p not in ("_",) or len(parts) == 1]
    return PurePath(*parts) if parts else PurePath("_")


def inside(base: Path, relative: PurePath) -> Path:
    """``base / relative``, refusing anything that would resolve outside ``base``."""
    root = base.resolve()
    target = (root / safe_relative(relative)).resolve()
    if target != root and root not in target.parents:
        raise InputError(
            [Problem("PL401", f"refusing to write outside the output folder: {relative}")]
        )
    return target


@functools.cache
def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def atomic_write(path: Path, data: str | bytes, *, durable: bool = False) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename.

    ``durable`` also flushes to disk before the rename (used for answer files,
    where losing an officer's answers to a power cut matters; reports can be
    rendered again).
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InputError(
            [Problem("PL401", f"cannot write: {exc.strerror or exc}", str(path))]
        ) from None
    try:
        # mkstemp creates 0600; the file gets the mode any new file would
        # (0666 less the umask), so a team's shared report folder works as usual.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise InputError(
            [Problem("PL401", f"cannot write: {exc.strerror or exc}", str(path))]
        ) from None
