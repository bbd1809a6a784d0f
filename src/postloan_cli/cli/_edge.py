"""The edge: problems become text on stderr and an exit code, once."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable
from typing import NoReturn

import typer

from postloan_cli.errors import EXIT_INPUT, Problem

EXIT_INTERNAL = 3


def print_problems(problems: Iterable[Problem]) -> None:
    """One line per problem on stderr: ``file:line:col: level CODE message``."""
    for problem in problems:
        sys.stderr.write(problem.format().replace("\n", " ") + "\n")


def fail(problems: Iterable[Problem], code: int = EXIT_INPUT) -> NoReturn:
    """Print ``problems`` and exit with ``code`` (2: input error, by default)."""
    print_problems(problems)
    raise typer.Exit(code)


def usage(message: str) -> NoReturn:
    """A usage error: one line, exit 2."""
    sys.stderr.write(f"postloan: error: {message}\n")
    raise typer.Exit(EXIT_INPUT)


def internal_error(exc: BaseException) -> NoReturn:
    """A bug: say so in one line, without a traceback that could hold borrower data."""
    sys.stderr.write(
        f"postloan: internal error ({type(exc).__name__}); this is a bug, please report it. "
        "Set POSTLOAN_DEBUG=1 to see the details.\n"
    )
    sys.exit(EXIT_INTERNAL)


# C0 and C1 control characters (escape sequences, carriage returns, bells)
# from answer files and checklists must not reach the terminal as such.
_CONTROLS = {code: "\ufffd" for code in (*range(0x20), *range(0x7F, 0xA0)) if code != 0x0A}
_CONTROLS[0x09] = " "


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters shown as U+FFFD, tabs as spaces."""
    return text.translate(_CONTROLS)


def resume_gc() -> None:
    """Turn the garbage collector back on before work that may run long.

    ``main`` keeps the cyclic collector off while a command starts (see
    :func:`postloan_cli.cli.main`). A command that then works through many
    files or an interactive session calls this first: what exists now (the
    imported code, mostly) is frozen, never to be traversed again (nor
    copied into forked workers by the collector's writes), and collection
    resumes for what the work creates. Nothing to do when it was not off
    (tests, library use).
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def console(stderr: bool = False):  # type: ignore[no-untyped-def]
    """A rich console honouring NO_COLOR and TERM=dumb (rich does both)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)
