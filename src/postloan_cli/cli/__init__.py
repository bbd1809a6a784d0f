"""The ``postloan`` command: a thin layer over the library.

Each command parses its options, calls one library function, prints and
sets the exit code. Command modules import only typer at the top so that
``postloan --help`` stays fast; the work is imported inside each command.
When the command line names a command, only that command's module is
imported and registered (see :func:`main`); ``app`` has them all.

Exit codes: 0 ok; 1 findings or failures (lint errors, failed batch files,
``--fail-on``); 2 usage or input error; 3 internal error (a bug: please
report it).
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

#: Command name -> module under ``postloan_cli.cli``, in the order ``--help`` lists them.
COMMANDS: dict[str, str] = {
    "inspect": "inspect_cmd",
    "batch": "batch_cmd",
    "lint": "lint_cmd",
    "schema": "schema_cmd",
}

_HELP = "Post-loan inspections: checklists, answer files, warning signals and opinions."


def make_app(commands: Iterable[str] = COMMANDS) -> typer.Typer:
    """The typer application with ``commands`` (names from :data:`COMMANDS`) registered."""
    # typer is imported here, not at the top, so that main() can set up the
    # process before the first large import (see main).
    import typer

    from postloan_cli import __version__

    def show_version(value: bool) -> None:
        if value:
            sys.stdout.write(f"postloan {__version__}\n")
            raise typer.Exit(0)

    def root(
        version: bool = typer.Option(
            False,
            "--version",
            callback=show_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ) -> None:
        pass

    root.__doc__ = _HELP
    application = typer.Typer(
        name="postloan",
        help=_HELP,
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        pretty_exceptions_show_locals=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    application.callback()(root)
    for name in commands:
        module = importlib.import_module(f"{__name__}.{COMMANDS[name]}")
        module.register(application)
    return application


def invoked_command(args: Sequence[str]) -> str | None:
    """The command ``args`` starts with, when it is one of ours; else ``None``.

    Anything else (root options such as ``--help`` first, a misspelt
    command) gets the whole application, so help and suggestions list every
    command.
    """
    if args and args[0] in COMMANDS:
        return args[0]
    return None


def __getattr__(name: str) -> typer.Typer:
    # ``app`` (every command) is built on first use: the console script
    # builds just the command it runs (main), tests and embedders use ``app``.
    if name == "app":
        application = make_app()
        globals()["app"] = application
        return application
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Entry point of the ``postloan`` console script.

    The process is short-lived, so the cyclic garbage collector is off while
    the command starts: the imports create some hundred thousand objects that
    live until exit, and collecting them again and again was a tenth of the
    start-up time. Commands that go on to run long (batch, lint, an
    interactive session) turn it back on (``_edge.resume_gc``). At exit
    every object is frozen, so that the interpreter's teardown does not
    traverse them all once more (another sixth of a one-file inspect).
    """
    gc.disable()
    try:
        _run()
    finally:
        gc.freeze()


def _run() -> None:
    from postloan_cli.cli._edge import internal_error

    # pydantic looks for plugins (entry points of every installed package) the
    # first time it builds a validator. postloan uses none, and a plugin that
    # observes validation would see borrower data: off, unless the user says.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    command = invoked_command(sys.argv[1:])
    application = make_app([command]) if command else make_app()
    try:
        application(prog_name="postloan")
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(130)
    except Exception as exc:  # a bug, not a user's mistake: no traceback with bank data
        if os.environ.get("POSTLOAN_DEBUG"):
            raise
        internal_error(exc)
