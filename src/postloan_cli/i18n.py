"""Languages: choosing the text for a language, with a fallback that is never empty."""

from __future__ import annotations

from collections.abc import Mapping

from postloan_cli.models import Text


def localize(text: Text | None, lang: str, default: str = "en") -> str:
    """``text`` in ``lang``; else the checklist's default language; else any language.

    A missing translation falls back, never to an empty string (unless the
    text itself is absent).
    """
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    for candidate in (lang, lang.split("-")[0], default):
        value = text.get(candidate)
        if value:
            return value
    for value in text.values():
        if value:
            return value
    return ""


def languages_of(text: Text | None) -> set[str]:
    """The languages ``text`` is given in (a plain string counts as every language)."""
    if text is None or isinstance(text, str):
        return set()
    return {k for k, v in text.items() if v}


def pick_language(requested: str | None, available: list[str], default: str) -> str:
    """The report language: the requested one (even if partly translated), else the default."""
    return requested or default


def label_map(items: Mapping[str, Text], lang: str, default: str) -> dict[str, str]:
    """Localize every text of a mapping."""
    return {key: localize(value, lang, default) for key, value in items.items()}
