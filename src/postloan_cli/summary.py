"""The portfolio summary of a batch: ``index.html``, ``summary.md``, ``.json`` and ``.csv``.

Every inspection worst first (classification, then critical, major, watch
and info signals) with links to its reports; totals by classification; the
escalation list (every critical and major signal with its action, whom to
tell and by when); unfinished drafts; failures with file and line.

The HTML is self-contained (inline style, no scripts, nothing fetched) and
every value is escaped by Jinja's autoescape; the Markdown escapes every
value with :func:`md_escape`. The templates are ``summary.html.j2`` and
``summary.md.j2``, looked up in the user's ``--templates`` folders before
the shipped ones. Rows are streamed into the files (a generator in, chunks
out), each written to a temporary file and renamed.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
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


def md_escape(value: Any) -> str:
    """``value`` as Markdown text on one line: every markup character escaped."""
    if value is None:
        return ""
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def url(path: str) -> str:
    """A relative link to a report: every unsafe character percent-encoded."""
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


def _environment(template_dirs: Sequence[Path]) -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
    from jinja2.sandbox import SandboxedEnvironment

    from postloan_cli import resources

    # The shipped templates are our code and the context is plain data: the
    # sandbox's check on every attribute (several per row) buys nothing there.
    # A user's template folder may hold anything, so it gets the sandbox.
    kind = SandboxedEnvironment if template_dirs else Environment
    env = kind(
        loader=FileSystemLoader(
            [str(d) for d in resources.search_path("templates", template_dirs)]
        ),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md_escape, url=url, label=label)
    return env


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
        try:
            for chunk in template.generate(**context):
                handle.write(chunk)
        except TemplateError as exc:
            raise InputError([Problem("PL400", f"template {name}: {exc}", name)]) from None

    _atomic_stream(path, write)


class SummarySource(Protocol):
    """Where the summary's rows come from (a batch's scratch database)."""

    def inspections(self) -> Iterator[dict[str, Any]]:
        """Final inspections, worst first; a fresh iterator on every call."""
        ...

    def escalations(self) -> Sequence[dict[str, Any]]:
        """Critical and major signals, earliest due first (iterable more than once)."""
        ...

    def drafts(self) -> list[dict[str, Any]]:
        """Rows of unfinished drafts."""
        ...

    def failures(self) -> list[dict[str, Any]]:
        """Rows of failed files, with their problems."""
        ...


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
    env = None
    for name in files:
        target = output / name
        if name in (HTML, MARKDOWN):
            env = env or _environment(template_dirs)
            context = {
                "info": info,
                "inspections": source.inspections,
                "drafts": source.drafts(),
                "failures": source.failures(),
                "escalations": source.escalations(),
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
        first = True
        for row in rows:
            handle.write("\n  " if first else ",\n  ")
            handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            first = False
        handle.write("\n ]" if not first else "]")
    handle.write("\n}\n")


def _write_csv(handle: IO[str], source: SummarySource) -> None:
    writer = csv.writer(handle)
    writer.writerow(CSV_COLUMNS)
    for rows in (source.inspections(), source.drafts(), source.failures()):
        for row in rows:
            counts = row.get("signals") or {}
            reports = row.get("reports") or {}
            problems = " | ".join(p["text"] for p in row.get("problems") or ())
            values = {
                **row,
                **{s: counts.get(s, "") for s in ("critical", "major", "watch", "info")},
                "report_md": reports.get("md"),
                "report_html": reports.get("html"),
                "problems": problems,
            }
            writer.writerow([csv_cell(values.get(c)) for c in CSV_COLUMNS])
