"""Texts given per language cover every language the checklist declares.

A checklist declares its ``languages``; a prompt, help text, choice label or
warning rule text given as a per-language mapping must have all of them,
or the officer working in that language sees another language's text. A
plain string is language-neutral (a name, a code) and is not checked.

Fails:

    languages: [en, es]
    ...
        prompt: {en: Funds used as contracted?}

Passes:

    languages: [en, es]
    ...
        prompt: {en: Funds used as contracted?, es: ¿Fondos usados según el contrato?}
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.linting.model import ChecklistFile, Finding
from postloan_cli.linting.rules._text import texts

CODE = "CL205"
NAME = "missing-translation"
LEVEL = "warning"
SCOPE = "checklist"


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    declared = ctx.checklist.languages
    for path, what, text in texts(ctx):
        if not isinstance(text, dict):
            continue
        missing = [lang for lang in declared if not text.get(lang)]
        if missing:
            yield Finding(f"{what} is missing in {', '.join(missing)}", path)
