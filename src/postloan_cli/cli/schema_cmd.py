"""``postloan schema``: print the JSON Schema of checklists or answer files."""

from __future__ import annotations

import sys
from enum import StrEnum

import typer


class Kind(StrEnum):
    checklist = "checklist"
    answers = "answers"


def schema(
    kind: Kind = typer.Argument(..., help="Which schema: checklist or answers."),
) -> None:
    """Print the JSON Schema (draft-07) of checklists or answer files."""
    from postloan_cli.schemas import schema_text

    sys.stdout.write(schema_text(kind.value))


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
