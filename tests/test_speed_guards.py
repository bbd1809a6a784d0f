"""Guards for the fast paths (not timings): what each command imports and builds.

Start-up is most of what a one-file ``postloan inspect`` costs; each guard
pins one thing that once made it slower. They run the console entry point
(``postloan_cli.cli.main``) in a fresh interpreter, as the shell does, and
look at what that process imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import EXAMPLES, ROOT
from postloan_cli import yamlio

EXAMPLE = EXAMPLES / "01-healthy-working-capital.yaml"

_PROBE = """
import gc, json, sys
report_path = sys.argv[2]
sys.argv = ["postloan", *json.loads(sys.argv[1])]
from postloan_cli.cli import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
models = sys.modules.get("postloan_cli.models")
with open(report_path, "w") as report:
    json.dump({
        "code": code,
        "modules": sorted(sys.modules),
        "gc_enabled": gc.isenabled(),
        "built": sorted(
            name for name in ("AnswerFile", "Checklist")
            if models is not None and getattr(models, name).__pydantic_complete__
        ),
    }, report)
"""


def _probe(tmp_path: Path, *args: str, cache: Path | None = None) -> dict[str, Any]:
    """Run ``postloan ARGS`` in a fresh interpreter; what it imported and built."""
    report = tmp_path / "probe.json"
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "POSTLOAN_CACHE_DIR": str(cache) if cache else "off",
        "PYTHONPATH": str(ROOT / "src"),
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args), str(report)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(report.read_text())
    return result


def _imported(result: dict[str, Any], *packages: str) -> list[str]:
    return [
        name
        for name in result["modules"]
        if any(name == p or name.startswith(p + ".") for p in packages)
    ]


def test_libyaml_parser_is_used() -> None:
    # A silent fallback to the pure-Python parser made every file ~50x slower once.
    assert yamlio.with_libyaml()
    assert yamlio._pyyaml().Loader.__mro__[1].__module__ == "yaml._yaml"


def test_help_imports_typer_only(tmp_path: Path) -> None:
    result = _probe(tmp_path, "--help")
    assert result["code"] == 0
    heavy = ("rich", "jinja2", "babel", "pydantic", "yaml", "postloan_cli.pipeline")
    assert _imported(result, *heavy) == []


def test_one_file_inspect_imports_only_its_command(tmp_path: Path) -> None:
    result = _probe(tmp_path, "inspect", "--answers", str(EXAMPLE), "-o", str(tmp_path / "out"))
    assert result["code"] == 0
    assert (tmp_path / "out" / f"{EXAMPLE.stem}.md").exists()
    # The summary is plain text; the other commands and the interview stay unloaded.
    unused = (
        "rich",
        "prompt_toolkit",
        "postloan_cli.interactive",
        "postloan_cli.cli.batch_cmd",
        "postloan_cli.cli.lint_cmd",
        "postloan_cli.cli.schema_cmd",
        "postloan_cli.linting",
        "postloan_cli.batch",
    )
    assert _imported(result, *unused) == []


def test_warm_cache_skips_validating_the_checklist(tmp_path: Path) -> None:
    args = ("inspect", "--answers", str(EXAMPLE), "-o", str(tmp_path / "out"), "-f", "md")
    cold = _probe(tmp_path, *args, cache=tmp_path / "cache")
    assert cold["built"] == ["AnswerFile", "Checklist"]
    # Second run: the checklist comes validated from the compile cache, so
    # its (large) validator is never built; only the answer file is checked.
    warm = _probe(tmp_path, *args, cache=tmp_path / "cache")
    assert warm["code"] == 0
    assert warm["built"] == ["AnswerFile"]


def test_long_commands_collect_garbage(tmp_path: Path) -> None:
    # Start-up runs without the cyclic collector; a batch over thousands of
    # files must not (its memory would grow with every cycle left behind).
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / EXAMPLE.name).write_bytes(EXAMPLE.read_bytes())
    result = _probe(tmp_path, "batch", str(folder), "-o", str(tmp_path / "out"), "--jobs", "1")
    assert result["code"] == 0
    assert result["gc_enabled"]
