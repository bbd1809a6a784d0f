"""The committed JSON Schemas match the models, and shipped files validate against them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from postloan_cli import yamlio
from postloan_cli.schemas import SCHEMA_FILES, schema_text

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
CHECKLISTS = sorted((ROOT / "checklists").glob("*/*.yaml"))
EXAMPLES = sorted((ROOT / "examples" / "answers").glob("*.yaml"))

jsonschema = pytest.importorskip("jsonschema")


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_committed_schema_matches_the_models(kind: str) -> None:
    committed = (SCHEMAS / SCHEMA_FILES[kind]).read_text(encoding="utf-8")
    assert committed == schema_text(kind), (
        f"schemas/{SCHEMA_FILES[kind]} drifted from the models; regenerate it with "
        f"'postloan schema {kind} > schemas/{SCHEMA_FILES[kind]}'"
    )


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_schema_is_valid_draft07(kind: str) -> None:
    schema = json.loads((SCHEMAS / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)


def _validator(kind: str) -> object:
    schema = json.loads((SCHEMAS / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def _json_ready(value: object) -> object:
    return json.loads(json.dumps(value, default=str))


@pytest.mark.skipif(not CHECKLISTS, reason="no shipped checklists yet")
@pytest.mark.parametrize("path", CHECKLISTS, ids=lambda p: p.parent.name + "/" + p.name)
def test_shipped_checklists_validate_and_carry_the_modeline(path: Path) -> None:
    validator = _validator("checklist")
    data = _json_ready(yamlio.load(path).data)
    errors = [e.message for e in validator.iter_errors(data)]  # type: ignore[attr-defined]
    assert errors == []
    head = path.read_text(encoding="utf-8").splitlines()[:5]
    assert any(
        line.startswith("# yaml-language-server: $schema=") and "checklist.schema.json" in line
        for line in head
    )


@pytest.mark.skipif(not EXAMPLES, reason="no example answer files yet")
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_answer_files_validate(path: Path) -> None:
    validator = _validator("answers")
    data = _json_ready(yamlio.load(path).data)
    errors = [e.message for e in validator.iter_errors(data)]  # type: ignore[attr-defined]
    assert errors == []


def test_schema_rejects_a_misspelt_key() -> None:
    validator = _validator("checklist")
    data = {
        "id": "x",
        "version": "1.0.0",
        "title": "X",
        "loan_types": [],
        "sections": [],
        "titel": "typo",
    }
    assert list(validator.iter_errors(data))  # type: ignore[attr-defined]
