"""The persistent compile cache: hits, damaged files ignored, disabled, unwritable folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from postloan_cli import cache, expressions, rendering
from postloan_cli.errors import InputError
from postloan_cli.evaluation import Evaluation
from postloan_cli.pipeline import evaluate_file

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "answers" / "03-funds-diverted.yaml"
SOURCE = "loan.days_past_due > 30 and pct_change(a, b) is none"


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No compiled expression or template left in this process from other tests."""
    monkeypatch.setattr(cache, "EXPRESSIONS", cache.ExpressionStore())
    expressions.compile_expression.cache_clear()
    rendering.clear_caches()
    yield
    expressions.compile_expression.cache_clear()
    rendering.clear_caches()


def _expression_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("expressions-*.bin"))


def _compile_and_save(source: str = SOURCE) -> expressions.Expression:
    expr = expressions.compile_expression(source)
    expressions.save_compiled()
    return expr


def _namespace() -> dict[str, object]:
    return {**expressions.base_namespace(), "loan": {"days_past_due": 45}, "a": 1, "b": 0}


def test_cache_dir_is_read_at_call_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTLOAN_CACHE_DIR", str(tmp_path / "one"))
    assert cache.cache_dir() == tmp_path / "one"
    monkeypatch.setenv("POSTLOAN_CACHE_DIR", str(tmp_path / "two"))
    assert cache.cache_dir() == tmp_path / "two"
    monkeypatch.delenv("POSTLOAN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "postloan"


def test_expression_hit_skips_compiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: None
) -> None:
    monkeypatch.setenv("POSTLOAN_CACHE_DIR", str(tmp_path))
    first = _compile_and_save()
    assert len(_expression_files(tmp_path)) == 1
    assert first.evaluate(_namespace()) is True

    # A new process: nothing in memory, the file is all there is.
    monkeypatch.setattr(cache, "EXPRESSIONS", cache.ExpressionStore())
    expressions.compile_expression.cache_clear()

    def refuse(*_: object) -> None:
        raise AssertionError("compiled again despite the cache")

    monkeypatch.setattr(expressions, "_compile", refuse)
    monkeypatch.setattr(expressions, "parse", refuse)
    again = expressions.compile_expression(SOURCE)
    assert again.names == first.names
    assert again.attributes == first.attributes
    assert again.evaluate(_namespace()) is True
    assert again.evaluate({**_namespace(), "loan": {"days_past_due": 3}}) is False


def test_expression_run_by_jinja_is_cached_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: None
) -> None:
    # A method call is not covered by the closures: its Jinja2 code is stored.
    source = "loan.get('days_past_due') > 30"
    monkeypatch.setenv("POSTLOAN_CACHE_DIR", str(tmp_path))
    assert _compile_and_save(source).evaluate(_namespace()) is True

    monkeypatch.setattr(cache, "EXPRESSIONS", cache.ExpressionStore())
    expressions.compile_expression.cache_clear()

    def refuse(*_: object) -> None:
        raise AssertionError("compiled again despite the cache")

    monkeypatch.setattr(expressions, "_compile", refuse)
    monkeypatch.setattr(expressions, "parse", refuse)
    again = expressions.compile_expression(source)
    assert again.evaluate(_namespace()) is True
    assert again.evaluate({**_namespace(), "loan": {"days_past_due": 3}}) is False


def test_unusable_blueprint_in_the_cache_is_compiled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: None
) -> None:
    monkeypatch.setenv("POSTLOAN_CACHE_DIR", str(tmp_path))
    source = "loan.days_past_due"
    names = frozenset({"loan"})
    attrs = {"loan": frozenset({"days_past_due"})}
    # What a tampered or foreign cache could hold: an internal, an unknown node.
    for bad in [("getattr", ("name", "loan"), "__class__"), ("no such node", 1)]:
        store = cache.ExpressionStore()
        store.put(source, (names, attrs, bad))
        store.save()
        monkeypatch.setattr(cache, "EXPRESSIONS", cache.ExpressionStore())
        expressions.compile_expression.cache_clear()
        assert expressions.compile_expression(source).evaluate(_namespace()) == 45
        expressions.save_compiled()  # the good blueprint replaces the bad one
        monkeypatch.setattr(cache, "EXPRESSIONS", cache.ExpressionStore())
        entry = cache.EXPRESSIONS.get(source)
        assert entry is not None
        assert entry[2] == ("getattr", ("name", "loan"), "days_past_due")


def test_cache_folder_is_looked_up_again_when_its_setting_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: None
) -> None:
    monkeypatch.setenv("POSTLOAN_CACHE_DIR", str(tmp_path / "one"))
    _compile_and_save()
    monkeypatch.setenv("POSTLOAN_CACHE_DIR", str(tmp_path / "two"))
    _compile_and_save("a + b")
    assert len(_expression_files(tmp_path / "one")) == 1
    assert len(_expression_files(tmp_path / "two")) == 1
    # The second folder holds only what was compiled while it was the setting.
    monkeypatch.setattr(cache, "EXPRESSIONS", cache.ExpressionStore())
    assert cache.EXPRESSIONS.get("a + b") is not None
    assert cache.EXPRESSIONS.get(SOURCE) is None


@pytest.mark.parametrize("damage", [b"", b"garbage", b"\xe3\x00\x00\x00\x01", "truncate"])
def test_damaged_expression_file_is_ignored_and_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: None, damage: bytes | str
) -> None:
    monkeypatch.setenv("POSTLOAN_CACHE_DIR", str(tmp_path))
    _compile_and_save()
    (path,) = _expression_files(tmp_path)
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2] if damage == "truncate" else damage)  # type: ignore[arg-type]

    monkeypatch.setattr(cache, "EXPRESSIONS", cache.ExpressionStore())
    expressions.compile_expression.cache_clear()
    expr = _compile_and_save()
    assert expr.evaluate(_namespace()) is True
    assert path.read_bytes() == good  # rewritten whole


def test_disabled_cache_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: None, mini_eval: Evaluation
) -> None:
    monkeypatch.setenv("POSTLOAN_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.cache_dir() is None
    assert _compile_and_save().evaluate(_namespace()) is True
    assert rendering.render(mini_eval, "md")
    assert list(tmp_path.iterdir()) == []


def test_unusable_cache_dir_is_silently_disabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: None, mini_eval: Evaluation
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("POSTLOAN_CACHE_DIR", str(blocker / "cache"))
    assert cache.cache_dir() is None
    assert _compile_and_save().evaluate(_namespace()) is True
    assert rendering.render(mini_eval, "html").startswith("<!DOCTYPE html>")


def test_read_only_cache_dir_is_silently_disabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: None
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        import os

        if os.access(folder, os.W_OK):
            pytest.skip("running with privileges that ignore permissions")
        monkeypatch.setenv("POSTLOAN_CACHE_DIR", str(folder))
        assert cache.cache_dir() is None
        assert _compile_and_save().evaluate(_namespace()) is True
    finally:
        folder.chmod(0o700)


def test_cache_dir_others_may_write_to_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: None
) -> None:
    # The cache holds compiled code and pickled checklists: a folder anyone
    # may write to could be used to run code as the next user of postloan.
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    monkeypatch.setenv("POSTLOAN_CACHE_DIR", str(folder))
    assert cache.cache_dir() is None
    assert _compile_and_save().evaluate(_namespace()) is True
    assert list(folder.iterdir()) == []
    folder.chmod(0o700)
    assert cache.cache_dir() == folder


def test_new_cache_dir_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTLOAN_CACHE_DIR", str(tmp_path / "new"))
    assert cache.cache_dir() == tmp_path / "new"
    assert (tmp_path / "new").stat().st_mode & 0o077 == 0


@pytest.fixture
def mini_eval() -> Evaluation:
    _, evaluation = evaluate_file(EXAMPLE)
    return evaluation


def test_template_cache_hit_and_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: None, mini_eval: Evaluation
) -> None:
    monkeypatch.setenv("POSTLOAN_CACHE_DIR", str(tmp_path))
    texts = {fmt: rendering.render(mini_eval, fmt) for fmt in ("md", "html")}
    files = sorted((tmp_path / "templates").glob("*.jbc"))
    assert len(files) == 2

    # Hit: the stored code is used (the template is not compiled again).
    rendering.clear_caches()
    from jinja2 import Environment

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("template compiled again despite the cache")

    with monkeypatch.context() as patch:
        patch.setattr(Environment, "compile", refuse)
        assert {fmt: rendering.render(mini_eval, fmt) for fmt in texts} == texts

    # Damaged entries are ignored, the templates compiled and the entries rewritten.
    for path in files:
        path.write_bytes(b"j2 not really bytecode")
    rendering.clear_caches()
    assert {fmt: rendering.render(mini_eval, fmt) for fmt in texts} == texts
    assert all(path.read_bytes() != b"j2 not really bytecode" for path in files)


def test_user_templates_do_not_share_entries_with_shipped_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: None, mini_eval: Evaluation
) -> None:
    monkeypatch.setenv("POSTLOAN_CACHE_DIR", str(tmp_path / "cache"))
    user = tmp_path / "templates"
    user.mkdir()
    (user / "opinion.md.j2").write_text("{{ loan.__class__ }}\n")
    rendering.render(mini_eval, "html")
    # The shipped html template, reached through a user folder, runs sandboxed.
    assert rendering.render(mini_eval, "html", template_dirs=[user]).startswith("<!DOCTYPE")
    with pytest.raises(InputError) as caught:
        rendering.render(mini_eval, "md", template_dirs=[user])
    assert caught.value.problems[0].code == "PL400"
