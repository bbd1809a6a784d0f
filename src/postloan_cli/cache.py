"""A persistent compile cache: compiled templates and checklist expressions.

Compiling the two opinion templates and a checklist's hundred expressions
costs more than everything else a one-file ``postloan inspect`` does. Their
compiled code is kept in the user's cache folder:

* ``$POSTLOAN_CACHE_DIR`` (``off`` disables the cache), else
  ``$XDG_CACHE_HOME/postloan``, else ``~/.cache/postloan``;
* read at every call (not at import), so tests and callers can redirect it;
* silently disabled when the folder cannot be created or written;
* every file is written to a temporary name and renamed, and every entry is
  keyed by a hash of its source, the Jinja2 version and the Python version;
  a file that cannot be read back (damaged, truncated, foreign) is ignored
  and rewritten, never an error.

Templates use Jinja2's bytecode cache interface (the source checksum inside
each entry makes an edited template compile again). Expressions are stored
marshal'd with the names they read, one file per Python and Jinja2 version:
as the blueprint of their closures (nested tuples of names and constants,
see :mod:`postloan_cli.expressions`), or as Jinja2 code for the few the
closures do not cover, turned back into templates with ``Template.from_code``.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2.bccache import Bucket, BytecodeCache

ENV_VAR = "POSTLOAN_CACHE_DIR"
#: Bumped when the layout of a cache file changes (2: closure blueprints besides code).
LAYOUT = 3  # 3: expressions bounded, filters limited


def cache_dir() -> Path | None:
    """The cache folder, created if needed; ``None`` when disabled or not safe to use.

    What the cache holds is loaded as code (compiled expressions and
    templates, pickled checklists), so a folder that someone else owns or
    may write to is not used (the cache is then off, which is only slower).
    """
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured.lower() == "off":
        return None
    if configured:
        base = Path(configured)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "postloan"
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = base.stat()
    except OSError:
        return None
    if not os.access(base, os.W_OK | os.X_OK):
        return None
    getuid = getattr(os, "getuid", None)  # not on Windows
    if getuid is not None and (status.st_uid != getuid() or status.st_mode & 0o022):
        return None
    return base


def _tag() -> str:
    """What compiled code depends on besides its source: Python and Jinja2 versions."""
    import jinja2

    return f"{LAYOUT}-{sys.implementation.cache_tag}-jinja{jinja2.__version__}"


def write_atomic(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` through a temporary file and a rename; False on failure."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False


# --- templates ---------------------------------------------------------------------------


def template_bytecode_cache(flavour: str) -> BytecodeCache:
    """A Jinja2 bytecode cache in :func:`cache_dir` (resolved at every load and dump).

    ``flavour`` names what else the generated code depends on (the
    environment's class and options), so different environments never share
    an entry.
    """
    from jinja2.bccache import BytecodeCache

    class _Cache(BytecodeCache):
        def get_cache_key(self, name: str, filename: str | None = None) -> str:
            key = f"{_tag()}|{flavour}|{name}|{filename or ''}"
            return hashlib.sha256(key.encode("utf-8")).hexdigest()

        def _file(self, bucket: Bucket) -> Path | None:
            folder = cache_dir()
            if folder is None:
                return None
            return folder / "templates" / f"{bucket.key}.jbc"

        def load_bytecode(self, bucket: Bucket) -> None:
            path = self._file(bucket)
            if path is None:
                return
            try:
                with path.open("rb") as handle:
                    bucket.load_bytecode(handle)
            except FileNotFoundError:
                return
            except Exception:  # damaged or foreign: compile again, rewrite it
                bucket.reset()
                return
            code: object = bucket.code
            if code is not None and not isinstance(code, type(_tag.__code__)):
                bucket.reset()

        def dump_bytecode(self, bucket: Bucket) -> None:
            path = self._file(bucket)
            if path is None or bucket.code is None:
                return
            try:
                path.parent.mkdir(exist_ok=True)
            except OSError:
                return
            from io import BytesIO

            buffer = BytesIO()
            try:
                bucket.write_bytecode(buffer)
            except Exception:
                return
            write_atomic(path, buffer.getvalue())

    return _Cache()


# --- expressions -------------------------------------------------------------------------

#: One compiled expression as stored: (names read, attributes read per name, payload),
#: the payload being a closure blueprint (a tuple) or Jinja2 code.
Entry = tuple[frozenset[str], dict[str, frozenset[str]], Any]


class ExpressionStore:
    """Compiled expressions by source, loaded from and saved to one cache file.

    The file is read once per folder and process; new entries are written
    back by :meth:`save` (the caller saves after compiling a checklist).
    """

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._entries: dict[str, Entry] = {}
        self._dirty = False
        #: The settings :attr:`_path` was found with, and the file they name.
        self._settings: tuple[str, ...] | None = None
        self._path: Path | None = None

    def _file(self) -> Path | None:
        folder = cache_dir()
        if folder is None:
            return None
        return folder / f"expressions-{hashlib.sha256(_tag().encode()).hexdigest()[:16]}.bin"

    def _sync(self, recheck: bool = False) -> Path | None:
        """Load the cache file when the folder changed (or on first use).

        The folder is looked for again (created, checked for writing) when the
        settings that name it change, or on ``recheck``: not for each of the
        hundred expressions of a checklist, which would cost as many system calls.
        """
        settings = _settings()
        if recheck or settings != self._settings:
            self._settings = settings
            self._path = self._file()
        path = self._path
        folder = path.parent if path is not None else None
        if folder != self._folder:
            self._folder = folder
            self._entries = _read_entries(path) if path is not None else {}
            self._dirty = False
        return path

    def get(self, source: str) -> Entry | None:
        if self._sync() is None:
            return None
        return self._entries.get(_key(source))

    def put(self, source: str, entry: Entry) -> None:
        if self._sync() is None:
            return
        self._entries[_key(source)] = entry
        self._dirty = True

    def save(self) -> None:
        path = self._sync(recheck=True)
        if path is None or not self._dirty:
            return
        # Merge with what another process may have written meanwhile.
        merged = {**_read_entries(path), **self._entries}
        payload = {
            key: (sorted(names), {k: sorted(v) for k, v in attrs.items()}, code)
            for key, (names, attrs, code) in merged.items()
        }
        try:
            data = marshal.dumps((LAYOUT, payload))
        except ValueError:
            return
        if write_atomic(path, data):
            self._entries = merged
            self._dirty = False


def _settings() -> tuple[str, ...]:
    """What :func:`cache_dir` depends on (read at every call, as it is)."""
    return tuple(os.environ.get(name, "") for name in (ENV_VAR, "XDG_CACHE_HOME", "HOME"))


def _key(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _read_entries(path: Path) -> dict[str, Entry]:
    """The entries of an expression cache file; empty when missing or unusable."""
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    try:
        # Our own file in the user's own cache folder (cache_dir() refuses one
        # that others own or may write to): as trusted as __pycache__.
        layout, payload = marshal.loads(data)  # noqa: S302  # safe: private cache folder
        if layout != LAYOUT or not isinstance(payload, dict):
            return {}
        code_type = type(_key.__code__)
        entries: dict[str, Entry] = {}
        for key, (names, attrs, code) in payload.items():
            if not isinstance(key, str) or not isinstance(code, code_type | tuple):
                return {}
            entries[key] = (
                frozenset(str(n) for n in names),
                {str(k): frozenset(str(a) for a in v) for k, v in attrs.items()},
                code,
            )
        return entries
    except Exception:  # damaged, truncated or foreign: ignore it (it will be rewritten)
        return {}


EXPRESSIONS = ExpressionStore()
