"""What a template may read: the context keys and filters of the code that renders it.

``opinion.*.j2`` (and any other template: partials are included by the
opinion) are rendered by :mod:`postloan_cli.rendering` with
:func:`~postloan_cli.rendering.report_context`; ``summary.*.j2`` by
:mod:`postloan_cli.summary`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

#: Keys of the batch summary's template context (``summary.write_summaries``).
_SUMMARY_KEYS = frozenset(
    {
        "info",
        "inspections",
        "drafts",
        "failures",
        "escalations",
        "severities",
        "classifications",
        "link_format",
    }
)
_SUMMARY_FILTERS = ("md", "url", "label")


def template_kind(path: Path) -> str:
    """``summary`` for the batch summary templates, else ``opinion``."""
    return "summary" if path.name.startswith("summary.") else "opinion"


def context_keys(kind: str) -> frozenset[str]:
    """Top-level names the renderer puts into the context of a ``kind`` template."""
    if kind == "summary":
        from postloan_cli import summary

        keys: Any = getattr(summary, "CONTEXT_KEYS", _SUMMARY_KEYS)
        return frozenset(keys)
    from postloan_cli import rendering

    return frozenset(rendering.CONTEXT_KEYS)


def environment(kind: str) -> ImmutableSandboxedEnvironment:
    """An environment with the filters and globals the renderer of ``kind`` has."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    if kind == "summary":
        from postloan_cli import summary

        for name in _SUMMARY_FILTERS:
            env.filters[name] = getattr(summary, {"md": "md_escape"}.get(name, name), str)
    return env
