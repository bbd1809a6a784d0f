"""Many answer files to their opinions and one portfolio summary: in parallel, incrementally.

:func:`run_batch` walks an input folder (recursively), sends the answer
files' *paths* to worker processes in chunks, and gets back one small
summary row per file (never an evaluation). Each worker loads and compiles
a checklist version once and keeps one template environment; it evaluates,
renders and writes the reports itself, atomically, into a tree that mirrors
the input tree. The parent only keeps the rows (as compact JSON text), the
totals and the failures, so memory grows with the number of rows, not with
the size of the evaluations.

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
import hashlib
import heapq
import json
import os
import shutil
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Literal

from postloan_cli import __version__
from postloan_cli.errors import InputError, Problem
from postloan_cli.outputs import inside, safe_relative
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


def discover(input_dir: Path, exclude: Sequence[Path] = ()) -> Iterator[PurePath]:
    """Answer files under ``input_dir`` (relative paths, sorted per folder).

    Hidden files and folders (``.git``, editor backups) and the ``exclude``
    folders (the output folder, when it is inside the input) are skipped;
    symbolic links to folders are not followed.
    """
    excluded = {os.path.realpath(p) for p in exclude}
    root = str(input_dir)
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and os.path.realpath(os.path.join(folder, d)) not in excluded
        )
        rel_folder = PurePath(os.path.relpath(folder, root))
        for name in sorted(files):
            if name.startswith(".") or not name.lower().endswith(EXTENSIONS):
                continue
            yield rel_folder / name if str(rel_folder) != "." else PurePath(name)


class _Namer:
    """Report stems (without extension) from input paths: sanitised, unique, not the summary's."""

    def __init__(self) -> None:
        self._taken: set[str] = {s for s in SUMMARY_STEMS}

    def stem(self, rel: PurePath) -> str:
        base = safe_relative(rel.with_suffix("")).as_posix()
        candidate, n = base, 1
        while candidate.lower() in self._taken:
            n += 1
            candidate = f"{base}-{n}"
        self._taken.add(candidate.lower())
        return candidate


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


# --- the manifest ------------------------------------------------------------------------


class _Spool:
    """Texts by key, kept in a temporary file: memory holds only offsets.

    A batch of ten thousand files must not hold ten thousand manifest
    entries (each with its summary row) in the parent process; they go to
    disk as they arrive and are read back once, when the summary is written.
    ``copy()`` shares the file and copies the index.
    """

    def __init__(self, folder: Path | None, handle: Any = None) -> None:
        self._folder = folder
        self._handle = handle if handle is not None else tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (lives as long as the spool)
        self._index: dict[str, tuple[int, int]] = {}

    def __setitem__(self, key: str, text: str) -> None:
        data = text.encode("utf-8")
        handle = self._handle
        handle.seek(0, os.SEEK_END)
        offset = handle.tell()
        handle.write(data)
        self._index[key] = (offset, len(data))

    def __getitem__(self, key: str) -> str:
        offset, size = self._index[key]
        self._handle.seek(offset)
        text: str = self._handle.read(size).decode("utf-8")
        return text

    def get(self, key: str) -> str | None:
        return self[key] if key in self._index else None

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __len__(self) -> int:
        return len(self._index)

    def keys(self) -> list[str]:
        return list(self._index)

    def values(self) -> Iterator[str]:
        for key in list(self._index):
            yield self[key]

    def items(self) -> Iterator[tuple[str, str]]:
        for key in list(self._index):
            yield key, self[key]

    def copy(self) -> _Spool:
        other = _Spool(self._folder, self._handle)
        other._index = dict(self._index)
        return other

    def only(self, keys: set[str]) -> _Spool:
        """The entries whose key is in ``keys`` (same file)."""
        other = _Spool(self._folder, self._handle)
        other._index = {k: v for k, v in self._index.items() if k in keys}
        return other


class _SortedSpool(Sequence[Any]):
    """JSON values in the order of a key, without holding them all in memory.

    Values are buffered, sorted in runs of :data:`RUN` and written to files;
    iterating merges the runs. It can be iterated several times (the summary
    templates and the JSON writer each read it once) and ``len()`` is cheap.
    """

    RUN = 2048

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._buffer: list[tuple[list[Any], str]] = []
        self._runs: list[Path] = []
        self._count = 0

    def add(self, key: list[Any], value: Any) -> None:
        self._buffer.append((key, _dumps(value)))
        self._count += 1
        if len(self._buffer) >= self.RUN:
            self._flush()

    def _flush(self) -> None:
        self._buffer.sort(key=lambda pair: pair[0])
        path = self._folder / f"run-{id(self)}-{len(self._runs)}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for key, text in self._buffer:
                handle.write(_dumps(key) + "\t" + text + "\n")
        self._runs.append(path)
        self._buffer = []

    def _run(self, path: Path) -> Iterator[tuple[list[Any], str]]:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                key, _, text = line.rstrip("\n").partition("\t")
                yield json.loads(key), text

    def __iter__(self) -> Iterator[Any]:
        self._buffer.sort(key=lambda pair: pair[0])
        streams = [self._run(path) for path in self._runs] + [iter(list(self._buffer))]
        for _, text in heapq.merge(*streams, key=lambda pair: pair[0]):
            yield json.loads(text)

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: Any) -> Any:  # Sequence API; the summary only iterates
        items = list(self)
        return items[index]


@dataclass
class _Manifest:
    #: input -> entry (JSON text), spooled to disk.
    entries: _Spool
    settings: str = ""


def read_manifest(output: Path, spool: Path | None = None) -> _Manifest:
    """The previous run's manifest; empty when missing, foreign or damaged.

    It is read line by line (one entry per line) into a :class:`_Spool` in
    the folder ``spool`` (a temporary folder when not given), so a large
    manifest is never held in memory.
    """
    path = output / MANIFEST
    folder = spool
    manifest = _Manifest(entries=_Spool(folder))
    try:
        handle = path.open(encoding="utf-8")
    except OSError:
        return manifest
    with handle:
        header = handle.readline().strip()
        if not header.endswith('"entries": ['):
            return manifest
        try:
            head = json.loads(header[: -len(', "entries": [')] + "}")
        except ValueError:
            return manifest
        if head.get("format") != MANIFEST_FORMAT or head.get("version") != MANIFEST_VERSION:
            return manifest
        manifest.settings = str(head.get("settings", ""))
        for line in handle:
            text = line.strip().removesuffix(",")
            if not text.startswith("{"):
                continue
            try:
                key = json.loads(text)["input"]
            except (ValueError, KeyError, TypeError):
                return _Manifest(entries=_Spool(folder))
            manifest.entries[str(key)] = text
    return manifest


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
    fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST}.", suffix=".tmp", dir=output)
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

    state = _STATE
    assert state is not None
    path = Path(task.path)
    outputs = report_paths(task.stem, state.formats)
    digest = _sha256_file(path)
    if _unchanged(task, digest, outputs):
        return FileResult(task.input, "unchanged", {}, [], None)

    options = state.options
    try:
        loaded = load_answers(path, options.checklist_dirs, display=task.display)
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
    entry = {
        "input": task.input,
        "status": "ok",
        "input_sha256": digest,
        "checklist": checklist,
        "outputs": outputs,
        "row": row,
    }
    return FileResult(task.input, "rendered", row, warnings, _dumps(entry))


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
    # Entries, rows and escalations wait on disk (hidden, removed at the end),
    # so the parent's memory does not grow with the number of files.
    spool = Path(tempfile.mkdtemp(prefix=".postloan-spool-", dir=output))
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
    chunk = options.chunk_size or max(1, min(64, total // (jobs * 8) or 1))
    # Workers are forked before the old manifest is read, so they stay small.
    pool = _start_pool(state, jobs) if jobs > 1 else None

    old = read_manifest(output, spool)
    reusable = old.settings == settings and not options.force
    current: set[str] = set()

    def tasks() -> Iterator[_Task]:
        namer = _Namer()
        for rel in discover(input_dir, exclude=exclude):
            key = rel.as_posix()
            current.add(key)
            previous = old.entries.get(key)
            yield _Task(
                input=key,
                path=str(input_dir / rel),
                display=str(input_dir / rel),
                stem=namer.stem(rel),
                previous=_previous_of(previous) if (reusable and previous) else None,
            )

    result = BatchResult(output=output)
    # The manifest being built: old entries stay until their input is processed,
    # so a checkpoint never forgets a report that still exists.
    entries = old.entries.copy()
    # Final inspections worst first, and escalations earliest due first.
    done = _SortedSpool(spool)
    suggested: Counter[str] = Counter()
    proposed: Counter[str] = Counter()
    escalations = _SortedSpool(spool)
    last_checkpoint = time.monotonic()

    def collect(res: FileResult) -> None:
        nonlocal last_checkpoint
        if res.status == "unchanged":
            stored = entries[res.input]
            res.row = json.loads(stored)["row"]
            if res.row.get("status") == "draft":
                result.drafts.append(res.input)
            else:
                result.unchanged.append(res.input)
        else:
            assert res.entry is not None
            previous = entries.get(res.input)
            if previous is not None:
                entry = json.loads(res.entry)
                keep = set(entry["outputs"].values())
                stale = [o for o in _outputs_of(previous) if o not in keep]
                if stale:
                    entry["stale"] = stale
                    res.entry = _dumps(entry)
            entries[res.input] = res.entry
            if res.status == "rendered":
                result.rendered.append(res.input)
                result.warnings.extend(res.problems)
            elif res.status == "draft":
                result.drafts.append(res.input)
            else:
                result.failures.append((res.input, res.problems))
        row = res.row
        if row.get("status") == "ok":
            for severity, count in row["signals"].items():
                result.signals[severity] = result.signals.get(severity, 0) + count
            done.add(list(_sort_key(row)), res.input)
            suggested[row["suggested"]] += 1
            if row.get("proposed"):
                proposed[row["proposed"]] += 1
            for esc in row.get("escalations") or ():
                key = [
                    esc["due"] or "9999-99-99",
                    SEVERITIES.index(esc["severity"]),
                    row["loan"],
                    len(escalations),  # arrival order breaks ties, as a stable sort did
                ]
                escalations.add(
                    key,
                    {
                        **esc,
                        "loan": row["loan"],
                        "borrower": row["borrower"],
                        "officer": row["officer"],
                        "date": row["date"],
                        "reports": row["reports"],
                    },
                )
        if on_result is not None:
            on_result(res)
        now = time.monotonic()
        if now - last_checkpoint > CHECKPOINT_SECONDS:
            write_manifest(output, settings, entries.values())
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
            pool.close()
    except BaseException:
        if pool is not None:
            pool.terminate()
        # Interrupted: keep what is done for the next run; the old summary stays valid.
        write_manifest(output, settings, entries.values())
        raise
    finally:
        if pool is not None:
            pool.join()

    # Only this run's inputs belong in the summary and the final manifest.
    final = entries.only(current)
    current.clear()
    totals = _Totals(suggested, proposed, escalations)
    _finish(input_dir, output, settings, old.entries, final, done, totals, options, result)
    return result


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
    escalations: _SortedSpool


def _finish(
    input_dir: Path,
    output: Path,
    settings: str,
    old_entries: _Spool,
    final: _Spool,
    done: _SortedSpool,
    totals: _Totals,
    options: BatchOptions,
    result: BatchResult,
) -> None:
    """Write the summary, then delete unwanted reports, then the manifest (in that order)."""
    from postloan_cli.summary import SummaryInfo, write_summaries

    def inspections() -> Iterator[dict[str, Any]]:
        for key in done:
            row: dict[str, Any] = json.loads(final[key])["row"]
            yield row

    drafts = [json.loads(final[k])["row"] for k in sorted(result.drafts)]
    failures = [json.loads(final[k])["row"] for k in sorted(k for k, _ in result.failures)]
    escalations = totals.escalations
    info = SummaryInfo(
        generated=dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds"),
        tool=__version__,
        input=str(input_dir),
        formats=tuple(dict.fromkeys(options.render.formats)) or FORMATS,
        counts={
            "inspections": len(done),
            "rendered": len(result.rendered),
            "unchanged": len(result.unchanged),
            "drafts": len(result.drafts),
            "failed": len(result.failures),
        },
        suggested={c: totals.suggested.get(c, 0) for c in CLASSIFICATIONS},
        proposed={c: totals.proposed.get(c, 0) for c in CLASSIFICATIONS},
        signals=dict(result.signals),
    )
    result.summary = write_summaries(
        output,
        info,
        inspections,
        drafts,
        failures,
        escalations,
        template_dirs=options.render.template_dirs,
    )

    keep: set[str] = set()
    candidates: set[str] = set()
    for entry in final.values():
        data = json.loads(entry)
        keep.update(data.get("outputs", {}).values())
        candidates.update(data.get("stale") or ())
    for entry in old_entries.values():
        candidates.update(o for o in _outputs_of(entry) if o not in keep)
    for rel in sorted(candidates - keep):
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
    write_manifest(output, settings, (_without_stale(entry) for entry in final.values()))


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
