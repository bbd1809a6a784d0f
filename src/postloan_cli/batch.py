"""Many answer files to their opinions and one portfolio summary: in parallel, incrementally.

:func:`run_batch` walks an input folder (recursively), sends the answer
files' *paths* to worker processes in chunks, and gets back one small
summary row per file (never an evaluation). Each worker loads and compiles
a checklist version once and keeps one template environment; it evaluates,
renders and writes the reports itself, atomically, into a tree that mirrors
the input tree. The parent keeps the rows, manifest entries and report
names in a scratch SQLite database (:class:`_Store`), and in memory only
the totals and the lists of inputs by outcome, so its memory stays flat as
the folder grows. At the end two workers write ``index.html`` and
``summary.md`` while the parent writes ``summary.json`` and ``summary.csv``.

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
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Literal

from postloan_cli import __version__
from postloan_cli.errors import InputError, Problem
from postloan_cli.outputs import (
    create_temporary,
    inside,
    remove_stale_temporaries,
    safe_relative_text,
)
from postloan_cli.pipeline import FORMATS, RenderOptions, evaluate_loaded, write_reports

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
    """What happened to one answer file, as reported while the batch runs."""

    input: str
    status: Status
    #: The file's summary row (loan, classifications, signal counts...).
    row: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    #: The manifest entry (JSON text), ``None`` when unchanged (the old one is kept).
    entry: str | None = None
    #: ``row`` as JSON, made in the worker (the parent stores it as it is).
    row_json: str | None = None
    #: The summary's escalation entries of this row: ``(due, severity rank, JSON)``.
    escalation_records: list[tuple[str, int, str]] = field(default_factory=list)


@dataclass
class BatchResult:
    """The outcome of a batch: what was rendered, reused, left unfinished or failed."""

    output: Path
    rendered: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    drafts: list[str] = field(default_factory=list)
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
        return len(self.rendered) + len(self.unchanged) + len(self.drafts) + len(self.failures)

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


@dataclass(frozen=True, slots=True)
class _Task:
    input: str  # relative POSIX path: the summary's and the manifest's key
    path: str  # where to read it
    display: str  # how problems name it
    stem: str
    previous: _Previous | None


# --- the manifest and the parent's bookkeeping -------------------------------------------


_SCHEMA = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA temp_store = FILE;
PRAGMA cache_size = -1024;
CREATE TABLE old (input TEXT PRIMARY KEY, entry TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE cur (
    input TEXT PRIMARY KEY, status TEXT NOT NULL, entry TEXT NOT NULL, row TEXT NOT NULL,
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
        self._lock = threading.Lock()  # the pool's feeder thread reads while we write
        if read_only:
            self._db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        else:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.executescript(_SCHEMA)
            self._db.executemany("INSERT INTO name VALUES (?)", [(s,) for s in SUMMARY_STEMS])
            self._db.execute("BEGIN")

    def close(self) -> None:
        """Commit and close (the file goes with the spool folder)."""
        with self._lock:
            if self._db.in_transaction:
                self._db.execute("COMMIT")
            self._db.close()

    def commit(self) -> None:
        """Make everything written so far visible to other processes."""
        with self._lock:
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")

    # --- the previous manifest

    def add_old(self, key: str, entry: str, outputs: Iterable[str]) -> None:
        """Remember an entry of the previous manifest; its ``outputs`` may become unwanted."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO old VALUES (?, ?)", (key, entry))
            self._db.executemany(
                "INSERT OR IGNORE INTO unwanted VALUES (?)", [(o,) for o in outputs]
            )

    def forget_old(self) -> None:
        """Drop the previous manifest (damaged or foreign)."""
        with self._lock:
            self._db.execute("DELETE FROM old")
            self._db.execute("DELETE FROM unwanted")

    def old_entry(self, key: str) -> str | None:
        with self._lock:
            found = self._db.execute("SELECT entry FROM old WHERE input = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    # --- this run

    def take_name(self, stem: str) -> bool:
        """Claim a report stem (case-insensitively); ``False`` if it is taken."""
        with self._lock:
            try:
                self._db.execute("INSERT INTO name VALUES (?)", (stem.lower(),))
            except sqlite3.IntegrityError:
                return False
        return True

    def add(
        self,
        key: str,
        entry: str,
        row: dict[str, Any],
        row_json: str,
        escalations: Sequence[tuple[str, int, str]],
    ) -> None:
        """Record one input's manifest entry, its summary row and its escalations."""
        status = str(row.get("status") or "failed")
        counts = row.get("signals") or {}
        rank = CLASSIFICATIONS.index(row["classification"]) if row.get("classification") else -1
        outputs = (row.get("reports") or {}).values() if status == "ok" else ()
        loan = str(row.get("loan") or "")
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO cur VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    status,
                    entry,
                    row_json,
                    rank,
                    *(int(counts.get(s, 0)) for s in SEVERITIES),
                    loan,
                ),
            )
            if outputs:
                self._db.executemany(
                    "INSERT OR IGNORE INTO kept VALUES (?)", [(o,) for o in outputs]
                )
            if escalations:
                self._db.executemany(
                    "INSERT INTO escalation VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (due, sev, loan, key, n, data)
                        for n, (due, sev, data) in enumerate(escalations)
                    ],
                )

    def checkpoint_entries(self) -> Iterator[str]:
        """This run's entries, then the previous run's for inputs not reached yet."""
        # Streamed in chunks, taking the lock per chunk: the pool's feeder thread
        # keeps reading ``old`` and claiming names meanwhile (it never writes ``cur``).
        cursor = self._db.cursor()
        with self._lock:
            cursor.execute(
                "SELECT entry FROM cur UNION ALL SELECT entry FROM old "
                "WHERE NOT EXISTS (SELECT 1 FROM cur WHERE cur.input = old.input)"
            )
        while True:
            with self._lock:
                chunk = cursor.fetchmany(256)
            if not chunk:
                return
            for (entry,) in chunk:
                yield entry

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
        with self._lock:
            self._db.execute(
                "CREATE INDEX worst_first ON cur "
                "(status, rank DESC, critical DESC, major DESC, watch DESC, info DESC, loan, input)"
            )
            self._db.execute(
                "CREATE INDEX earliest_due ON escalation (due, severity, loan, input, n)"
            )
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")

    # --- the summary's rows (:class:`postloan_cli.summary.SummarySource`)

    def inspections(self) -> Iterator[dict[str, Any]]:
        for (row,) in self._db.execute(_WORST_FIRST):
            yield json.loads(row)

    def escalations(self) -> _Rows:
        return _Rows(self._db, _EARLIEST_DUE, _COUNT_ESCALATIONS)

    def drafts(self) -> list[dict[str, Any]]:
        return self._rows("draft")

    def failures(self) -> list[dict[str, Any]]:
        return self._rows("failed")

    def _rows(self, status: str) -> list[dict[str, Any]]:
        query = "SELECT row FROM cur WHERE status = ? ORDER BY input"
        return [json.loads(row) for (row,) in self._db.execute(query, (status,))]


class _Rows(Sequence[dict[str, Any]]):
    """Rows of a query, streamed each time they are iterated; ``len()`` is counted once."""

    def __init__(self, db: sqlite3.Connection, query: str, count: str) -> None:
        self._db = db
        self._query = query
        self._count_query = count
        self._count: int | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for (data,) in self._db.execute(self._query):
            yield json.loads(data)

    def __len__(self) -> int:
        if self._count is None:
            self._count = int(self._db.execute(self._count_query).fetchone()[0])
        return self._count

    def __getitem__(self, index: Any) -> Any:  # Sequence API; the summary only iterates
        return list(self)[index]


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


def _previous_of(entry: str) -> _Previous | None:
    data = json.loads(entry)
    if data.get("status") not in ("ok", "draft"):
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


def _outputs_of(entry: str) -> list[str]:
    data = json.loads(entry)
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


def _unchanged(task: _Task, digest: str | None, outputs: dict[str, str]) -> bool:
    assert _STATE is not None
    prev = task.previous
    if _STATE.force or prev is None or digest is None or prev.input_sha256 != digest:
        return False
    if prev.draft:
        outputs = {}
    if prev.outputs != tuple(sorted(outputs.items())):
        return False
    current = _checklist_fingerprint(prev.checklist_id, prev.checklist_version)
    if current != (prev.checklist_path, prev.checklist_sha256):
        return False
    return all((_STATE.output / rel).is_file() for rel in outputs.values())


def _work(task: _Task) -> FileResult:
    """Process one answer file; never raises (one bad file never stops the batch)."""
    try:
        return _process(task)
    except InputError as exc:
        problems = exc.problems or [Problem("PL100", "cannot be processed", task.display)]
        problems = [p if p.file else p.at(task.display, p.line, p.column) for p in problems]
        return _failed(task, problems)
    except RecursionError:
        return _failed(task, [Problem("PL107", "document is nested too deeply", task.display)])
    except Exception as exc:  # a bug: keep going, say which file and what kind of error
        return _failed(
            task,
            [
                Problem(
                    "internal",
                    f"internal error ({type(exc).__name__}); this is a bug, please report it",
                    task.display,
                )
            ],
        )


def _failed(task: _Task, problems: list[Problem]) -> FileResult:
    problems = sorted(problems, key=lambda p: p.level != "error")  # errors first
    row: dict[str, Any] = {
        "input": task.input,
        "status": "failed",
        "problems": [_problem_dict(p) for p in problems],
    }
    entry = {"input": task.input, "status": "failed", "outputs": {}, "row": row}
    return FileResult(task.input, "failed", row, problems, _dumps(entry))


def _process(task: _Task) -> FileResult:
    from postloan_cli.loading import UnfinishedDraft, load_answers
    from postloan_cli.yamlio import read_bytes

    state = _STATE
    assert state is not None
    path = Path(task.path)
    outputs = report_paths(task.stem, state.formats)
    raw = read_bytes(path, display=task.display)  # read once: hashed, then parsed
    digest = hashlib.sha256(raw).hexdigest()
    if _unchanged(task, digest, outputs):
        return FileResult(task.input, "unchanged", {}, [], None)

    options = state.options
    try:
        loaded = load_answers(path, options.checklist_dirs, display=task.display, raw=raw)
    except UnfinishedDraft as draft:
        row = _early_draft_row(task.input, draft.document.data)
        entry = {
            "input": task.input,
            "status": "draft",
            "input_sha256": digest,
            "checklist": None,
            "outputs": {},
            "row": row,
        }
        return FileResult(task.input, "draft", row, [], _dumps(entry))
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
        entry = {
            "input": task.input,
            "status": "draft",
            "input_sha256": digest,
            "checklist": checklist,
            "outputs": {},
            "row": row,
        }
        return FileResult(task.input, "draft", row, [], _dumps(entry))

    evaluation = evaluate_loaded(loaded)
    warnings = [loaded.document.place(p) for p in evaluation.warnings]
    write_reports(
        evaluation,
        state.output,
        task.stem,
        formats=state.formats,
        lang=options.lang,
        template_dirs=options.template_dirs,
    )

    row = _base_row(task.input, "ok", answers, checklist)
    row.update(_evaluation_row(evaluation, lang))
    row["reports"] = outputs
    row["warnings"] = [_problem_dict(p) for p in warnings]
    row_json = _dumps(row)
    head = {
        "input": task.input,
        "status": "ok",
        "input_sha256": digest,
        "checklist": checklist,
        "outputs": outputs,
    }
    entry_json = f'{_dumps(head)[:-1]},"row":{row_json}}}'  # the row serialised once
    return FileResult(
        task.input, "rendered", row, warnings, entry_json, row_json, _escalation_records(row)
    )


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


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


def _evaluation_row(evaluation: Any, lang: str) -> dict[str, Any]:
    from postloan_cli.i18n import localize

    default = evaluation.checklist.checklist.default_language
    suggested = evaluation.suggested
    proposed = evaluation.proposed
    worst = max((c for c in (suggested, proposed) if c is not None), key=lambda c: c.rank)
    escalations = []
    for sig in evaluation.signals:
        if sig.severity.value not in ("critical", "major"):
            continue
        escalations.append(
            {
                "severity": sig.severity.value,
                "rule": sig.rule_id,
                "area": sig.area,
                "signal": localize(sig.text, lang, default),
                "item": sig.item,
                "action": localize(sig.action, lang, default) or None,
                "escalate_to": localize(sig.escalate_to, lang, default) or None,
                "due": sig.due.isoformat() if sig.due else None,
            }
        )
    escalations.sort(key=lambda e: (e["due"] or "9999", SEVERITIES.index(e["severity"])))
    return {
        "suggested": suggested.value,
        "proposed": proposed.value if proposed is not None else None,
        "classification": worst.value,
        "signals": evaluation.counts(),
        "escalations": escalations,
    }


# --- the run ---------------------------------------------------------------------------


def default_jobs() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _sort_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """Worst first: classification, then critical, major, watch, info signals; then loan."""
    counts = row.get("signals") or {}
    rank = CLASSIFICATIONS.index(row["classification"]) if row.get("classification") else -1
    return (
        -rank,
        *(-int(counts.get(s, 0)) for s in SEVERITIES),
        str(row.get("loan") or ""),
        row["input"],
    )


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
    state = _WorkerState(output, options.render, formats, options.force)
    jobs = max(1, min(options.jobs or default_jobs(), total or 1))
    # Small chunks: the last ones decide when the run ends, and a worker left
    # idle while another finishes a long chunk wastes a core (sending a chunk
    # costs next to nothing).
    chunk = options.chunk_size or max(1, min(16, total // (jobs * 16) or 1))
    # Workers are forked before the old manifest is read, so they stay small.
    pool = _start_pool(state, jobs) if jobs > 1 else None
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
            pool.join()
        store.close()


def _run_with(
    input_dir: Path,
    output: Path,
    options: BatchOptions,
    settings: str,
    exclude: list[Path],
    total: int,
    state: _WorkerState,
    pool: Any,
    chunk: int,
    store: _Store,
    on_result: Callable[[FileResult], None] | None,
    on_start: Callable[[int], None] | None,
) -> BatchResult:
    reusable = read_manifest(output, store) == settings and not options.force

    def tasks() -> Iterator[_Task]:
        root = str(input_dir)
        for key in discover(input_dir, exclude=exclude):
            previous = store.old_entry(key) if reusable else None
            path = os.path.join(root, key)
            yield _Task(
                input=key,
                path=path,
                display=path,
                stem=_stem(key, store),
                previous=_previous_of(previous) if previous else None,
            )

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
            for res in pool.imap_unordered(_work, tasks(), chunksize=chunk):
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
    row_json = res.row_json
    escalations = res.escalation_records
    if res.status == "unchanged":
        entry = store.old_entry(res.input)
        assert entry is not None  # a file is unchanged only against an old entry
        res.row = json.loads(entry)["row"]
        row_json = None
        escalations = _escalation_records(res.row)
        if res.row.get("status") == "draft":
            result.drafts.append(res.input)
        else:
            result.unchanged.append(res.input)
    else:
        assert res.entry is not None
        entry = res.entry
        previous = store.old_entry(res.input)
        if previous is not None:
            keep = (
                set((res.row.get("reports") or {}).values()) if res.status == "rendered" else set()
            )
            stale = [o for o in _outputs_of(previous) if o not in keep]
            if stale:  # remembered, so that an interrupted run still deletes them later
                data = json.loads(entry)
                data["stale"] = stale
                entry = _dumps(data)
        if res.status == "rendered":
            result.rendered.append(res.input)
            result.warnings.extend(res.problems)
        elif res.status == "draft":
            result.drafts.append(res.input)
        else:
            result.failures.append((res.input, res.problems))
    row = res.row
    store.add(res.input, entry, row, row_json or _dumps(row), escalations)
    if row.get("status") == "ok":
        for severity, count in row["signals"].items():
            result.signals[severity] = result.signals.get(severity, 0) + count
        totals.suggested[row["suggested"]] += 1
        if row.get("proposed"):
            totals.proposed[row["proposed"]] += 1


def _escalation_records(row: dict[str, Any]) -> list[tuple[str, int, str]]:
    """The summary's escalation list entries of one row: ``(due, severity rank, JSON)``."""
    if row.get("status") != "ok":
        return []
    return [
        (
            esc["due"] or "9999-99-99",
            SEVERITIES.index(esc["severity"]),
            _dumps(
                {
                    **esc,
                    "loan": row["loan"],
                    "borrower": row["borrower"],
                    "officer": row["officer"],
                    "date": row["date"],
                    "reports": row["reports"],
                }
            ),
        )
        for esc in row.get("escalations") or ()
    ]


def _start_pool(state: _WorkerState, jobs: int) -> Any:
    """A pool of ``jobs`` worker processes, each initialised with ``state``."""
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    # fork: workers inherit the imported modules and start in milliseconds.
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    return context.Pool(jobs, initializer=_init_worker, initargs=(state,))


@dataclass
class _Totals:
    suggested: Counter[str]
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
    pool: Any,
) -> None:
    """Write the summary, then delete unwanted reports, then the manifest (in that order)."""
    from postloan_cli.summary import CSV, FILES, HTML, JSON, MARKDOWN, SummaryInfo, write_summaries

    info = SummaryInfo(
        generated=dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds"),
        tool=__version__,
        input=str(input_dir),
        formats=tuple(dict.fromkeys(options.render.formats)) or FORMATS,
        counts={
            "inspections": len(result.rendered) + len(result.unchanged),
            "rendered": len(result.rendered),
            "unchanged": len(result.unchanged),
            "drafts": len(result.drafts),
            "failed": len(result.failures),
        },
        suggested={c: totals.suggested.get(c, 0) for c in CLASSIFICATIONS},
        proposed={c: totals.proposed.get(c, 0) for c in CLASSIFICATIONS},
        signals=dict(result.signals),
    )
    store.prepare_summary()
    template_dirs = tuple(options.render.template_dirs)
    files: tuple[str, ...] = FILES
    pending = []
    if pool is not None:
        # The two rendered summaries are the slow ones: workers write them while
        # this process writes summary.json and summary.csv.
        for name in (HTML, MARKDOWN):
            args = (store.path, output, info, template_dirs, (name,))
            pending.append(pool.apply_async(_write_summary_files, args))
        files = (JSON, CSV)
    written = write_summaries(output, info, store, template_dirs=template_dirs, files=files)
    for task in pending:
        paths, problems = task.get()
        if problems:
            raise InputError(problems)
        written = [*written, *paths]
    written.sort(key=lambda path: FILES.index(path.name))
    result.summary = written

    for rel in store.unwanted():
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
    write_manifest(output, settings, (_without_stale(entry) for entry in store.final_entries()))


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
