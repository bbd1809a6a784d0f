"""The default language is one of the declared languages.

Texts fall back to the default language when a translation is missing; a
default the checklist does not declare (``default_language: en`` with
``languages: [es]``) makes that fallback read texts that do not exist.

Fails:

    default_language: en
    languages: [es, zh]

Passes:

    default_language: es
    languages: [es, zh]
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.linting.model import ChecklistFile, Finding

CODE = "CL206"
NAME = "default-language"
LEVEL = "error"
SCOPE = "checklist"


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    cl = ctx.checklist
    if cl.default_language not in cl.languages:
        explicit = "default_language" in ctx.document.data
        yield Finding(
            f"default language '{cl.default_language}' is not among the declared languages "
            f"({', '.join(cl.languages)})",
            ("default_language",) if explicit else ("languages",),
        )
