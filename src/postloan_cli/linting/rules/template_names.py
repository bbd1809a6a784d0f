"""A template reads only names its renderer provides.

Templates render with ``StrictUndefined``: a misspelt top-level name
(``loans.id`` for ``loan.id``) fails every report. The opinion templates
may read the keys of :func:`postloan_cli.rendering.report_context`
(``lang``, ``labels``, ``document``, ``loan``, ``inspection``, ``summary``,
``sections``, ``signals``, ``actions``, ``opinion``, ``review``) and Jinja's
globals; names a template sets itself (``set``, ``for``, macros) are fine.

Fails:

    # {{ borrower.name }}

Passes:

    # {{ loan.borrower }}
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from postloan_cli.linting.model import Finding, TemplateFile
from postloan_cli.linting.templates import environment, template_kind

CODE = "CL402"
NAME = "template-unknown-name"
LEVEL = "error"
SCOPE = "template"


def check(tpl: TemplateFile) -> Iterator[Finding]:
    from jinja2 import TemplateSyntaxError, meta, nodes

    env = environment(template_kind(tpl.path))
    try:
        ast = env.parse(tpl.text)
        undeclared = meta.find_undeclared_variables(ast)
    except TemplateSyntaxError:
        return  # CL401 reports it
    unknown = undeclared - tpl.known - set(env.globals)
    if not unknown:
        return
    first: dict[str, int] = {}
    for node in ast.find_all(nodes.Name):
        if node.name in unknown and node.ctx == "load":
            first[node.name] = min(first.get(node.name, node.lineno), node.lineno)
    lines = tpl.text.splitlines()
    for name in sorted(unknown, key=lambda n: (first.get(n, 1), n)):
        line = first.get(name, 1)
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        match = re.search(rf"(?<![\w.]){re.escape(name)}\b", text)
        yield Finding(
            f"'{name}' is not in the template context; known names: "
            + ", ".join(sorted(tpl.known)),
            line=line,
            column=match.start() + 1 if match else 1,
        )
