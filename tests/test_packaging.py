"""The built wheel works on its own: installed in a fresh venv, run from another folder.

Checklists, templates and schemas must ship inside the package; this is
the test that catches a file left out of the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import CORE, ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
    )
    (built,) = out.glob("postloan-*.whl")
    return built


def test_wheel_ships_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "postloan_cli/_data/templates/opinion.html.j2" in names
    assert "postloan_cli/_data/templates/opinion.md.j2" in names
    assert "postloan_cli/_data/checklists/post-loan-standard/1.0.0.yaml" in names
    assert "postloan_cli/_data/schemas/checklist.schema.json" in names


@pytest.mark.skipif(os.environ.get("POSTLOAN_SKIP_VENV") == "1", reason="asked to skip")
def test_installed_wheel_runs_from_another_folder(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)], check=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    example = next((ROOT / "examples" / "answers").glob("*.yaml"))
    shutil.copy(example, work / "answers.yaml")
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["NO_COLOR"] = "1"
    postloan = str(bin_dir / "postloan")
    version = subprocess.run(
        [postloan, "--version"], capture_output=True, text=True, cwd=work, env=env, check=True
    )
    assert version.stdout.startswith("postloan ")
    result = subprocess.run(
        [postloan, "inspect", "--answers", "answers.yaml", "--output", "out"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert (work / "out" / "answers.md").read_text().strip()
    assert "<!DOCTYPE html>" in (work / "out" / "answers.html").read_text()
    module = subprocess.run(
        [str(bin_dir / "python"), "-m", "postloan_cli", "schema", "answers"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        check=True,
    )
    assert '"$schema": "http://json-schema.org/draft-07/schema#"' in module.stdout
    # A user's own checklist folder is searched before the shipped one.
    shutil.copytree(CORE / "checklists", work / "mine")
    shutil.copy(CORE / "answers" / "good.yaml", work / "mini.yaml")
    own = subprocess.run(
        [postloan, "inspect", "--answers", "mini.yaml", "--checklists", "mine", "-o", "out"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
    )
    assert own.returncode == 0, own.stderr
