"""Guards for the fast paths (not timings): the C parser is really in use."""

from __future__ import annotations

from postloan_cli import yamlio


def test_libyaml_parser_is_used() -> None:
    # A silent fallback to the pure-Python parser made every file ~50x slower once.
    assert yamlio.WITH_LIBYAML
    assert yamlio._FastLoader.__mro__[1].__module__ == "yaml._yaml"
