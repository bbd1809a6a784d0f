"""Every template compiles.

A template with a syntax error or an unknown filter fails every report
that uses it; lint finds it on the pull request that introduces it.

Fails:

    {% if summary.differs %}Proposed: {{ summary.proposed }}

Passes:

    {% if summary.differs %}Proposed: {{ summary.proposed }}{% endif %}
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.linting.model import Finding, TemplateFile
from postloan_cli.linting.templates import environment, template_kind

CODE = "CL401"
NAME = "template-syntax"
LEVEL = "error"
SCOPE = "template"


def check(tpl: TemplateFile) -> Iterator[Finding]:
    from jinja2 import TemplateSyntaxError

    env = environment(template_kind(tpl.path))
    try:
        env.compile(tpl.text, tpl.path.name, tpl.display)
    except TemplateSyntaxError as exc:
        yield Finding(
            f"template does not compile: {exc.message or 'syntax error'}",
            line=exc.lineno or 1,
            column=1,
        )
