"""The portfolio summary of a batch: ``index.html``, ``summary.md``, ``.json`` and ``.csv``.

Every inspection worst first (classification, then critical, major, watch
and info signals) with links to its reports; totals by classification; the
escalation list (every critical and major signal with its action, whom to
tell and by when); unfinished drafts; failures with file and line.

The HTML is self-contained (inline style, no scripts, nothing fetched) and
every value is HTML-escaped (by Jinja's autoescape in a user's template, by
the same escape in ``finalize`` in the shipped one); the Markdown escapes
every value with :func:`md_escape`. The templates are ``summary.html.j2`` and
``summary.md.j2``, looked up in the user's ``--templates`` folders before
the shipped ones. Rows are streamed into the files (a generator in, chunks
out), each written to a temporary file and renamed.

The source holds every row as text, made once by the batch worker that
wrote its reports: ``summary.json`` and ``summary.csv`` are those texts
joined (rows are decoded only for the two templates).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import quote

from postloan_cli.errors import InputError, Problem
from postloan_cli.outputs import create_temporary

HTML = "index.html"
MARKDOWN = "summary.md"
JSON = "summary.json"
CSV = "summary.csv"

CSV_COLUMNS = (
    "status",
    "input",
    "loan",
    "borrower",
    "branch",
    "officer",
    "date",
    "kind",
    "checklist",
    "suggested",
    "proposed",
    "critical",
    "major",
    "watch",
    "info",
    "review",
    "report_md",
    "report_html",
    "problems",
)


@dataclass(frozen=True)
class SummaryInfo:
    """The figures at the top of the summary."""

    generated: str
    tool: str
    input: str
    formats: tuple[str, ...]
    #: inspections, rendered, unchanged, drafts, failed
    counts: dict[str, int] = field(default_factory=dict)
    #: Final inspections per suggested / proposed classification.
    suggested: dict[str, int] = field(default_factory=dict)
    proposed: dict[str, int] = field(default_factory=dict)
    #: Signals fired per severity.
    signals: dict[str, int] = field(default_factory=dict)


# --- escaping ---------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~&$])")
#: What :func:`md_escape` changes: a markup character, or whitespace other than single
#: spaces between words (``\s`` and ``str.split`` agree on what whitespace is).
_MD_CHANGES = re.compile(r"[\\`*_{}\[\]()<>#+!|~&$]|\s\s|[^\S ]|^\s|\s$")


def md_escape(value: Any) -> str:
    """``value`` as Markdown text on one line: every markup character escaped."""
    if value is None:
        return ""
    text = str(value)
    if _MD_CHANGES.search(text) is None:  # most values: nothing to do, and one scan to know it
        return text
    text = " ".join(text.split())
    return _MD_SPECIAL.sub(r"\\\1", text)


#: A path :func:`urllib.parse.quote` leaves as it is (with ``safe="/-_.~"``).
_URL_SAFE = re.compile(r"[A-Za-z0-9/_.~-]*")


def url(path: str) -> str:
    """A relative link to a report: every unsafe character percent-encoded."""
    if _URL_SAFE.fullmatch(path):
        return path
    return quote(path, safe="/-_.~")


def csv_cell(value: Any) -> str:
    """A CSV value that a spreadsheet will not run as a formula."""
    if value is None:
        return ""
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def label(value: Any) -> str:
    """``special_mention`` -> ``special mention``."""
    return "" if value is None else str(value).replace("_", " ")


# --- templates --------------------------------------------------------------------------


def _environment(template_dirs: Sequence[Path], *, html: bool) -> Any:
    """The environment of the HTML (``html``) or the Markdown summary template."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
    from jinja2.sandbox import SandboxedEnvironment

    from postloan_cli import resources
    from postloan_cli.cache import template_bytecode_cache
    from postloan_cli.rendering import EscapedTexts  # loaded already where summaries render

    options: dict[str, Any]
    if template_dirs:
        # A user's template folder may hold anything, so it gets the sandbox
        # and Jinja's own autoescape.
        kind: type[Environment] = SandboxedEnvironment
        options = {"autoescape": select_autoescape(enabled_extensions=("html.j2",), default=False)}
        flavour = "sandbox"
    else:
        # The shipped templates are our code and the context is plain data: the
        # sandbox's check on every attribute (several per row) buys nothing
        # there. Their HTML escapes every value in ``finalize`` rather than by
        # autoescape: the same text, as the template outputs only values (no
        # macros or ``{% set %}`` blocks, whose markup would be escaped again),
        # and each distinct text is escaped once (officers, borrowers and
        # signals repeat down the page).
        kind = Environment
        # (the bound method: Jinja takes an empty mapping for "no finalize")
        finalize = EscapedTexts(_html_text).__call__
        options = {"autoescape": False, "finalize": finalize} if html else {}
        flavour = "finalize-html" if html else "plain"
    env = kind(
        loader=FileSystemLoader(
            [str(d) for d in resources.search_path("templates", template_dirs)]
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Compiling a summary template costs more than writing a small summary:
        # the compile cache keeps the code (an edited template compiles again).
        bytecode_cache=template_bytecode_cache(f"summary|{kind.__name__}|{flavour}"),
        **options,
    )
    env.filters.update(md=EscapedTexts(md_escape), url=url, label=label)
    return env


def _html_text(value: Any) -> str:
    """What autoescape writes for ``value`` (``Markup`` as it is)."""
    from markupsafe import escape

    return str(escape(value))


# --- writing ----------------------------------------------------------------------------


def _atomic_stream(
    path: Path, write: Callable[[IO[str]], None], *, newline: str | None = None
) -> None:
    """Call ``write`` on a temporary file next to ``path``, then rename it over ``path``."""
    try:
        fd, tmp = create_temporary(path)  # the usual file mode, a name a later run can clean
    except OSError as exc:
        raise InputError(
            [Problem("PL401", f"cannot write: {exc.strerror or exc}", str(path))]
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise InputError(
                [Problem("PL401", f"cannot write: {exc.strerror or exc}", str(path))]
            ) from None
        raise


def _render_template(env: Any, name: str, path: Path, context: dict[str, Any]) -> None:
    from jinja2 import TemplateError

    try:
        template = env.get_template(name)
    except TemplateError as exc:
        raise InputError([Problem("PL400", f"template {name}: {exc}", name)]) from None

    def write(handle: IO[str]) -> None:
        # A template yields a few hundred thousand small pieces for a large
        # batch: written in runs, not one by one (each write encodes).
        stream = template.generate(**context)
        try:
            pieces = list(islice(stream, _RUN))
            while pieces:
                handle.write("".join(pieces))
                pieces = list(islice(stream, _RUN))
        except TemplateError as exc:
            raise InputError([Problem("PL400", f"template {name}: {exc}", name)]) from None

    _atomic_stream(path, write)


#: Pieces of template output joined into one write.
_RUN = 1024


class SummarySource(Protocol):
    """Where the summary's rows come from (a batch's scratch database), as JSON texts.

    Each row is the text of ``json.dumps(row, ensure_ascii=False,
    separators=(",", ":"))``: ``summary.json`` holds them as they are.
    """

    def inspections(self) -> Iterator[str]:
        """Final inspections, worst first; a fresh iterator on every call."""
        ...

    def escalations(self) -> Iterator[str]:
        """Critical and major signals, earliest due first; a fresh iterator on every call."""
        ...

    def count_escalations(self) -> int:
        """How many :meth:`escalations` yields."""
        ...

    def drafts(self) -> Iterator[str]:
        """Rows of unfinished drafts."""
        ...

    def failures(self) -> Iterator[str]:
        """Rows of failed files, with their problems."""
        ...

    def csv_lines(self) -> Iterator[str]:
        """:func:`csv_line` of every row: inspections worst first, then drafts, then failures."""
        ...


class _Decoded(Sequence[dict[str, Any]]):
    """Rows decoded as a template iterates them (again on every loop); ``len()`` counted once."""

    def __init__(self, rows: Callable[[], Iterator[str]], count: Callable[[], int]) -> None:
        self._rows = rows
        self._count = count
        self._length: int | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return map(json.loads, self._rows())

    def __len__(self) -> int:
        if self._length is None:
            self._length = self._count()
        return self._length

    def __getitem__(self, index: Any) -> Any:  # Sequence API; templates only iterate
        return list(self)[index]


_TEMPLATES = {HTML: "summary.html.j2", MARKDOWN: "summary.md.j2"}
#: Every summary file, in the order they are written.
FILES = (HTML, MARKDOWN, JSON, CSV)


def write_summaries(
    output: Path,
    info: SummaryInfo,
    source: SummarySource,
    *,
    template_dirs: Sequence[Path] = (),
    files: Sequence[str] = FILES,
) -> list[Path]:
    """Write the summary ``files`` (default: all four) into ``output``; return their paths.

    Rows are streamed from ``source`` once per file, never held all at once.
    A batch writes ``index.html`` in a worker process while this process
    writes the others: each file needs only ``source`` and ``info``.
    """
    link_format = "html" if "html" in info.formats else (info.formats[0] if info.formats else "")
    written: list[Path] = []
    for name in files:
        target = output / name
        if name in (HTML, MARKDOWN):
            env = _environment(template_dirs, html=name == HTML)
            context = {
                "info": info,
                "inspections": lambda: map(json.loads, source.inspections()),
                "drafts": [json.loads(row) for row in source.drafts()],
                "failures": [json.loads(row) for row in source.failures()],
                "escalations": _Decoded(source.escalations, source.count_escalations),
                "severities": ("critical", "major", "watch", "info"),
                "classifications": tuple(info.suggested),
                "link_format": "md" if name == MARKDOWN and "md" in info.formats else link_format,
            }
            _render_template(env, _TEMPLATES[name], target, context)
        elif name == JSON:
            _atomic_stream(target, lambda h: _write_json(h, info, source))
        elif name == CSV:
            _atomic_stream(target, lambda h: _write_csv(h, source), newline="")
        else:
            raise ValueError(f"unknown summary file {name!r}")
        written.append(target)
    return written


def _write_json(handle: IO[str], info: SummaryInfo, source: SummarySource) -> None:
    head = {"format": "postloan-batch-summary", "version": 1, **asdict(info)}
    handle.write(json.dumps(head, ensure_ascii=False, indent=1)[:-2])
    for name, rows in (
        ("inspections", source.inspections()),
        ("drafts", source.drafts()),
        ("failures", source.failures()),
        ("escalations", source.escalations()),
    ):
        handle.write(f',\n "{name}": [')
        separator = "\n  "
        for row in rows:  # already JSON, compact: as it is
            handle.write(separator)
            handle.write(row)
            separator = ",\n  "
        handle.write("]" if separator == "\n  " else "\n ]")
    handle.write("\n}\n")


def _write_csv(handle: IO[str], source: SummarySource) -> None:
    handle.write(_CSV.writerow(CSV_COLUMNS))
    for line in source.csv_lines():
        handle.write(line)


class _Line:
    """A file for :func:`csv.writer` that returns each line instead of writing it."""

    def write(self, line: str) -> str:
        return line


_CSV = csv.writer(_Line())


def csv_line(row: dict[str, Any]) -> str:
    """One summary row as a line of ``summary.csv`` (with its line end).

    Made by the batch worker that made the row, so the summary only joins
    the lines. Every value goes through :func:`csv_cell`.
    """
    get = row.get
    counts = get("signals") or {}
    reports = get("reports") or {}
    problems = " | ".join(p["text"] for p in get("problems") or ())
    values = (  # in the order of CSV_COLUMNS
        get("status"),
        get("input"),
        get("loan"),
        get("borrower"),
        get("branch"),
        get("officer"),
        get("date"),
        get("kind"),
        get("checklist"),
        get("suggested"),
        get("proposed"),
        counts.get("critical", ""),
        counts.get("major", ""),
        counts.get("watch", ""),
        counts.get("info", ""),
        get("review"),
        reports.get("md"),
        reports.get("html"),
        problems,
    )
    line: str = _CSV.writerow([csv_cell(v) for v in values])
    return line
