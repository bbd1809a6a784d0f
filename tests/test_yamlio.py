"""Reading untrusted YAML: one meaning (YAML 1.2), refusals with locations."""

from __future__ import annotations

import math
import os
import random
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import EXAMPLES, ROOT
from postloan_cli import yamlio
from postloan_cli.errors import InputError


def _problem(text: str | bytes, tmp_path: Path) -> tuple[str, int | None, int | None]:
    path = tmp_path / "f.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InputError) as info:
        yamlio.load(path)
    (problem,) = info.value.problems
    assert problem.file == str(path)
    return problem.code, problem.line, problem.column


def test_yaml_12_meaning() -> None:
    data = yamlio.parse(
        "a: yes\nb: no\nc: on\nd: 0755\ne: 0o17\nf: 2026-01-02\ng: ~\nh: 1e3\n", "x"
    )
    assert data == {
        "a": "yes",
        "b": "no",
        "c": "on",
        "d": 755,
        "e": 15,
        "f": "2026-01-02",
        "g": None,
        "h": 1000.0,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: [1\n", ("PL104", 2, 1)),
        ("a: 1\nb: 2\na: 3\n", ("PL105", 3, 1)),
        ("", ("PL103", 1, 1)),
        ("# only a comment\n\n", ("PL103", 1, 1)),
        ("- 1\n- 2\n", ("PL107", 1, 1)),
        ("a: 1\n---\nb: 2\n", ("PL107", 2, 1)),
        ("a: !!python/object/apply:os.system [ls]\n", ("PL104", 1, 4)),
        (b"a: caf\xe9\n", ("PL102", 1, 7)),
        # a BOM is not counted as a column, and moves no later line
        (b"\xef\xbb\xbfa: caf\xe9\n", ("PL102", 1, 7)),
        (b"\xef\xbb\xbfa: ok\nb: \xff\n", ("PL102", 2, 4)),
    ],
)
def test_refusals(text: str | bytes, expected: tuple[str, int, int], tmp_path: Path) -> None:
    assert _problem(text, tmp_path) == expected


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    code, _, _ = _problem("\n".join(lines) + "\n", tmp_path)
    assert code == "PL106"


def test_small_aliases_are_fine() -> None:
    assert yamlio.parse("base: &b {x: 1}\nother: *b\n", "x") == {
        "base": {"x": 1},
        "other": {"x": 1},
    }


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 200 + "\n")
    with pytest.raises(InputError) as info:
        yamlio.load(path, max_bytes=100)
    assert info.value.problems[0].code == "PL101"
    assert "limit is 100 bytes" in info.value.problems[0].message


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        yamlio.load(tmp_path / "nope.yaml")
    assert info.value.problems[0].code == "PL100"
    with pytest.raises(InputError) as info:
        yamlio.load(tmp_path)
    assert info.value.problems[0].code == "PL100"


def _read(path: Path, max_bytes: int) -> bytes | tuple[str, str]:
    try:
        return yamlio.read_bytes(path, max_bytes=max_bytes, display="f")
    except InputError as exc:
        (problem,) = exc.problems
        return problem.code, problem.message


def test_read_bytes_reads_a_file_whole_as_it_is_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    for content in (b"", b"a", b"a: 1\r\nb: caf\xc3\xa9\r\n", b"\xef\xbb\xbfa: 1\n", b"x" * 100):
        path.write_bytes(content)
        assert _read(path, 100) == content
        link = tmp_path / "link.yaml"
        link.unlink(missing_ok=True)
        link.symlink_to(path)
        assert _read(link, 100) == content
    path.write_bytes(b"x" * 101)
    assert _read(path, 100) == ("PL101", "file is 101 bytes; the limit is 100 bytes")


@pytest.mark.parametrize("size", [20, 100, 101, 300])
def test_read_bytes_never_cuts_a_file_that_grew_after_its_size_was_read(
    size: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file is read whole as long as it is within the limit, then refused.
    path = tmp_path / "f.yaml"
    path.write_bytes(b"x" * size)
    real_fstat = os.fstat

    def stale_fstat(fd: int) -> os.stat_result:  # the size before the file grew
        stat = real_fstat(fd)
        return os.stat_result((stat.st_mode, *stat[1:6], 10, *stat[7:10]))

    monkeypatch.setattr(os, "fstat", stale_fstat)
    expected = b"x" * size if size <= 100 else ("PL101", "file is larger than 100 bytes")
    assert _read(path, 100) == expected


def test_read_bytes_names_what_it_cannot_read(tmp_path: Path) -> None:
    assert _read(tmp_path / "nope.yaml", 100) == ("PL100", "no such file")
    assert _read(tmp_path, 10**9) == ("PL100", "is a folder, not a file")
    (tmp_path / "file").write_text("a: 1\n")
    assert _read(tmp_path / "file" / "x.yaml", 100) == ("PL100", "cannot be read: Not a directory")


def _decoded_as_before(raw: bytes) -> str | tuple[int, int, str]:
    """What decoding was first written as: the ``utf-8-sig`` codec, columns after the BOM."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
        start = exc.start + bom
        before = raw[:start]
        line = before.count(b"\n") + 1
        column = start - (before.rfind(b"\n") + 1) + 1 - (bom if line == 1 else 0)
        return line, column, f"is not UTF-8 text (byte 0x{raw[start]:02x}); save it as UTF-8"


def test_decoding_gives_the_text_or_the_bad_byte_as_the_utf8_sig_codec_does() -> None:
    rng = random.Random(3)
    pieces = [
        b"a",
        b"\n",
        b": ",
        "é中€😀".encode(),
        b"\xef\xbb\xbf",
        b"\xff",
        b"\xc3",
        b"\xe2\x82",
        b"\xed\xa0\x80",
    ]
    for _ in range(3000):
        raw = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        expected = _decoded_as_before(raw)
        try:
            outcome: str | tuple[int, int, str] = yamlio.decode(raw, "f")
        except InputError as exc:
            (problem,) = exc.problems
            assert (problem.code, problem.file) == ("PL102", "f")
            assert problem.line is not None and problem.column is not None
            outcome = (problem.line, problem.column, problem.message)
        assert outcome == expected, raw


def test_locate_walks_keys_and_indexes() -> None:
    text = "a:\n  b:\n    - x: 1\n    - y: 2\n"
    assert yamlio.locate(text, ("a", "b", 1, "y")) == (4, 10)
    assert yamlio.locate(text, ("a", "b", 1, "y"), key=True) == (4, 7)
    # Elements that are not in the document (a discriminator tag) are skipped.
    assert yamlio.locate(text, ("a", "yes_no", "b", 0, "x")) == (3, 10)


# --- the fast path (yaml-rs) and the PyYAML path read every file the same ---------


def _slow(text: str) -> tuple[str, Any]:
    """What the PyYAML path makes of ``text``: ("ok", data) or ("error", code)."""
    saved = yamlio._yaml_rs
    yamlio._yaml_rs = None
    try:
        return "ok", yamlio.parse(text, "f")
    except InputError as exc:
        return "error", exc.problems[0].code
    finally:
        yamlio._yaml_rs = saved


def _shape(value: Any) -> Any:
    """``value`` with types spelled out, so that 1, 1.0 and True differ; NaN equals NaN."""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, dict):
        return ("dict", [(_shape(k), _shape(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_shape(v) for v in value])
    return (type(value).__name__, value)


def _block_style(text: str) -> str | None:
    kind, data = _slow(text)
    if kind != "ok":
        return None
    return yaml.safe_dump(data, allow_unicode=True, default_flow_style=False, sort_keys=False)


def _corpus() -> list[str]:
    files = sorted(EXAMPLES.glob("*.yaml")) + sorted((ROOT / "checklists").rglob("*.yaml"))
    texts = [p.read_text(encoding="utf-8") for p in files]
    # postloan writes block style: make sure the fast path is exercised on every file
    return texts + [b for b in map(_block_style, texts) if b]


def test_fast_path_is_used_for_block_style_and_simple_flow_files() -> None:
    assert yamlio._yaml_rs is not None, "yaml-rs is a dependency: install it"
    for text in _corpus():
        if "[" not in text and "{" not in text:
            assert yamlio._fast_parse(text) is not None
    # hand-written answer files: one-line lists of evidence, money as {amount, currency}
    for example in sorted(EXAMPLES.glob("*.yaml")):
        assert yamlio._fast_parse(example.read_text(encoding="utf-8")) is not None


_MUTATIONS = [
    *":-?#&*!|>'\"%\t \n\\0123456789._+eExXoObB~",
    "\n  ",
    "\n- ",
    ": ",
    "- ",
    "...",
    "---",
    "1_0",
    "|-\n",
    ">+\n",
    "\r\n",
    "\u3000",
    "\u00a0",
    "\\u00e9",
    "null",
    "yes",
    ".5",
]


def _mutated(
    rng: random.Random, text: str, mutations: Sequence[str], *, most: int, inserts: float
) -> str:
    """``text`` with up to ``most`` edits: a snippet of ``mutations`` inserted, or 1-3 chars cut."""
    for _ in range(rng.randint(0, most)):
        at = rng.randrange(len(text) + 1)
        if rng.random() < inserts:
            text = text[:at] + rng.choice(mutations) + text[at:]
        else:
            text = text[:at] + text[at + rng.randint(1, 3) :]
    return text


def test_fast_and_pyyaml_paths_agree_on_real_and_mutated_files() -> None:
    # A differential check: every text the fast path accepts must mean the same
    # to PyYAML. (Run with many more seeds when yaml-rs or the screen changes.)
    corpus = _corpus()
    checked = 0
    for seed in range(1500):
        rng = random.Random(seed)
        text = rng.choice(corpus)
        text = _mutated(rng, text, _MUTATIONS, most=3, inserts=0.6)
        fast = yamlio._fast_parse(text)
        if fast is None:
            continue
        checked += 1
        kind, slow = _slow(text)
        assert kind == "ok", f"seed {seed}: only the fast path accepts this file"
        assert _shape(fast) == _shape(slow), f"seed {seed}: the two paths read it differently"
    assert checked > 300  # the fast path really ran


@pytest.mark.parametrize(
    "text",
    [
        "a: !!str 5\n",  # tag
        "a: &x 1\nb: 2\n",  # anchor
        "a: *x\n",  # alias
        "? a\n: 1\n",  # explicit key
        "%YAML 1.2\n---\na: 1\n",  # directive
        "a: 1\n---\nb: 2\n",  # a second document
        "a:\n- - 1\n",  # chained indicators
        "a:\n- :\n",  # an empty key
        "a: 1_000\n",  # a number to yaml-rs only
        "a: 0X1F\n",
        "a: 0b101\n",
        "a: +0x1F\n",
        "a: .iNf\n",
        "a: {b: [1]}\n",  # flow collections other than simple one-line ones
        "a: [1,\n  2]\n",
        "a: {b: 1, ?c: 2}\n",
        "a: [x]y\n",
        "a: b{c\n",
        "a: [-1, 2]\n",
        "a: {b: 'x' }z\n",
        "a: x\n\t\n",  # a tab
        "a: x\x07y\n",  # a control character
        "a: x\u2028y\n",  # a line break in YAML 1.1 only
        "a: x\ud800y\n",  # a lone surrogate (a str made in Python, never read from a file)
        "a:\n" + " " * 100 + "b: 1\n",  # deep indentation
        "a:\n  b:\n" + " " * 130 + "c: 1\n",
    ],
)
def test_constructs_read_differently_go_to_pyyaml(text: str) -> None:
    assert yamlio._fast_parse(text) is None


def test_indentation_short_of_the_limit_takes_the_fast_path() -> None:
    text = "a:\n" + " " * 99 + "b: 1\nc: '" + " " * 120 + "'\n"
    assert yamlio._fast_parse(text) == {"a": {"b": 1}, "c": " " * 120}


def test_deep_nesting_never_crashes_the_process() -> None:
    # yaml-rs recurses on its native stack: ~10,000 chained levels would crash
    # the whole process (no exception to catch). The screen must send them away.
    script = (
        "import sys\n"
        "from postloan_cli import yamlio\n"
        "from postloan_cli.errors import InputError\n"
        "for unit in ('- ', '? ', ': ', '- ? ', '-  '):\n"
        "    try:\n"
        "        yamlio.parse('a:\\n' + unit * 60000 + '1\\n', 'f')\n"
        "    except InputError as exc:\n"
        "        print(exc.problems[0].code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.split() and all(code.startswith("PL") for code in done.stdout.split())


_FLOW_ATOMS = [
    *("a", "b c", "1", "1.5", "-1", "0x1F", "1e3", ".5", "true", "no", "null", "~"),
    *("2026-01-01", "a'b", "'q'", '"q"', "'it''s'", '"a\\"b"', '"x,y"', "中文", "a/b"),
    *("a b ", "12:30", "a:b", "http://x", "5%", "&a", "*a", "!a", "?a", "-a", "...", ""),
]


def test_simple_flow_collections_read_the_same() -> None:
    # One-line flow collections take the fast path: both parsers must agree on
    # every one the fast path accepts (tricky scalars included).
    rng = random.Random(7)
    checked = 0
    for _ in range(3000):
        if rng.random() < 0.5:
            items = ", ".join(
                f"{rng.choice(['id', 'a_b', 'true', '1'])}: {rng.choice(_FLOW_ATOMS)}"
                for _ in range(rng.randint(0, 3))
            )
            flow = "{" + items + "}"
        else:
            flow = "[" + ", ".join(rng.choice(_FLOW_ATOMS) for _ in range(rng.randint(0, 3))) + "]"
        prefix = rng.choice(["a: ", "- ", "a:\n  b: "])
        text = f"x: 1\n{prefix}{flow}{rng.choice(['', ' # c'])}\n"
        fast = yamlio._fast_parse(text)
        if fast is None:
            continue
        checked += 1
        kind, slow = _slow(text)
        assert kind == "ok" and _shape(fast) == _shape(slow), text
    assert checked > 500


# --- the screen: the fast version refuses what one search per construct refuses -----

#: The screen written plainly: one search of the text per construct (the way it
#: was first written, and slower). ``yamlio._screened_out`` gates and merges
#: these searches for speed; it must refuse exactly the same texts.
_PLAIN_SCREEN = [
    re.compile(pattern)
    for pattern in (
        r"\t",
        r"!(?<![^\s\[{,]!)",
        r"&(?<![^\s\[{,]&)(?=\S)",
        r"\*(?<![^\s\[{,]\*)(?=\S)",
        r"\?(?<![^\s\[{,]\?)(?=\s|$)",
        r"\n%",
        r"\n---(?=\s|$)",
        r"\n\.\.\.(?=\s|$)",
        r"-(?<![^\s]-)[ \t]+[-:?](?=\s|$)",
        r":(?<![^\s]:)(?=\s|$)",
        r"_(?:(?<=[0-9.]_)|(?=[0-9.]))",
        r"0[xX][0-9a-fA-F]*_",
        r"0(?:[XOBb]|(?<=[-+]0)[xo])",
        r"\.(?:[iI][nN][fF]|[nN][aA][nN])",
        r"\n {100}",
        r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\u2028\u2029\ufffe\uffff]",
    )
]


def _plainly_screened_out(text: str) -> bool:
    if text.startswith(("%", "---", "...", " " * 100)):
        return True
    if any(b in text for b in "[]{}") and not yamlio._simple_flow_only(text):
        return True
    return any(pattern.search(text) for pattern in _PLAIN_SCREEN)


_SCREEN_MUTATIONS = [
    *_MUTATIONS,
    *"!&*?%[]{},_0.xXoObBiInNfF",
    *("\u3000", "\u2000", "\u0085", "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff"),
    *("\x00", "\x07", "\x0b", "\x1f", "\x7f", "\x80", "\x9f", "\xa0", "°", "中", "，"),
    *("\n%", "\n---", "\n...", "\n" + " " * 100, "0x1_", "+0x", "-0o", "0B", ".NaN"),
    *("- - ", "-  ? ", " : ", "\u3000:", "\u3000!", "\u3000&x", "\u3000*x", "\u3000?", "_1"),
    *("[a, b]", "{a: 1}", "&a", "*a", "!a", "?a", " ?\n", "\ud800"),
    *(" " * 64, "\n" + " " * 99, "\n" + " " * 100 + "x", " " * 130, "._", "5_", "_.", "\n%x"),
]


def test_screen_refuses_what_one_search_per_construct_refuses() -> None:
    corpus = _corpus()
    refused = 0
    for seed in range(6000):
        rng = random.Random(seed)
        text = rng.choice(corpus)
        if rng.random() < 0.7:  # a snippet: each construct matters more in it
            at = rng.randrange(len(text))
            text = text[at : at + rng.randint(1, 400)]
        text = _mutated(rng, text, _SCREEN_MUTATIONS, most=5, inserts=0.7)
        expected = _plainly_screened_out(text)
        utf8 = text.encode("utf-8", "surrogatepass")
        assert yamlio._screened_out(text, utf8) == expected, f"seed {seed}: {text!r}"
        refused += expected
    assert 1000 < refused < 5000  # both kinds were checked


class _RecordingParser:
    """Stands in for yaml-rs: records what reaches the fast path."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def load(self, utf8: bytes, **_options: object) -> Any:
        self.texts.append(utf8.decode())
        return {"from": "fast path"}


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["plain", "bom"])
def test_the_bytes_read_are_screened_like_the_text(
    bom: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # load() screens the bytes it read (a BOM at the start is not part of the text).
    parser = _RecordingParser()
    monkeypatch.setattr(yamlio, "_yaml_rs", parser)
    path = tmp_path / "f.yaml"
    for text, fast in [
        ("a: 1\n", True),
        ("a: caf\u00e9 \u4e2d\u6587\n", True),
        ("a: x\u0085y\n", False),  # a C1 control (NEL)
        ("a: x\ufeffy\n", False),  # a BOM inside
        ("a: x\x7fy\n", False),
        ("a: !!str 5\n", False),
        ("a:\n\t- 1\n", False),
        *([("\ufeffa: 1\n", False)] if bom else []),  # a second BOM
    ]:
        raw = bom + text.encode()
        path.write_bytes(raw)
        for given in (None, raw):
            parser.texts.clear()
            try:
                doc = yamlio.load(path, raw=given)
            except InputError:
                pass  # PyYAML refused it
            else:
                assert doc.text == text
            assert parser.texts == ([text] if fast else []), text
