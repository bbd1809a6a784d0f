"""Writing files safely: atomically, and only inside the output folder.

Reports and answer files are written to a temporary file in the same
folder and renamed over the target, so a reader never sees half a file and
an interrupted run leaves either the old file or the new one. Names derived
from data (a loan id, an input path) are sanitised and checked to stay
inside the output folder whatever they contain.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import re
import shutil
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
#: Names :func:`safe_name` keeps as they are (ASCII letters, digits and ``-``, with single
#: ``.`` or ``_`` between them): most names, checked in one match.
_PLAIN = re.compile(r"[A-Za-z0-9-]+(?:[._][A-Za-z0-9-]+)*")


def safe_name(text: str, *, max_length: int = 100) -> str:
    """A file-name part made from ``text``: no separators, no dot-files, no device names."""
    if (
        len(text) <= max_length
        and _PLAIN.fullmatch(text)
        and text.lower().split(".")[0] not in _RESERVED
    ):
        return text
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


def safe_relative_text(path: str) -> str:
    """:func:`safe_relative` of a relative POSIX path given as text, as text.

    For the batch parent, which names thousands of reports: no path objects
    (``pathlib`` interns every part it parses, for the life of the process).
    """
    parts = [safe_name(p) for p in path.split("/") if p not in ("", ".", "..")]
    parts = [p for p in parts if p != "_" or len(parts) == 1]
    return "/".join(parts) if parts else "_"


def inside(base: Path, relative: PurePath) -> Path:
    """``base / relative``, refusing anything that would resolve outside ``base``.

    The sanitised parts cannot climb out; a symbolic link to a folder elsewhere
    could, so folders are resolved. The file itself may be a link: writing
    renames over it and never follows it.
    """
    clean = safe_relative(relative)
    parent = clean.parent
    key = (str(base), str(parent))
    folder = _CHECKED.get(key)
    if folder is None:
        folder = _checked_folder(base, parent, relative)
        if folder.is_dir():  # see _resolved: only folders that exist are remembered
            if len(_CHECKED) > 4096:
                _CHECKED.clear()
            _CHECKED[key] = folder
    return folder / clean.name


def inside_text(base: Path, relative: str) -> str:
    """:func:`inside` of a relative POSIX path given as text, as text.

    The same name and the same check, for the batch worker, which writes two
    reports per answer file: no path objects per report (parsing one costs as
    much as the check itself once the folder is known).
    """
    clean = safe_relative_text(relative)
    parent, _, name = clean.rpartition("/")
    key = (str(base), parent)
    folder = _CHECKED_TEXT.get(key)
    if folder is None:
        checked = _checked_folder(base, PurePath(parent), PurePath(relative))
        folder = str(checked)
        if checked.is_dir():  # see _resolved: only folders that exist are remembered
            if len(_CHECKED_TEXT) > 4096:
                _CHECKED_TEXT.clear()
            _CHECKED_TEXT[key] = folder
    return os.path.join(folder, name)


def _checked_folder(base: Path, parent: PurePath, relative: PurePath) -> Path:
    root = _resolved(str(base))
    folder = _resolved(str(root / parent)) if parent != PurePath() else root
    if folder != root and root not in folder.parents:
        raise InputError(
            [Problem("PL401", f"refusing to write outside the output folder: {relative}")]
        )
    return folder


def _resolved(folder: str) -> Path:
    # Resolving costs a system call per path part; a batch writes thousands of
    # reports into a few folders. Cached only for folders that exist (a folder
    # created later, perhaps as a link, is resolved again then).
    cached = _RESOLVED.get(folder)
    if cached is not None:
        return cached
    resolved = Path(folder).resolve()
    if resolved.is_dir():
        if len(_RESOLVED) > 4096:
            _RESOLVED.clear()
        _RESOLVED[folder] = resolved
    return resolved


_RESOLVED: dict[str, Path] = {}
#: The checked folder of (output folder, sanitised relative folder), as :func:`inside` found it.
_CHECKED: dict[tuple[str, str], Path] = {}
#: The same, as text, for :func:`inside_text`.
_CHECKED_TEXT: dict[tuple[str, str], str] = {}


_COUNTER = itertools.count()


def atomic_write(
    path: Path | str, data: str | bytes, *, durable: bool = False, scratch: str | None = None
) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename.

    ``durable`` also flushes to disk before the rename (used for answer files,
    where losing an officer's answers to a power cut matters; reports can be
    rendered again).

    ``scratch``: a folder of this process's own, on the same file system,
    where the temporary file is made instead of beside ``path`` (a batch
    worker's). Processes that create files in the same folder at the same
    time wait for each other in the kernel: two batch workers writing
    reports into one folder spent about twice the system time per report
    that they spent in folders of their own (measured on ext4). Made in a
    scratch folder and renamed, a report costs what it costs alone. Where the
    rename cannot cross (another file system below the output folder), the
    temporary file is made beside ``path`` after all.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if scratch is not None:
        try:
            _write_via(create_temporary(path, scratch), payload, path, durable)
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise InputError(
                    [Problem("PL401", f"cannot write: {exc.strerror or exc}", str(path))]
                ) from None
    try:
        created = create_temporary(path)
    except OSError as exc:
        raise InputError(
            [Problem("PL401", f"cannot write: {exc.strerror or exc}", str(path))]
        ) from None
    try:
        _write_via(created, payload, path, durable)
    except OSError as exc:
        raise InputError(
            [Problem("PL401", f"cannot write: {exc.strerror or exc}", str(path))]
        ) from None


def _write_via(created: tuple[int, str], payload: bytes, path: Path | str, durable: bool) -> None:
    """Write ``payload`` to the temporary file ``created`` (open), then rename it to ``path``.

    The temporary file is gone whatever happens (an error, Ctrl-C, a batch
    worker stopped); an ``OSError`` is raised again for the caller to name.
    """
    fd, tmp = created
    try:
        try:
            view = memoryview(payload)
            while view:  # os.write: no buffer object, no terminal check, per file
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.replace(tmp, path)
        except FileNotFoundError:
            if not os.path.exists(tmp):
                raise
            # made in a scratch folder: the report's own folder is not there yet
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def create_temporary(path: Path | str, scratch: str | None = None) -> tuple[int, str]:
    """A new hidden file beside ``path`` (or in ``scratch``), open: ``(descriptor, name)``.

    Named by process and a counter (cheaper than ``mkstemp``'s random names;
    ``O_EXCL`` still guarantees it is new). Mode 0666 less the umask, as any
    new file gets, so a team's shared report folder works as usual. The
    folder is created only when missing.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    folder, name = os.path.split(path)  # as text: no path objects per report
    if scratch is not None:
        folder = scratch
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{os.getpid()}-{next(_COUNTER)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # left by a killed process with our pid: next name
            continue
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
    raise FileExistsError(errno.EEXIST, "no free temporary name", folder)


_TEMPORARY = re.compile(r"\..+\.(\d+)-\d+\.tmp")
_SPOOL = re.compile(r"\.postloan-spool-(\d+)-.*")


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete what killed runs left in ``folder``: temporary files and spool folders.

    An interrupted run cleans up after itself; a killed one (SIGKILL, a
    power cut) cannot. Its hidden temporary files (``.<name>.<pid>-<n>.tmp``,
    see :func:`atomic_write`) and spool folders name the process that made
    them: those whose process no longer runs are deleted. Returns what was
    deleted. POSIX only (elsewhere nothing is deleted).
    """
    if os.name != "posix" or not folder.is_dir():
        return []
    removed: list[Path] = []
    for current, dirs, files in os.walk(folder):
        for name in list(dirs):
            match = _SPOOL.fullmatch(name)
            if match and not _running(int(match.group(1))):
                path = Path(current, name)
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
                dirs.remove(name)
        for name in files:
            match = _TEMPORARY.fullmatch(name)
            if match and not _running(int(match.group(1))):
                path = Path(current, name)
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or not ours to judge: keep
    return True
