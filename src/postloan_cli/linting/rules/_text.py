"""Helpers shared by rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from postloan_cli.linting.model import ChecklistFile, DocPath


def texts(ctx: ChecklistFile) -> Iterator[tuple[DocPath, str, Any]]:
    """User-facing texts that must be translated: ``(path, what, text)``."""
    for site in ctx.all_questions:
        question = site.question
        yield (*site.path, "prompt"), f"prompt of '{question.id}'", question.prompt
        if question.help is not None:
            yield (*site.path, "help"), f"help of '{question.id}'", question.help
        for c_index, choice in enumerate(getattr(question, "choices", None) or []):
            yield (
                (*site.path, "choices", c_index, "label"),
                f"label of choice '{choice.id}' of '{question.id}'",
                choice.label,
            )
    for s_index, section in enumerate(ctx.checklist.sections):
        for r_index, rule in enumerate(section.rules):
            base: DocPath = ("sections", s_index, "rules", r_index)
            for key in ("signal", "action", "escalate_to"):
                value = getattr(rule, key)
                if value is not None:
                    yield (*base, key), f"{key} of rule '{rule.id}'", value
