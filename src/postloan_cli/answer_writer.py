"""Writing answer files: stable YAML text, drafts saved at once, finals never clobbered.

:func:`dump_answer_file` turns the plain data of an answer file (as built by
:meth:`postloan_cli.interview.Interview.answer_file_dict`) into YAML text with
ruamel.yaml: keys in the answer-file model's order, dates in ISO form, money as
``{amount, currency}``, decimals written exactly as entered (``1234.50``, no
float noise), text that would read as another type quoted, and the
``# yaml-language-server: $schema=...`` modeline for editors. The text loads
back with :func:`postloan_cli.loading.load_answers` to the same answers.

:class:`DraftSaver` writes an interview's draft atomically after every answer
to ``<inspections>/<loan id>/<date>.draft.yaml``; the final answer file is
``<inspections>/<loan id>/<date>.yaml``.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from postloan_cli.outputs import atomic_write, safe_name

if TYPE_CHECKING:
    from postloan_cli.interview import Interview

#: Where editors find the answer-file schema (the ``$id`` of ``schemas/answers.schema.json``).
SCHEMA_URL = "https://postloan.invalid/schemas/answers.schema.json"

#: Key order of each mapping of an answer file, by its path (``*`` matches any key).
_ORDER: dict[tuple[str, ...], tuple[str, ...]] = {
    (): ("checklist", "status", "loan", "inspection", "answers", "opinion", "review"),
    ("checklist",): ("id", "version"),
    ("loan",): (
        "id",
        "borrower",
        "type",
        "amount",
        "outstanding",
        "disbursed_on",
        "matures_on",
        "purpose",
        "days_past_due",
        "bank",
        "branch",
        "contract",
    ),
    ("loan", "borrower"): ("name", "id", "industry"),
    ("loan", "amount"): ("amount", "currency"),
    ("loan", "outstanding"): ("amount", "currency"),
    ("inspection",): ("date", "kind", "reason", "officer", "previous", "place"),
    ("inspection", "officer"): ("name", "id", "certificate", "role"),
    ("answers", "*", "*"): ("value", "note", "evidence"),
    ("opinion",): ("areas", "overall", "proposed_classification", "reason"),
    ("review",): ("supervisor", "date", "decision", "opinion"),
    ("review", "supervisor"): ("name", "id", "certificate", "role"),
}

_PREVIOUS_COMMENT = re.compile(r"^# previous answer file: (?P<path>.+)$", re.MULTILINE)


def _ordered(data: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    order = _ORDER.get(path)
    if order is None and len(path) == 3 and path[0] == "answers":
        order = (
            _ORDER[("answers", "*", "*")] if set(data) <= {"value", "note", "evidence"} else None
        )
    keys = list(data)
    if order is not None:
        keys.sort(key=lambda k: order.index(k) if k in order else len(order))
    return {str(k): _prepare(data[k], (*path, str(k))) for k in keys}


class _Amount(Decimal):
    """A money amount: written with at least two decimals (``1200.50``)."""


def _decimal_text(value: Decimal) -> str:
    """A decimal in one canonical form, however it was typed or read back (``12.5``)."""
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    normal = value.normalize()
    if isinstance(value, _Amount) and normal.as_tuple().exponent in range(-1, 100):
        normal = normal.quantize(Decimal("0.01"))
    text = format(normal, "f")
    return "0" if text in ("-0", "-0.00") and not isinstance(value, _Amount) else text


def _prepare(value: Any, path: tuple[str, ...]) -> Any:
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

    if (
        isinstance(value, Mapping)
        and set(value) == {"amount", "currency"}
        and isinstance(value["amount"], Decimal)
    ):
        value = {**value, "amount": _Amount(value["amount"])}
    if isinstance(value, Mapping):
        return _ordered(value, path)
    if path in (("checklist", "version"),) and isinstance(value, str):
        return DoubleQuotedScalarString(value)
    if isinstance(value, list | tuple):
        return [_prepare(v, (*path, "*")) for v in value]
    if isinstance(value, Decimal) and not isinstance(value, _Amount):
        return Decimal(_decimal_text(value))
    if isinstance(value, dt.datetime):
        return value.date()
    # A literal block keeps line breaks readable (not used when lines end in spaces).
    if (
        isinstance(value, str)
        and "\n" in value
        and all(line == line.rstrip() for line in value.split("\n"))
    ):
        return LiteralScalarString(value)
    return value


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)

    def represent_decimal(representer: Any, value: Decimal) -> Any:
        text = _decimal_text(value)
        if "." not in text:
            # A whole number: written as an integer, read back as the same amount.
            return representer.represent_scalar("tag:yaml.org,2002:int", text)
        return representer.represent_scalar("tag:yaml.org,2002:float", text)

    def represent_date(representer: Any, value: dt.date) -> Any:
        return representer.represent_scalar("tag:yaml.org,2002:timestamp", value.isoformat())

    yaml.representer.add_representer(Decimal, represent_decimal)
    yaml.representer.add_representer(_Amount, represent_decimal)
    yaml.representer.add_representer(dt.date, represent_date)

    def represent_none(representer: Any, value: None) -> Any:
        return representer.represent_scalar("tag:yaml.org,2002:null", "null")

    yaml.representer.add_representer(type(None), represent_none)
    return yaml


def dump_answer_file(
    data: Mapping[str, Any], *, comments: Iterable[str] = (), schema: str | None = SCHEMA_URL
) -> str:
    """``data`` as the YAML text of an answer file.

    ``comments`` are written as ``#`` lines at the top, after the modeline.
    """
    head: list[str] = []
    if schema:
        head.append(f"# yaml-language-server: $schema={schema}")
    for comment in comments:
        for line in comment.splitlines() or [""]:
            head.append(f"# {line}".rstrip())
    stream = io.StringIO()
    _yaml().dump(_ordered(data, ()), stream)
    body = stream.getvalue()
    return "\n".join(head) + ("\n" if head else "") + body


def inspection_dir(inspections: Path, loan_id: str) -> Path:
    """The folder of one loan's answer files."""
    return inspections / safe_name(loan_id)


def final_path(inspections: Path, loan_id: str, date: dt.date) -> Path:
    """``<inspections>/<loan id>/<date>.yaml``."""
    return inspection_dir(inspections, loan_id) / f"{date.isoformat()}.yaml"


def draft_path(inspections: Path, loan_id: str, date: dt.date) -> Path:
    """``<inspections>/<loan id>/<date>.draft.yaml``."""
    return inspection_dir(inspections, loan_id) / f"{date.isoformat()}.draft.yaml"


def draft_comments(path: Path, previous: Path | None) -> list[str]:
    """The header of a draft: what it is and how to continue it."""
    lines = [
        "DRAFT: an interrupted inspection, not an opinion (status: draft).",
        f"Continue it with: postloan inspect --resume {path}",
    ]
    if previous is not None:
        lines.append(f"previous answer file: {previous}")
    return lines


def previous_from_draft(text: str) -> Path | None:
    """The previous answer file a draft was started from (named in its header)."""
    match = _PREVIOUS_COMMENT.search(text)
    return Path(match.group("path").strip()) if match else None


class DraftSaver:
    """Saves an interview's draft atomically after every change.

    The draft's name follows the loan id and inspection date; when either
    changes, the draft moves (the old file is removed after the new one is
    written). Nothing is written until both are known.
    """

    def __init__(
        self, inspections: Path, *, previous: Path | None = None, path: Path | None = None
    ) -> None:
        self.inspections = inspections
        self.previous = previous
        #: The draft written last (or given to resume).
        self.path: Path | None = path
        self.fixed = path is not None
        self.saves = 0
        #: While false nothing is written (the caller has not yet checked the target).
        self.active = True

    def target(self, interview: Interview) -> Path | None:
        if self.fixed:
            return self.path
        loan_id, date = interview.loan_id, interview.inspection_date
        if loan_id is None or date is None:
            return None
        return draft_path(self.inspections, loan_id, date)

    def save(self, interview: Interview) -> Path | None:
        """Write the draft now; returns its path (``None`` before loan id and date are known)."""
        target = self.target(interview)
        if target is None or not self.active:
            return None
        text = dump_answer_file(
            interview.answer_file_dict("draft"),
            comments=draft_comments(target, self.previous),
        )
        atomic_write(target, text, durable=True)
        if self.path is not None and self.path != target:
            self.path.unlink(missing_ok=True)
        self.path = target
        self.saves += 1
        return target

    __call__ = save

    def discard(self) -> None:
        """Remove the draft (after the final file is written)."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
