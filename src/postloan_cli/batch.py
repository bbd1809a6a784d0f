"""Many answer files to their opinions and one portfolio summary: in parallel, incrementally.

:func:`run_batch` walks an input folder (recursively), sends the answer
files' *paths* to worker processes in chunks, and gets back one small
summary row per file (never an evaluation). Each worker loads and compiles
a checklist version once and keeps one template environment; it evaluates,
renders and writes the reports itself, atomically, into a tree that mirrors
the input tree. The parent keeps the rows, manifest entries and report
names in a scratch SQLite database (:class:`_Store`), and in memory only
counts and the failures, so its memory stays flat as the folder grows. The
worker also makes every text the parent stores (the manifest entry, the row
as JSON and as a CSV line, the escalation entries), so the parent only files
them. At the end two workers write ``index.html`` and ``summary.md`` while
the parent writes ``summary.json`` and ``summary.csv`` from the stored texts.

Incremental runs: the output folder holds a manifest (:data:`MANIFEST`)
with, per input file, the hash of its content, the path and hash of the
checklist version it pins, the reports written and its summary row, under
global settings (tool version, formats, language, checklist folders and a
hash of every report template). A file whose fingerprint is unchanged and
whose reports still exist is neither evaluated nor rendered again; its
stored row goes into the summary. ``force`` renders everything.

Consistency when a run is interrupted: every report and the manifest are
written to a temporary file and renamed; the summary files are written only
at the end, after every report they link; reports that are no longer wanted
(an input that disappeared, became a draft or now fails) are deleted only
after the new summary no longer links them. An interrupted run therefore
leaves the previous summary, whose reports all exist (some possibly newer),
and a manifest checkpoint so that the next run skips what was already done.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path, PurePath
from typing import Any, Literal, NamedTuple

from postloan_cli import __version__
from postloan_cli.errors import InputError, Problem
from postloan_cli.outputs import (
    create_temporary,
    inside,
    remove_stale_temporaries,
    safe_relative_text,
)
from postloan_cli.pipeline import FORMATS, RenderOptions, evaluate_loaded, write_reports
from postloan_cli.summary import csv_line

#: The manifest kept in the output folder.
MANIFEST = ".postloan-batch.json"
MANIFEST_FORMAT = "postloan-batch-manifest"
MANIFEST_VERSION = 1
#: Names at the top of the output folder that belong to the summary.
SUMMARY_STEMS = frozenset({"index", "summary"})
#: Answer-file extensions picked up by the walk.
EXTENSIONS = (".yaml", ".yml")
#: How often (seconds) the manifest is checkpointed during a long run.
CHECKPOINT_SECONDS = 10.0

Status = Literal["rendered", "unchanged", "draft", "failed"]
SEVERITIES = ("critical", "major", "watch", "info")
CLASSIFICATIONS = ("normal", "special_mention", "substandard", "doubtful", "loss")


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs: rendering options, parallelism and incrementality."""

    render: RenderOptions = field(default_factory=RenderOptions)
    #: Worker processes; ``None``: one per core; 1 runs in this process.
    jobs: int | None = None
    #: Render every file, ignoring the manifest.
    force: bool = False
    #: Paths per chunk sent to a worker; ``None``: chosen from the file count.
    chunk_size: int | None = None


@dataclass
class FileResult:
    """What happened to one answer file, as reported while the batch runs.

    A worker makes it and the parent files it: besides the figures the
    progress line and the totals need, it carries only texts (the parent
    stores them as they are), so it pickles quickly and the parent never
    decodes or encodes JSON per file.
    """

    input: str
    #: ``unchanged``: its reports are up to date (it may be a draft; see :attr:`row_status`).
    status: Status
    #: Errors of a failed file; warnings of a rendered one.
    problems: list[Problem] = field(default_factory=list)
    #: The row's own status: ``ok`` (a final inspection), ``draft`` or ``failed``.
    row_status: str = "failed"
    #: The loan id (``None`` when the file does not say).
    loan: str | None = None
    #: Of a final inspection: the suggested, proposed and worse of the two classifications.
    suggested: str | None = None
    proposed: str | None = None
    classification: str | None = None
    #: Of a final inspection: signals fired per severity.
    signals: dict[str, int] | None = None
    #: Of a final inspection: its reports, relative to the output folder.
    reports: tuple[str, ...] = ()
    #: The manifest entry (JSON).
    entry: str = ""
    #: The summary row (JSON), and the same row as a line of ``summary.csv``.
    row_json: str = "{}"
    csv_line: str = ""
    #: The summary's escalation entries of this row: ``(due, severity rank, JSON)``.
    escalation_records: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def row(self) -> dict[str, Any]:
        """The file's summary row (loan, classifications, signal counts...), decoded."""
        data: dict[str, Any] = json.loads(self.row_json)
        return data


@dataclass
class BatchResult:
    """The outcome of a batch: how many files were rendered, reused, left unfinished or failed.

    Counts, not lists of inputs: a batch of many thousand files keeps only
    what is listed at the end (failures and warnings) in memory; every file's
    outcome is passed to ``on_result`` as it completes.
    """

    output: Path
    #: Final inspections rendered by this run.
    rendered: int = 0
    #: Final inspections whose reports were up to date (not rendered again).
    unchanged: int = 0
    #: Unfinished drafts (listed in the summary, never rendered).
    drafts: int = 0
    #: Failed files with their problems, in the order they completed.
    failures: list[tuple[str, list[Problem]]] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    #: Number of signals fired per severity, over every final inspection.
    signals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))
    #: The summary files written (index.html, summary.md, summary.json, summary.csv).
    summary: list[Path] = field(default_factory=list)
    #: Reports deleted because their input is gone, a draft or failing.
    pruned: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.rendered + self.unchanged + self.drafts + len(self.failures)

    @property
    def failed(self) -> bool:
        return bool(self.failures)

    def fired_at_or_above(self, severity: str) -> bool:
        """Whether any signal of ``severity`` or worse fired in a final inspection."""
        worse = SEVERITIES[: SEVERITIES.index(severity) + 1]
        return any(self.signals[s] for s in worse)


# --- discovery and output names -------------------------------------------------------


def discover(input_dir: Path, exclude: Sequence[Path] = ()) -> Iterator[str]:
    """Answer files under ``input_dir``: relative POSIX paths, sorted per folder.

    Hidden files and folders (``.git``, editor backups) and the ``exclude``
    folders (the output folder, when it is inside the input) are skipped;
    symbolic links to folders are not followed. Plain strings, not path
    objects: ``pathlib`` interns every part of every path it parses, which
    would make the parent grow with the folder.
    """
    excluded = {os.path.realpath(p) for p in exclude}
    root = str(input_dir)
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and os.path.realpath(os.path.join(folder, d)) not in excluded
        )
        rel_folder = os.path.relpath(folder, root).replace(os.sep, "/")
        prefix = "" if rel_folder == "." else rel_folder + "/"
        for name in sorted(files):
            if name.startswith(".") or not name.lower().endswith(EXTENSIONS):
                continue
            yield prefix + name


def report_paths(stem: str, formats: Sequence[str]) -> dict[str, str]:
    """The report of each format, relative to the output folder (POSIX)."""
    return {fmt: f"{stem}.{fmt}" for fmt in formats}


# --- fingerprints ------------------------------------------------------------------------


def _sha256_file(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def templates_hash(template_dirs: Sequence[Path]) -> str:
    """A hash of every report template (user folders first, then the shipped ones).

    The summary's own templates (``summary.*``) are left out: the summary is
    rewritten on every run anyway.
    """
    from postloan_cli import resources

    digest = hashlib.sha256()
    for index, folder in enumerate(resources.search_path("templates", template_dirs)):
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.name.startswith("summary."):
                continue
            digest.update(f"{index}:{path.relative_to(folder).as_posix()}\0".encode())
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def settings_hash(options: RenderOptions, formats: Sequence[str]) -> str:
    """Everything that changes every report at once: tool, templates, language, folders."""
    settings = {
        "manifest": MANIFEST_VERSION,
        "tool": __version__,
        "formats": list(formats),
        "lang": options.lang,
        "templates": templates_hash(options.template_dirs),
        "checklists": [os.path.realpath(p) for p in options.checklist_dirs],
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Previous:
    """The fingerprint of one input in the previous run's manifest."""

    input_sha256: str
    checklist_id: str
    checklist_version: str
    checklist_path: str
    checklist_sha256: str
    outputs: tuple[tuple[str, str], ...]
    draft: bool


class _Task(NamedTuple):
    """One answer file to process (a tuple: it pickles several times faster than a dataclass)."""

    input: str  # relative POSIX path: the summary's and the manifest's key
    path: str  # where to read it
    display: str  # how problems name it
    stem: str
    #: The previous run's manifest entry (JSON) of this input: its reports may be stale.
    previous: str | None
    #: Whether ``previous`` may be reused when nothing changed (same settings, no ``force``).
    reusable: bool


# --- the manifest and the parent's bookkeeping -------------------------------------------


# Pages of 16 KiB: a row (manifest entry, summary row, CSV line) is several KiB,
# and inserting it costs a third less than with the default 4 KiB pages.
_SCHEMA = """
PRAGMA page_size = 16384;
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA temp_store = FILE;
PRAGMA cache_size = -1024;
CREATE TABLE old (input TEXT PRIMARY KEY, entry TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE cur (
    input TEXT PRIMARY KEY, status TEXT NOT NULL, entry TEXT NOT NULL, row TEXT NOT NULL,
    csv TEXT NOT NULL,
    rank INTEGER, critical INTEGER, major INTEGER, watch INTEGER, info INTEGER, loan TEXT
);
CREATE TABLE escalation (due TEXT, severity INTEGER, loan TEXT, input TEXT, n INTEGER, data TEXT);
CREATE TABLE name (stem TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE kept (path TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE unwanted (path TEXT PRIMARY KEY) WITHOUT ROWID;
"""

#: Final inspections, worst first (the order of the summary).
_WORST_FIRST = (
    "SELECT row FROM cur WHERE status = 'ok' "
    "ORDER BY rank DESC, critical DESC, major DESC, watch DESC, info DESC, loan, input"
)
_EARLIEST_DUE = "SELECT data FROM escalation ORDER BY due, severity, loan, input, n"
_COUNT_ESCALATIONS = "SELECT COUNT(*) FROM escalation"
_BY_STATUS = "SELECT {} FROM cur WHERE status = ? ORDER BY input"
_WORST_FIRST_CSV = _WORST_FIRST.replace("SELECT row", "SELECT csv", 1)


class _Store:
    """One run's bookkeeping in a scratch SQLite database (in the hidden spool folder).

    A batch of ten thousand files must not hold ten thousand manifest entries,
    summary rows, report names and output paths in the parent process, so they
    go to disk as they arrive; SQLite (standard library) also sorts the rows
    for the summary without loading them, and lets a worker process read them
    to write ``index.html`` while the parent writes the other summary files.
    Memory stays flat as the folder grows.

    Tables: ``old`` (the previous manifest), ``cur`` (this run's entries and
    rows), ``escalation``, ``name`` (report stems taken), ``kept`` (reports
    this run links) and ``unwanted`` (reports that may have to go).
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        #: Whether the previous manifest named any report (else none can become unwanted).
        self._any_unwanted = False
        #: Whether the previous manifest had any entry (else no input has one to look up).
        self.any_old = False
        if read_only:
            self._db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        else:
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.executescript(_SCHEMA)
            self._db.executemany("INSERT INTO name VALUES (?)", [(s,) for s in SUMMARY_STEMS])
            self._db.execute("BEGIN")

    def close(self) -> None:
        """Commit and close (the file goes with the spool folder)."""
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self._db.close()

    def commit(self) -> None:
        """Make everything written so far visible to other processes."""
        self._db.execute("COMMIT")
        self._db.execute("BEGIN")

    # --- the previous manifest

    def add_old(self, key: str, entry: str, outputs: Iterable[str]) -> None:
        """Remember an entry of the previous manifest; its ``outputs`` may become unwanted."""
        self.any_old = True
        self._db.execute("INSERT OR REPLACE INTO old VALUES (?, ?)", (key, entry))
        unwanted = [(o,) for o in outputs]
        if unwanted:
            self._any_unwanted = True
            self._db.executemany("INSERT OR IGNORE INTO unwanted VALUES (?)", unwanted)

    def forget_old(self) -> None:
        """Drop the previous manifest (damaged or foreign)."""
        self.any_old = self._any_unwanted = False
        self._db.execute("DELETE FROM old")
        self._db.execute("DELETE FROM unwanted")

    def old_entry(self, key: str) -> str | None:
        if not self.any_old:
            return None
        found = self._db.execute("SELECT entry FROM old WHERE input = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    # --- this run

    def take_name(self, stem: str) -> bool:
        """Claim a report stem (case-insensitively); ``False`` if it is taken."""
        try:
            self._db.execute("INSERT INTO name VALUES (?)", (stem.lower(),))
        except sqlite3.IntegrityError:
            return False
        return True

    def add(self, res: FileResult) -> None:
        """Record one input's manifest entry, its summary row and its escalations."""
        status = res.row_status
        counts = res.signals or {}
        cls = res.classification
        rank = CLASSIFICATIONS.index(cls) if cls else -1
        key = res.input
        loan = res.loan or ""
        escalations = res.escalation_records
        self._db.execute(
            "INSERT OR REPLACE INTO cur VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                status,
                res.entry,
                res.row_json,
                res.csv_line,
                rank,
                counts.get("critical", 0),
                counts.get("major", 0),
                counts.get("watch", 0),
                counts.get("info", 0),
                loan,
            ),
        )
        # Only a report of the previous run can be unwanted: on a first run
        # there is nothing to keep.
        if self._any_unwanted and status == "ok" and res.reports:
            self._db.executemany(
                "INSERT OR IGNORE INTO kept VALUES (?)", [(o,) for o in res.reports]
            )
        if escalations:
            self._db.executemany(
                "INSERT INTO escalation VALUES (?, ?, ?, ?, ?, ?)",
                [(due, sev, loan, key, n, data) for n, (due, sev, data) in enumerate(escalations)],
            )

    def checkpoint_entries(self) -> Iterator[str]:
        """This run's entries, then the previous run's for inputs not reached yet."""
        return self._texts(
            "SELECT entry FROM cur UNION ALL SELECT entry FROM old "
            "WHERE NOT EXISTS (SELECT 1 FROM cur WHERE cur.input = old.input)"
        )

    def final_entries(self) -> Iterator[str]:
        """This run's entries, by input (what the next run compares against)."""
        for (entry,) in self._db.execute("SELECT entry FROM cur ORDER BY input"):
            yield entry

    def unwanted(self) -> list[str]:
        """Reports of earlier runs (or stale ones) that nothing links any more."""
        return [
            path
            for (path,) in self._db.execute(
                "SELECT path FROM unwanted WHERE path NOT IN (SELECT path FROM kept) ORDER BY path"
            )
        ]

    def prepare_summary(self) -> None:
        """Index the rows in summary order once; the summary files then read them several times."""
        self._db.execute(
            "CREATE INDEX worst_first ON cur "
            "(status, rank DESC, critical DESC, major DESC, watch DESC, info DESC, loan, input)"
        )
        self._db.execute("CREATE INDEX earliest_due ON escalation (due, severity, loan, input, n)")
        self._db.execute("COMMIT")
        self._db.execute("BEGIN")

    # --- the summary's rows, as stored (:class:`postloan_cli.summary.SummarySource`)

    def inspections(self) -> Iterator[str]:
        return self._texts(_WORST_FIRST)

    def escalations(self) -> Iterator[str]:
        return self._texts(_EARLIEST_DUE)

    def count_escalations(self) -> int:
        return int(self._db.execute(_COUNT_ESCALATIONS).fetchone()[0])

    def drafts(self) -> Iterator[str]:
        return self._texts(_BY_STATUS.format("row"), ("draft",))

    def failures(self) -> Iterator[str]:
        return self._texts(_BY_STATUS.format("row"), ("failed",))

    def csv_lines(self) -> Iterator[str]:
        yield from self._texts(_WORST_FIRST_CSV)
        yield from self._texts(_BY_STATUS.format("csv"), ("draft",))
        yield from self._texts(_BY_STATUS.format("csv"), ("failed",))

    def _texts(self, query: str, parameters: tuple[str, ...] = ()) -> Iterator[str]:
        for (text,) in self._db.execute(query, parameters):
            yield text


def read_manifest(output: Path, store: _Store) -> str:
    """Load the previous run's manifest into ``store``; return its settings hash.

    Missing, foreign or damaged manifests count as empty (everything is
    rendered again). It is read line by line (one entry per line).
    """
    path = output / MANIFEST
    try:
        handle = path.open(encoding="utf-8")
    except OSError:
        return ""
    with handle:
        header = handle.readline().strip()
        if not header.endswith('"entries": ['):
            return ""
        try:
            head = json.loads(header[: -len(', "entries": [')] + "}")
        except ValueError:
            return ""
        if head.get("format") != MANIFEST_FORMAT or head.get("version") != MANIFEST_VERSION:
            return ""
        for line in handle:
            text = line.strip().removesuffix(",")
            if not text.startswith("{"):
                continue
            try:
                data = json.loads(text)
                key = data["input"]
                outputs = [*(data.get("outputs") or {}).values(), *(data.get("stale") or ())]
            except (ValueError, KeyError, TypeError, AttributeError):
                store.forget_old()
                return ""
            store.add_old(str(key), text, outputs)
    return str(head.get("settings", ""))


def write_manifest(output: Path, settings: str, entries: Iterable[str]) -> None:
    """Write the manifest atomically, streamed: a header line, then one entry per line."""
    head = json.dumps(
        {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "tool": __version__,
            "settings": settings,
        }
    )
    target = output / MANIFEST
    fd, tmp = create_temporary(target)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(head[:-1] + ', "entries": [\n')
            first = True
            for entry in entries:
                if not first:
                    handle.write(",\n")
                handle.write(entry)
                first = False
            handle.write("\n]}\n")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _previous_of(data: dict[str, Any]) -> _Previous | None:
    """The fingerprint of a previous manifest entry; ``None`` when it cannot be reused."""
    if data.get("status") not in ("ok", "draft") or not isinstance(data.get("row"), dict):
        return None
    try:
        return _Previous(
            data["input_sha256"],
            data["checklist"]["id"],
            data["checklist"]["version"],
            data["checklist"]["path"],
            data["checklist"]["sha256"],
            tuple(sorted(data["outputs"].items())),
            data["status"] == "draft",
        )
    except (KeyError, TypeError, AttributeError):
        return None


def _outputs_of(data: dict[str, Any]) -> list[str]:
    """The reports a previous manifest entry names (its own and those it marked stale)."""
    outputs = data.get("outputs") or {}
    stale = data.get("stale") or []
    return [*outputs.values(), *stale]


# --- the worker --------------------------------------------------------------------------


@dataclass(frozen=True)
class _WorkerState:
    output: Path
    options: RenderOptions
    formats: tuple[str, ...]
    force: bool
    #: The run's spool folder (inside the output folder): each worker makes its
    #: reports' temporary files in a folder of its own there (see atomic_write).
    spool: Path


_STATE: _WorkerState | None = None


def _init_worker(state: _WorkerState, *, in_process: bool = False) -> None:
    """Set the per-process state; in a pool, leave Ctrl-C to the parent."""
    global _STATE
    _STATE = state
    _checklist_fingerprint.cache_clear()
    if in_process:
        # Templates may have changed since an earlier batch in this process.
        from postloan_cli import rendering

        clear = getattr(rendering, "clear_caches", None)
        if clear is not None:
            clear()
    else:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # A report makes ~100,000 short-lived objects, nearly all freed by
        # reference counting; collecting every 700 allocations (the default)
        # mostly traverses the live ones again. Less often saves ~5-10 % of a
        # worker's time (measured); memory stays bounded by the threshold.
        gc.set_threshold(20_000, 20, 20)
        _retain_freed_heap()


#: glibc's ``mallopt`` parameters (``<malloc.h>``).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def _retain_freed_heap() -> None:
    """Let this worker keep the heap memory it frees instead of handing it back at once.

    A report is built from a few large strings (the texts, their UTF-8
    bytes) that glibc's malloc returns to the system as soon as they are
    freed (the heap's top is trimmed past 128 KiB), so every file faulted
    the same pages in again: 10-40 page faults per file, each several
    microseconds of kernel time on a virtual machine. A worker's heap holds
    one file's working set at a time, so keeping it costs nothing more
    than the peak the worker reached anyway. Setting the trim threshold
    freezes glibc's adaptive mmap threshold, so that is set too (to a size
    above any report). Only on glibc; elsewhere nothing changes.
    """
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
        mallopt(_M_TRIM_THRESHOLD, 64 << 20)
        mallopt(_M_MMAP_THRESHOLD, 16 << 20)
    except (AttributeError, OSError, ValueError):  # not glibc, or no ctypes here
        return


def _scratch(state: _WorkerState) -> str:
    """This process's folder for temporary files, in the run's spool folder."""
    return os.path.join(state.spool, f"w{os.getpid()}")


@functools.lru_cache(maxsize=64)
def _checklist_fingerprint(checklist_id: str, version: str) -> tuple[str, str] | None:
    """The file of a checklist version and its hash (once per process and run)."""
    from postloan_cli import resources

    assert _STATE is not None
    dirs = resources.search_path("checklists", _STATE.options.checklist_dirs)
    path = resources.checklist_file(checklist_id, version, dirs)
    if path is None:
        return None
    digest = _sha256_file(path)
    return (str(path.resolve()), digest) if digest else None


def _unchanged(prev: _Previous | None, digest: str, outputs: dict[str, str]) -> bool:
    assert _STATE is not None
    if _STATE.force or prev is None or prev.input_sha256 != digest:
        return False
    if prev.draft:
        outputs = {}
    if prev.outputs != tuple(sorted(outputs.items())):
        return False
    current = _checklist_fingerprint(prev.checklist_id, prev.checklist_version)
    if current != (prev.checklist_path, prev.checklist_sha256):
        return False
    return all((_STATE.output / rel).is_file() for rel in outputs.values())


def _previous_entry(task: _Task) -> dict[str, Any] | None:
    """The previous run's manifest entry of ``task``, decoded."""
    if task.previous is not None:
        with contextlib.suppress(ValueError):  # checked when the manifest was read
            data = json.loads(task.previous)
            if isinstance(data, dict):
                return data
    return None


def _work(task: _Task) -> FileResult:
    """Process one answer file; never raises (one bad file never stops the batch)."""
    previous = _previous_entry(task)
    try:
        result = _process(task, previous)
    except InputError as exc:
        problems = exc.problems or [Problem("PL100", "cannot be processed", task.display)]
        problems = [p if p.file else p.at(task.display, p.line, p.column) for p in problems]
        result = _failed(task, problems)
    except RecursionError:
        result = _failed(task, [Problem("PL107", "document is nested too deeply", task.display)])
    except Exception as exc:  # a bug: keep going, say which file and what kind of error
        result = _failed(
            task,
            [
                Problem(
                    "internal",
                    f"internal error ({type(exc).__name__}); this is a bug, please report it",
                    task.display,
                )
            ],
        )
    return _with_stale(result, previous)


def _with_stale(result: FileResult, previous: dict[str, Any] | None) -> FileResult:
    """``result``, its entry naming the previous run's reports it no longer has."""
    if previous is not None and result.status != "unchanged":
        keep = set(result.reports) if result.status == "rendered" else set()
        stale = [o for o in _outputs_of(previous) if o not in keep]
        if stale:  # remembered, so that an interrupted run still deletes them later
            result.entry = f'{result.entry[:-1]},"stale":{_dumps(stale)}}}'
    return result


def _failed(task: _Task, problems: list[Problem]) -> FileResult:
    problems = sorted(problems, key=lambda p: p.level != "error")  # errors first
    row: dict[str, Any] = {
        "input": task.input,
        "status": "failed",
        "problems": [_problem_dict(p) for p in problems],
    }
    head = {"input": task.input, "status": "failed", "outputs": {}}
    return _result(task.input, "failed", row, head, problems)


def _process(task: _Task, previous: dict[str, Any] | None) -> FileResult:
    from postloan_cli.loading import UnfinishedDraft, load_answers
    from postloan_cli.yamlio import read_bytes

    state = _STATE
    assert state is not None
    path = Path(task.path)
    outputs = report_paths(task.stem, state.formats)
    raw = read_bytes(path, display=task.display)  # read once: hashed, then parsed
    digest = hashlib.sha256(raw).hexdigest()
    if (
        previous is not None
        and task.reusable
        and _unchanged(_previous_of(previous), digest, outputs)
    ):
        assert task.previous is not None
        return _result(task.input, "unchanged", previous["row"], task.previous, [])

    options = state.options
    try:
        loaded = load_answers(path, options.checklist_dirs, display=task.display, raw=raw)
    except UnfinishedDraft as draft:
        row = _early_draft_row(task.input, draft.document.data)
        head: dict[str, Any] = {
            "input": task.input,
            "status": "draft",
            "input_sha256": digest,
            "checklist": None,
            "outputs": {},
        }
        return _result(task.input, "draft", row, head, [])
    answers = loaded.answers
    fingerprint = _checklist_fingerprint(answers.checklist.id, answers.checklist.version)
    checklist = {
        "id": answers.checklist.id,
        "version": answers.checklist.version,
        "path": fingerprint[0] if fingerprint else None,
        "sha256": fingerprint[1] if fingerprint else None,
    }
    lang = options.lang or loaded.checklist.checklist.default_language
    if answers.status == "draft":
        row = _base_row(task.input, "draft", loaded.answers, checklist)
        head = {
            "input": task.input,
            "status": "draft",
            "input_sha256": digest,
            "checklist": checklist,
            "outputs": {},
        }
        return _result(task.input, "draft", row, head, [])

    evaluation = evaluate_loaded(loaded)
    warnings = [loaded.document.place(p) for p in evaluation.warnings]
    write_reports(
        evaluation,
        state.output,
        task.stem,
        formats=state.formats,
        lang=options.lang,
        template_dirs=options.template_dirs,
        scratch=_scratch(state),
    )

    row = _base_row(task.input, "ok", answers, checklist)
    row.update(_evaluation_row(evaluation, lang))
    row["reports"] = outputs
    row["warnings"] = [_problem_dict(p) for p in warnings]
    head = {
        "input": task.input,
        "status": "ok",
        "input_sha256": digest,
        "checklist": checklist,
        "outputs": outputs,
    }
    return _result(task.input, "rendered", row, head, warnings)


def _result(
    input_: str,
    status: Status,
    row: dict[str, Any],
    entry: dict[str, Any] | str,
    problems: list[Problem],
) -> FileResult:
    """The result of one file, with every text the parent stores made here.

    ``entry`` is the manifest entry without its row (the row is added as its
    last key, serialised once), or the previous run's entry as it is.
    """
    row_status = str(row.get("status") or "failed")
    final = row_status == "ok"
    row_json, escalation_records = _row_texts(row) if final else (_dumps(row), [])
    if not isinstance(entry, str):
        entry = f'{_dumps(entry)[:-1]},"row":{row_json}}}'
    reports = row.get("reports") if final else None
    return FileResult(
        input=input_,
        status=status,
        problems=problems,
        row_status=row_status,
        loan=row.get("loan"),
        suggested=row.get("suggested") if final else None,
        proposed=row.get("proposed") if final else None,
        classification=row.get("classification") if final else None,
        signals=row.get("signals") if final else None,
        reports=tuple(reports.values()) if isinstance(reports, dict) else (),
        entry=entry,
        row_json=row_json,
        csv_line=csv_line(row),
        escalation_records=escalation_records,
    )


def _compact_json() -> Callable[[Any], str]:
    """``json.dumps(data, ensure_ascii=False, separators=(",", ":"))``, set up once.

    ``json.dumps`` with options makes an encoder per call, and the encoder its
    C encoder per call again: ~1.5 µs, some ten times per file. Here the C
    encoder (CPython's ``json.encoder.c_make_encoder``, what
    :meth:`json.JSONEncoder.iterencode` uses) is made once, without the check
    for reference cycles (rows are trees); elsewhere, or if it does not write
    what the public encoder writes, the public encoder is used.
    """
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    quote = json.encoder.encode_basestring
    try:
        iterencode = make(None, encoder.default, quote, None, ":", ",", False, False, True)
    except TypeError:  # absent (None), or another interpreter's: the public way
        return encoder.encode

    def dumps(data: Any) -> str:
        return "".join(iterencode(data, 0))

    probe = {"a": [1, -2.5, None, True, 'é\n"x\u2028'], "b": {}, "c": []}
    return dumps if dumps(probe) == encoder.encode(probe) else encoder.encode


#: Compact JSON, as every stored text is written.
_dumps = _compact_json()


def _problem_dict(problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "level": problem.level,
        "code": problem.code,
        "message": problem.message,
        "text": problem.format().replace("\n", " "),
    }


def _early_draft_row(input_: str, data: dict[str, Any]) -> dict[str, Any]:
    """A summary row for a draft that is not yet a valid answer file: what it has."""

    def text(mapping: Any, *keys: str) -> str | None:
        for key in keys:
            if not isinstance(mapping, dict):
                return None
            mapping = mapping.get(key)
        return mapping if isinstance(mapping, str) else None

    checklist = data.get("checklist")
    return {
        "input": input_,
        "status": "draft",
        "loan": text(data, "loan", "id"),
        "borrower": text(data, "loan", "borrower", "name"),
        "branch": text(data, "loan", "branch"),
        "officer": text(data, "inspection", "officer", "name"),
        "date": str(data.get("inspection", {}).get("date"))
        if isinstance(data.get("inspection"), dict) and data["inspection"].get("date")
        else None,
        "kind": text(data, "inspection", "kind"),
        "checklist": f"{text(checklist, 'id')} {text(checklist, 'version')}"
        if isinstance(checklist, dict)
        else None,
        "currency": None,
        "outstanding": None,
        "review": "pending",
        "reviewer": None,
    }


def _base_row(input_: str, status: str, answers: Any, checklist: dict[str, Any]) -> dict[str, Any]:
    loan = answers.loan
    inspection = answers.inspection
    review = answers.review
    return {
        "input": input_,
        "status": status,
        "loan": loan.id,
        "borrower": loan.borrower.name,
        "branch": loan.branch,
        "officer": inspection.officer.name,
        "date": inspection.date.isoformat(),
        "kind": inspection.kind,
        "checklist": f"{checklist['id']} {checklist['version']}",
        "currency": loan.outstanding.currency,
        "outstanding": str(loan.outstanding.amount),
        "review": review.decision if review is not None else "pending",
        "reviewer": review.supervisor.name if review is not None else None,
    }


#: The severities the escalation list takes, as plain text (signals hold enum members).
_ESCALATED = {"critical": "critical", "major": "major"}
_LAST_DUE = "9999"


def _evaluation_row(evaluation: Any, lang: str) -> dict[str, Any]:
    from postloan_cli.i18n import localize

    default = evaluation.checklist.checklist.default_language
    suggested = evaluation.suggested
    proposed = evaluation.proposed
    worst = max((c for c in (suggested, proposed) if c is not None), key=lambda c: c.rank)
    # ``Evaluation.counts()``, counted in the same pass: every severity, least
    # serious first, as plain text keys (a severity compares and hashes as its text).
    counts = {"info": 0, "watch": 0, "major": 0, "critical": 0}
    escalations = []
    for sig in evaluation.signals:
        counts[sig.severity] += 1
        severity = _ESCALATED.get(sig.severity)
        if severity is None:
            continue
        escalations.append(
            {
                "severity": severity,
                "rule": sig.rule_id,
                "area": sig.area,
                "signal": localize(sig.text, lang, default),
                "item": sig.item,
                "action": localize(sig.action, lang, default) or None,
                "escalate_to": localize(sig.escalate_to, lang, default) or None,
                "due": sig.due.isoformat() if sig.due else None,
            }
        )
    if len(escalations) > 1:
        escalations.sort(key=lambda e: (e["due"] or _LAST_DUE, SEVERITIES.index(e["severity"])))
    return {
        "suggested": suggested.value,
        "proposed": proposed.value if proposed is not None else None,
        "classification": worst.value,
        "signals": counts,
        "escalations": escalations,
    }


#: What each entry of the escalation list adds to its signal: the row's loan and reports.
_ESCALATION_FIELDS = ("loan", "borrower", "officer", "date", "reports")


def _row_texts(row: dict[str, Any]) -> tuple[str, list[tuple[str, int, str]]]:
    """A final inspection's row as JSON, and its escalation list entries.

    Each entry of the escalation list is ``(due, severity rank, JSON)``, the
    JSON being the signal followed by the row's :data:`_ESCALATION_FIELDS`.
    Every signal is serialised once, for both: JSON texts join like the data
    they encode (``{"a":1}`` and ``{"b":2}`` make ``{"a":1,"b":2}``), so the
    row is its fields before and after ``escalations`` around the signals'
    texts, and an entry is a signal's text followed by the row's fields
    (when no key is in both, which is how rows are made).
    """
    escalations = row.get("escalations")
    if not escalations or not isinstance(escalations, list):
        return _dumps(row), []
    keys = list(row)
    at = keys.index("escalations")
    before = _dumps({key: row[key] for key in keys[:at]})[:-1]
    after = _dumps({key: row[key] for key in keys[at + 1 :]})[1:]
    texts = [_dumps(esc) for esc in escalations]
    row_json = "".join(
        (
            before,
            "," if at else "",
            '"escalations":[',
            ",".join(texts),
            "]",
            "," if at < len(keys) - 1 else "",
            after,
        )
    )
    fields = {name: row[name] for name in _ESCALATION_FIELDS}
    tail = _dumps(fields)[1:]
    records = []
    for esc, text in zip(escalations, texts, strict=True):
        if isinstance(esc, dict) and esc and fields.keys().isdisjoint(esc):
            data = f"{text[:-1]},{tail}"
        else:
            data = _dumps({**esc, **fields})
        records.append((esc["due"] or "9999-99-99", SEVERITIES.index(esc["severity"]), data))
    return row_json, records


# --- the run ---------------------------------------------------------------------------


def default_jobs() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def run_batch(
    input_dir: Path,
    output_dir: Path,
    options: BatchOptions | None = None,
    *,
    on_result: Callable[[FileResult], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> BatchResult:
    """Inspect every answer file under ``input_dir`` into ``output_dir`` and summarise.

    ``on_start(total)`` is called once the files are known, ``on_result`` as
    each file completes (in completion order). Raises :class:`InputError`
    only when the input folder itself cannot be used.
    """
    options = options or BatchOptions()
    started = time.perf_counter()
    if not input_dir.is_dir():
        raise InputError([Problem("PL100", "is not a folder", str(input_dir))])
    formats = tuple(dict.fromkeys(options.render.formats)) or FORMATS
    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir.resolve()

    settings = settings_hash(options.render, formats)
    remove_stale_temporaries(output)  # left by a run that was killed
    # The run's bookkeeping waits on disk (hidden, removed at the end), so the
    # parent's memory does not grow with the number of files. Named by process,
    # so that a later run can tell when it was left by a killed one.
    spool = Path(tempfile.mkdtemp(prefix=f".postloan-spool-{os.getpid()}-", dir=output))
    try:
        result = _run(input_dir, output, options, formats, settings, spool, on_result, on_start)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    result.seconds = time.perf_counter() - started
    return result


def _run(
    input_dir: Path,
    output: Path,
    options: BatchOptions,
    formats: tuple[str, ...],
    settings: str,
    spool: Path,
    on_result: Callable[[FileResult], None] | None,
    on_start: Callable[[int], None] | None,
) -> BatchResult:
    exclude = [output, spool]
    # Count first, then stream: a list of every task would make the parent,
    # and every worker forked from it, grow with the folder.
    total = sum(1 for _ in discover(input_dir, exclude=exclude))
    state = _WorkerState(output, options.render, formats, options.force, spool)
    jobs = max(1, min(options.jobs or default_jobs(), total or 1))
    chunk = options.chunk_size  # None: chunks shrink as the run ends (see _Pool)
    # Workers are forked before the old manifest is read, so they stay small.
    pool = _Pool(state, jobs) if jobs > 1 else None
    store = _Store(spool / "batch.sqlite")
    try:
        return _run_with(
            input_dir,
            output,
            options,
            settings,
            exclude,
            total,
            state,
            pool,
            chunk,
            store,
            on_result,
            on_start,
        )
    finally:
        if pool is not None:
            pool.terminate()
        store.close()


def _run_with(
    input_dir: Path,
    output: Path,
    options: BatchOptions,
    settings: str,
    exclude: list[Path],
    total: int,
    state: _WorkerState,
    pool: _Pool | None,
    chunk: int | None,
    store: _Store,
    on_result: Callable[[FileResult], None] | None,
    on_start: Callable[[int], None] | None,
) -> BatchResult:
    reusable = read_manifest(output, store) == settings and not options.force

    def tasks() -> Iterator[_Task]:
        root = str(input_dir)
        for key in discover(input_dir, exclude=exclude):
            path = os.path.join(root, key)
            # The previous entry goes to the worker, which decides whether it
            # still holds and which of its reports became stale.
            previous = store.old_entry(key)
            yield _Task(key, path, path, _stem(key, store), previous, reusable)

    result = BatchResult(output=output)
    totals = _Totals(Counter(), Counter())
    last_checkpoint = time.monotonic()

    def collect(res: FileResult) -> None:
        nonlocal last_checkpoint
        _record(res, store, result, totals)
        if on_result is not None:
            on_result(res)
        now = time.monotonic()
        if now - last_checkpoint > CHECKPOINT_SECONDS:
            write_manifest(output, settings, store.checkpoint_entries())
            last_checkpoint = now

    try:
        if on_start is not None:
            on_start(total)
        if pool is None:
            _init_worker(state, in_process=True)
            for task in tasks():
                collect(_work(task))
        else:
            for res in pool.imap_unordered(tasks(), total, chunk):
                collect(res)
    except BaseException:
        # Interrupted: keep what is done for the next run; the old summary stays valid.
        write_manifest(output, settings, store.checkpoint_entries())
        raise
    _finish(input_dir, output, settings, store, totals, options, result, pool)
    return result


def _stem(rel: str, store: _Store) -> str:
    """The report stem of ``rel``: sanitised, unique (case-insensitively), not the summary's."""
    base = safe_relative_text(os.path.splitext(rel)[0])
    candidate, n = base, 1
    while not store.take_name(candidate):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _record(res: FileResult, store: _Store, result: BatchResult, totals: _Totals) -> None:
    """Account for one finished file: the manifest entry, the summary row, the totals."""
    store.add(res)
    if res.row_status == "ok":
        if res.status == "rendered":
            result.rendered += 1
            if res.problems:
                result.warnings.extend(res.problems)
        else:
            result.unchanged += 1
        signals = result.signals
        for severity, count in (res.signals or {}).items():
            signals[severity] = signals.get(severity, 0) + count
        totals.suggested[res.suggested] += 1
        if res.proposed:
            totals.proposed[res.proposed] += 1
    elif res.row_status == "draft":
        result.drafts += 1
    else:
        result.failures.append((res.input, res.problems))


class _Pool:
    """Worker processes fed by the parent itself, over one pipe each.

    Not :class:`multiprocessing.pool.Pool`: it runs three helper threads in
    the parent, and one of them (``_handle_workers``, Python 3.8+) wakes up
    whenever results wait in the shared queue and spins until another thread
    has read them, ~5,000 turns for 1,000 files: as much of the parent's CPU
    as everything else it does per file, taken from the cores the workers
    use. Here the parent sends chunks of tasks and reads results with
    :func:`multiprocessing.connection.wait`, and nothing runs in between.

    A chunk is sent ahead (a second one while the worker is busy with the
    first) only when it fits in the pipe's buffer: a worker blocked on
    sending its results never reads it, and the parent must not block on
    sending it meanwhile. A worker that dies (killed, or crashed in native
    code) fails the files it held and is replaced; the batch goes on.
    """

    def __init__(self, state: _WorkerState, jobs: int) -> None:
        import multiprocessing

        methods = multiprocessing.get_all_start_methods()
        # fork: workers inherit the imported modules and start in milliseconds.
        self._context = multiprocessing.get_context("fork" if "fork" in methods else None)
        self._state = state
        self._workers: list[tuple[Any, Any]] = []  # (process, the parent's end of its pipe)
        for _ in range(jobs):
            self._workers.append(self._start())
        self._ahead = _buffer_size(self._workers[0][1])

    def _start(self) -> tuple[Any, Any]:
        mine, theirs = self._context.Pipe()
        # The parent's ends, this one's too, are closed in the child (see _worker_main):
        # a worker sees the end of its input only when no other process holds them.
        parents = [*(conn for _, conn in self._workers), mine]
        process = self._context.Process(
            target=_worker_main, args=(theirs, self._state, parents), daemon=True
        )
        process.start()
        theirs.close()
        return process, mine

    def imap_unordered(
        self, tasks: Iterable[_Task], total: int, chunk: int | None = None
    ) -> Iterator[FileResult]:
        """:func:`_work` of every task (``total`` of them), in the order they complete.

        Tasks go in chunks of ``chunk``, or by default in chunks that shrink
        as the run ends (a quarter of each worker's share of what is left, at
        most :data:`_CHUNK`): few messages early on, and at the end no worker
        left idle while another finishes a long chunk.
        """
        from multiprocessing.connection import wait

        source = iter(tasks)
        left = total
        share = 4 * len(self._workers)
        sent: dict[Any, deque[list[_Task]]] = {}  # per worker: chunks not answered yet
        held: dict[Any, tuple[list[_Task], memoryview]] = {}  # a chunk that must wait

        def feed(conn: Any) -> None:
            nonlocal left
            if conn in held:
                batch, data = held.pop(conn)
            else:
                batch = list(islice(source, chunk or max(1, min(_CHUNK, left // share))))
                if not batch:
                    return
                left -= len(batch)
                data = _dumps_message(("work", batch))
            if len(sent[conn]) > 1 or (sent[conn] and len(data) > self._ahead):
                held[conn] = (batch, data)
                return
            try:
                conn.send_bytes(data)
            except OSError:  # the worker died: reading from it will say so
                held[conn] = (batch, data)
                return
            sent[conn].append(batch)

        for _, conn in self._workers:
            sent[conn] = deque()
            feed(conn)
            feed(conn)
        while True:
            busy = [conn for conn, chunks in sent.items() if chunks or conn in held]
            if not busy:
                return
            ready: list[Any] = wait(busy)
            for conn in ready:
                try:
                    results: list[FileResult] = conn.recv()
                except (EOFError, OSError):
                    lost, conn = self._replace(conn, sent, held)
                    feed(conn)
                    feed(conn)
                    yield from (_lost(task) for task in lost)
                    continue
                sent[conn].popleft()
                feed(conn)  # before the parent files the results: keep the worker busy
                feed(conn)
                yield from results

    def _replace(
        self,
        conn: Any,
        sent: dict[Any, deque[list[_Task]]],
        held: dict[Any, tuple[list[_Task], memoryview]],
    ) -> tuple[list[_Task], Any]:
        """A worker died: start another in its place; return the tasks it lost and the new pipe.

        The chunks it had (one of them killed it, perhaps) are lost; one
        waiting for it goes to the new worker.
        """
        index = next(i for i, (_, c) in enumerate(self._workers) if c is conn)
        process, _ = self._workers[index]
        process.join(_STOP_SECONDS)
        conn.close()
        lost = [task for batch in sent.pop(conn) for task in batch]
        waiting = held.pop(conn, None)
        self._workers[index] = self._start()
        new = self._workers[index][1]
        sent[new] = deque()
        if waiting is not None:
            held[new] = waiting
        return lost, new

    def call(self, index: int, function: Callable[..., Any], *args: Any) -> Callable[[], Any]:
        """Run ``function(*args)`` in worker ``index`` (idle); return how to wait for its value."""
        conn = self._workers[index % len(self._workers)][1]
        with contextlib.suppress(OSError):  # the worker died: reading from it says so
            conn.send_bytes(_dumps_message(("call", (function, args))))

        def wait() -> Any:
            try:
                return conn.recv()
            except (EOFError, OSError):
                problem = Problem("internal", f"a worker process died in {function.__name__}")
                raise InputError([problem]) from None

        return wait

    def terminate(self) -> None:
        """Stop every worker now (they hold nothing that must be saved) and reap them.

        A worker stops after the file in hand (see :func:`_worker_main`); one
        that has not within a few seconds is killed.
        """
        for process, conn in self._workers:
            if process.is_alive():
                process.terminate()
            conn.close()
        for process, _ in self._workers:
            process.join(_STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()


#: The most files sent to a worker at once.
_CHUNK = 16


def _lost(task: _Task) -> FileResult:
    """The result of a file whose worker died."""
    problem = Problem(
        "internal",
        "the worker process died while processing this file or one sent with it; "
        "this is a bug, please report it",
        task.display,
    )
    return _with_stale(_failed(task, [problem]), _previous_entry(task))


def _dumps_message(message: Any) -> memoryview:
    from multiprocessing.reduction import ForkingPickler

    return ForkingPickler.dumps(message)


def _buffer_size(conn: Any) -> int:
    """How many bytes can wait in a pipe while nobody reads (half the socket's buffers)."""
    import socket

    try:
        with socket.socket(fileno=os.dup(conn.fileno())) as sock:
            size = min(
                sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
                sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
            )
    except OSError:
        return 4096
    return max(4096, size // 2)


#: How long a stopped worker may take to exit before it is killed.
_STOP_SECONDS = 5.0
#: Signals a worker received from the parent: it exits before its next file.
_stop_signals: list[int] = []


def _stop(signum: int, frame: Any) -> None:
    _stop_signals.append(signum)


def _worker_main(conn: Any, state: _WorkerState, parents: list[Any]) -> None:
    """A worker's loop: chunks of tasks in, their results out; a call in, its value out.

    Stopped by the parent (Ctrl-C, an error), it finishes the file in hand
    and exits: exiting in the middle of writing a report would leave its
    temporary file behind (until the next run removes it).
    """
    for end in parents:  # the parent's ends of the workers' pipes, inherited by fork
        end.close()
    _init_worker(state)
    signal.signal(signal.SIGTERM, _stop)
    while not _stop_signals:
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):
            return  # the parent is done, or gone
        reply: Any
        if kind == "work":
            reply = []
            for task in payload:
                if _stop_signals:
                    return
                reply.append(_work(task))
        else:
            function, args = payload
            reply = function(*args)
        try:
            conn.send(reply)
        except OSError:
            return


@dataclass
class _Totals:
    suggested: Counter[str | None]
    proposed: Counter[str]


def _write_summary_files(
    db: Path, output: Path, info: Any, template_dirs: tuple[Path, ...], files: tuple[str, ...]
) -> tuple[list[Path], list[Problem]]:
    """Write summary ``files`` from the run's database (in a worker); problems are returned."""
    from postloan_cli.summary import write_summaries

    store = _Store(db, read_only=True)
    try:
        return write_summaries(output, info, store, template_dirs=template_dirs, files=files), []
    except InputError as exc:  # returned, not raised: InputError does not survive pickling
        return [], exc.problems
    finally:
        store.close()


def _finish(
    input_dir: Path,
    output: Path,
    settings: str,
    store: _Store,
    totals: _Totals,
    options: BatchOptions,
    result: BatchResult,
    pool: _Pool | None,
) -> None:
    """Write the summary, then delete unwanted reports, then the manifest (in that order).

    With nothing to delete, the manifest is written while workers write the
    rendered summaries (this process would wait for them idle): nothing it
    holds depends on the summary, which every run writes anew.
    """
    from postloan_cli.summary import CSV, FILES, HTML, JSON, MARKDOWN, SummaryInfo, write_summaries

    info = SummaryInfo(
        generated=dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds"),
        tool=__version__,
        input=str(input_dir),
        formats=tuple(dict.fromkeys(options.render.formats)) or FORMATS,
        counts={
            "inspections": result.rendered + result.unchanged,
            "rendered": result.rendered,
            "unchanged": result.unchanged,
            "drafts": result.drafts,
            "failed": len(result.failures),
        },
        suggested={c: totals.suggested.get(c, 0) for c in CLASSIFICATIONS},
        proposed={c: totals.proposed.get(c, 0) for c in CLASSIFICATIONS},
        signals=dict(result.signals),
    )
    store.prepare_summary()
    unwanted = store.unwanted()
    manifest_first = pool is not None and not unwanted
    template_dirs = tuple(options.render.template_dirs)
    files: tuple[str, ...] = FILES
    pending = []
    if pool is not None:
        # The two rendered summaries are the slow ones: workers write them while
        # this process writes summary.json and summary.csv.
        for index, name in enumerate((HTML, MARKDOWN)):
            args = (store.path, output, info, template_dirs, (name,))
            pending.append(pool.call(index, _write_summary_files, *args))
        files = (JSON, CSV)
    written = write_summaries(output, info, store, template_dirs=template_dirs, files=files)
    if manifest_first:
        write_manifest(output, settings, (_without_stale(e) for e in store.final_entries()))
    for wait in pending:
        paths, problems = wait()
        if problems:
            raise InputError(problems)
        written = [*written, *paths]
    written.sort(key=lambda path: FILES.index(path.name))
    result.summary = written

    for rel in unwanted:
        try:
            target = inside(output, PurePath(rel))
        except InputError:
            continue
        try:
            target.unlink()
        except FileNotFoundError:
            continue
        except OSError:
            continue
        result.pruned.append(rel)
        _remove_empty_parents(target.parent, output)
    if not manifest_first:
        write_manifest(output, settings, (_without_stale(e) for e in store.final_entries()))


def _without_stale(entry: str) -> str:
    if '"stale":' not in entry:
        return entry
    data = json.loads(entry)
    data.pop("stale", None)
    return _dumps(data)


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
