"""JSON Schemas of checklists and answer files, for editors and other tools.

Generated from the pydantic models and adjusted to draft-07, the dialect
yaml-language-server (the VS Code YAML plugin) understands: ``$defs``
become ``definitions`` and a ``$ref`` never has siblings (draft-07 ignores
them, so a description beside a reference is moved into an ``allOf``).
The committed copies in ``schemas/`` are checked against these by a test.
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_FILES = {"checklist": "checklist.schema.json", "answers": "answers.schema.json"}


def schema(kind: str) -> dict[str, Any]:
    """The draft-07 JSON Schema for ``kind`` (``checklist`` or ``answers``)."""
    from postloan_cli.models import AnswerFile, Checklist

    model: type[Checklist] | type[AnswerFile] = Checklist if kind == "checklist" else AnswerFile
    raw = model.model_json_schema(ref_template="#/definitions/{model}")
    raw = _draft07(raw)
    raw["definitions"] = raw.pop("$defs", {})
    result: dict[str, Any] = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": f"https://postloan.invalid/schemas/{SCHEMA_FILES[kind]}",
    }
    result.update(raw)
    return result


def schema_text(kind: str) -> str:
    """:func:`schema` as indented JSON text with a final newline."""
    return json.dumps(schema(kind), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def _draft07(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _draft07(v) for k, v in node.items()}
        if "$ref" in out and len(out) > 1:
            ref = out.pop("$ref")
            out["allOf"] = [{"$ref": ref}]
        if "const" in out and "enum" not in out:
            out["enum"] = [out["const"]]
        if "discriminator" in out:
            out.pop("discriminator")
        return out
    if isinstance(node, list):
        return [_draft07(v) for v in node]
    return node
