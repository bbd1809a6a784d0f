"""Problems are values with a location; they are rendered once, at the edge.

Every user mistake (a broken YAML file, an answer of the wrong type, an
unknown checklist version) becomes a :class:`Problem`. Library functions
return problems or raise :class:`InputError` carrying them; only the CLI
turns them into text and an exit code.

Codes are stable: tools, CI logs and the documentation refer to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

Level = Literal["error", "warning"]

# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT = 2

#: Stable problem codes for input files. Lint rules have their own (``CL...``).
CODES: dict[str, str] = {
    "PL100": "file cannot be read (missing, a folder, or no permission)",
    "PL101": "file is larger than the size limit",
    "PL102": "file is not UTF-8 text",
    "PL103": "file is empty",
    "PL104": "YAML syntax error",
    "PL105": "duplicate key in a mapping",
    "PL106": "YAML aliases expand beyond the limit (alias bomb)",
    "PL107": "document is not a single YAML mapping",
    "PL200": "checklist does not match the checklist format",
    "PL201": "expression does not parse",
    "PL202": "expression names something the checklist does not define",
    "PL203": "expression reaches for Python internals (refused by the sandbox)",
    "PL204": "duplicate id in a checklist",
    "PL205": "checklist id or version not found",
    "PL206": "expression failed while evaluating",
    "PL300": "answer file does not match the answer-file format",
    "PL301": "unknown section id",
    "PL302": "unknown question id",
    "PL303": "required answer missing",
    "PL304": "choice is not among the question's options",
    "PL305": "answer has the wrong type or is out of bounds",
    "PL306": "answer given to a question whose condition is false (ignored)",
    "PL307": "proposed classification is better than the suggested one without a reason",
    "PL308": "loan type not defined by the checklist",
    "PL309": "answer file is a draft: it cannot be rendered as an opinion",
    "PL400": "template cannot be loaded or rendered",
    "PL401": "output cannot be written",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding about one file, with the best location known."""

    code: str
    message: str
    file: str | None = None
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    level: Level = "error"
    #: Where in the document, as a path of keys and indexes (used to find line/column).
    path: tuple[str | int, ...] = field(default=(), compare=False)

    def at(self, file: str | None, line: int | None, column: int | None) -> Problem:
        """Return a copy placed at ``file:line:column``."""
        return replace(self, file=file, line=line, column=column)

    def format(self) -> str:
        """``file:line:col: level CODE message``, omitting what is unknown."""
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.level} {self.code} {self.message}"


class InputError(Exception):
    """Raised by library functions when the input cannot be used at all."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("; ".join(p.format() for p in self.problems))
