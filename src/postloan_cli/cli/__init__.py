"""The ``postloan`` command: a thin layer over the library.

Each command parses its options, calls one library function, prints and
sets the exit code. Command modules import only typer at the top so that
``postloan --help`` stays fast; the work is imported inside each command.

Exit codes: 0 ok; 1 findings or failures (lint errors, failed batch files,
``--fail-on``); 2 usage or input error; 3 internal error (a bug: please
report it).
"""

from __future__ import annotations

import os
import sys

import typer

from postloan_cli import __version__
from postloan_cli.cli import batch_cmd, inspect_cmd, lint_cmd, schema_cmd

app = typer.Typer(
    name="postloan",
    help="Post-loan inspections: checklists, answer files, warning signals and opinions.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"postloan {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Post-loan inspections: checklists, answer files, warning signals and opinions."""


for _module in (inspect_cmd, batch_cmd, lint_cmd, schema_cmd):
    _module.register(app)


def main() -> None:
    """Entry point of the ``postloan`` console script."""
    from postloan_cli.cli._edge import internal_error

    try:
        app(prog_name="postloan")
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(130)
    except Exception as exc:  # a bug, not a user's mistake: no traceback with bank data
        if os.environ.get("POSTLOAN_DEBUG"):
            raise
        internal_error(exc)
