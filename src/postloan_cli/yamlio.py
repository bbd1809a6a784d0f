"""Reading untrusted YAML safely and fast, and finding line:column for errors.

Why PyYAML and not ruamel.yaml for reading: parsing is most of the cost of
every command, and PyYAML's libyaml-based loader is about three times
faster than ruamel's C safe loader (see ``bench/``). PyYAML reads YAML 1.1
(``no`` is false, ``0755`` octal), so the loader here replaces its
resolver with YAML 1.2 core-schema rules, the same meaning ruamel.yaml and
editors give a file. ruamel.yaml is used where comments must survive a
write (answer drafts, the lint lock file).

Safety: only plain data is constructed (no tags that build objects), a
duplicate key is an error, the file size is limited, the text must be
UTF-8, and a document whose aliases expand to more than ``MAX_NODES`` nodes
(an alias bomb) is refused before anything walks it.

Speed: most files are read by ``yaml-rs`` (a YAML 1.2 parser written in
Rust: with the screen below, about 4x faster than PyYAML's libyaml loader,
which builds a Python node with two position marks for every scalar). It is a fast path only:
a file goes to it only if a cheap screen finds none of the constructs on
which the two parsers were seen to differ (tags, aliases, directives,
explicit keys, chained indicators, deep indentation, number forms such as
``1_000``, odd characters), and anything it refuses, or that is not a
mapping, is parsed again by PyYAML, which gives every error its line and
column. Both read the same file to the same data: tests compare them over
real and mutated files.

Positions: a file that fails validation is composed again into nodes, and
the error's path (``("sections", 2, "questions", 0, "prompt")``) is walked
through them to get line and column. Only failures pay for this.
"""

from __future__ import annotations

import functools
import os
import re
from codecs import BOM_UTF8
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from types import SimpleNamespace
from typing import Any

from postloan_cli.errors import InputError, Problem

#: Largest file read, in bytes (checklists and answer files are far smaller).
MAX_BYTES = 2 * 1024 * 1024
#: Largest number of nodes a document may expand to through aliases.
MAX_NODES = 200_000

# The fast path (optional at run time: without it every file takes PyYAML).
_yaml_rs: Any
try:
    import yaml_rs as _yaml_rs
except ImportError:  # pragma: no cover - not installed
    _yaml_rs = None

#: What sends a file to PyYAML instead of the fast path: a construct on
#: which yaml-rs and our YAML 1.2 PyYAML loader were seen to read
#: differently (``tests/test_yamlio.py`` compares them), or one that could
#: nest deep enough to overflow yaml-rs's native stack: a crash that no
#: ``except`` catches. Block nesting needs an indicator or more indentation
#: per level, so without chained indicators (``- - - x``) and deep
#: indentation it stays shallow; yaml-rs refuses deep flow nesting itself.
#: A false alarm only costs speed.
#:
#: The screen runs on every file, so it is arranged to scan the text as few
#: times as it can (each full scan of a 10 KB file costs 3 to 10 µs, a
#: character class many times more): the constructs made of characters that
#: seldom occur are gated by one pass over the UTF-8 bytes that keeps only
#: those characters (``_RARE``), and only a file that has one is searched
#: for the construct. Each pattern starts with a literal character, which
#: keeps every search a few microseconds (one pattern of alternatives that
#: start with different characters is many times slower).
#:
#: Constructs of rare characters, searched only when the character occurs:
#: "x(?<![^\s\[{,]x)" is x at the start of a token (or of the file).
_AT_TOKEN_START = tuple(
    (char.encode(), re.compile(pattern))
    for char, pattern in (
        ("!", r"!(?<![^\s\[{,]!)"),  # a tag
        ("&", r"&(?<![^\s\[{,]&)(?=\S)"),  # an anchor
        ("*", r"\*(?<![^\s\[{,]\*)(?=\S)"),  # an alias (PyYAML checks what aliases expand to)
        ("?", r"\?(?<![^\s\[{,]\?)(?=\s|$)"),  # an explicit key
    )
)
#: Control characters (C0 but line breaks, DEL) and tabs: a file with any of
#: them goes to PyYAML (a tab near indentation is an error to libyaml only).
_REFUSED_BYTES = b"\t" + bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
#: The C1 control characters (U+0080 to U+009F; NEL is a line break in YAML
#: 1.1 only), as UTF-8: searched only when their lead byte occurs.
_C1_CONTROL = re.compile(rb"\xc2[\x80-\x9f]")
#: Characters refused anywhere: a BOM inside the text, LS/PS (line breaks in
#: YAML 1.1 only), the noncharacters U+FFFE and U+FFFF.
_REFUSED_CHARS = ("\ufeff", "\u2028", "\u2029", "\ufffe", "\uffff")
#: Every byte the first pass keeps: the rare characters above and brackets
#: (see ``_simple_flow_only``).
_RARE = b"!&*?[]{}\xc2" + _REFUSED_BYTES
_NOT_RARE = bytes(sorted(set(range(256)) - set(_RARE)))
#: Constructs of characters found in every file, searched always.
_NOT_FOR_FAST_PATH = tuple(
    re.compile(pattern)
    for pattern in (
        # at the start of a line: a directive, document markers (deep indentation: below)
        r"\n(?:%|---(?=\s|$)|\.\.\.(?=\s|$))",
        r"-(?<![^\s]-)[ \t]+[-:?](?=\s|$)",  # chained indicators: - - x, - ? x, - : x
        r":(?<![^\s]:)(?=\s|$)",  # an empty key (also : - x, : : x)
        # 1_000, ._5: a number to yaml-rs only (the character after first: cheaper)
        r"_(?:[0-9.]|(?<=[0-9.]_))",
        # 0x1_F, 0X1F, 0b101, +0x1F: likewise (the lookahead skips most zeros at once)
        r"0(?=[xXOBbo])(?:[xX][0-9a-fA-F]*_|[XOBb]|(?<=[-+]0)[xo])",
        r"\.(?:[iI][nN][fF]|[nN][aA][nN])",  # .inf and .nan in any spelling
    )
)
#: The same constructs at the very start of the file.
_NOT_FOR_FAST_PATH_AT_START = ("%", "---", "...", " " * 100)
#: Deep indentation: a line indented by 100 spaces or more. Searched for only
#: if a run of 64 spaces occurs: a search for 64 characters skips ahead many
#: characters at a time, while the line breaks that start the longer one
#: occur hundreds of times in a file (as one more branch of the first pattern
#: above, it cost each of them a look at the line's indentation).
_DEEP_INDENT_HINT = " " * 64
_DEEP_INDENT = "\n" + " " * 100
#: Beyond those patterns, a file goes to PyYAML if it has a bracket outside
#: a simple one-line flow collection. Flow collections were the main source of
#: differences (continuation lines, ``?``, ``:`` and brackets inside them),
#: but hand-written answer files use simple ones all the time
#: (``evidence: [Statement 2026-03, "Minutes, board"]``,
#: ``amount: {amount: 2500000.00, currency: EUR}``): a line with a bracket
#: takes the fast path only if it is exactly one such collection of plain
#: or quoted scalars, as the value of a key or a list item.
_KEY = r"[A-Za-z_][\w-]*"
_SCALAR = (
    r"""(?:"[^"\\\n]*"|'(?:[^'\n]|'')*'"""
    r"|[^\s\-?:,\[\]{}#&*!|>'\"%@`](?:[^,\[\]{}#:\n]*[^\s,\[\]{}#:])?)"
)
_SIMPLE_FLOW_LINE = re.compile(
    rf" *(?:- +)?(?:{_KEY}: +)?"
    rf"(?:\{{ *(?:{_KEY}: +{_SCALAR}(?: *, *{_KEY}: +{_SCALAR})*)? *\}}"
    rf"|\[ *(?:{_SCALAR}(?: *, *{_SCALAR})*)? *\])"
    r"(?: +#[^\n]*)? *"
)


def _simple_flow_only(text: str) -> bool:
    """Whether every line with a bracket holds one simple one-line flow collection."""
    checked: set[int] = set()
    for bracket in "[]{}":
        at = text.find(bracket)
        while at != -1:
            start = text.rfind("\n", 0, at) + 1
            if start not in checked:
                end = text.find("\n", at)
                if not _SIMPLE_FLOW_LINE.fullmatch(text, start, len(text) if end == -1 else end):
                    return False
                checked.add(start)
            at = text.find(bracket, at + 1)
    return True


def _screened_out(text: str, utf8: bytes) -> bool:
    """Whether ``text`` (``utf8``: its UTF-8 bytes) has a construct PyYAML must read."""
    rare = utf8.translate(None, _NOT_RARE)
    if rare:
        if rare.translate(None, b"!&*?[]{}\xc2"):  # a tab or a control character
            return True
        if b"\xc2" in rare and _C1_CONTROL.search(utf8):
            return True
        for char, pattern in _AT_TOKEN_START:
            if char in rare and pattern.search(text):
                return True
        if (b"[" in rare or b"]" in rare or b"{" in rare or b"}" in rare) and not (
            _simple_flow_only(text)
        ):
            return True
    if text.startswith(_NOT_FOR_FAST_PATH_AT_START):
        return True
    for refused in _REFUSED_CHARS:
        if refused in text:
            return True
    if _DEEP_INDENT_HINT in text and _DEEP_INDENT in text:
        return True
    return any(pattern.search(text) for pattern in _NOT_FOR_FAST_PATH)


def _fast_parse(text: str, utf8: bytes | None = None) -> dict[Any, Any] | None:
    """``text``'s data by the fast path, or ``None`` where PyYAML must read it.

    ``utf8``: ``text`` encoded as UTF-8 (without a BOM), when the caller has it.
    """
    if _yaml_rs is None:
        return None
    if utf8 is None:
        try:
            utf8 = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (only in a str made in Python)
            return None
    if _screened_out(text, utf8):
        return None
    try:
        # From the bytes: yaml-rs would encode the text to UTF-8 again (~10 µs
        # for 10 KB of non-ASCII text); they decode to the same text.
        data = _yaml_rs.load(utf8, parse_datetime=False)
    except Exception:  # any refusal: PyYAML reads it again and names line and column
        return None
    return data if isinstance(data, dict) and data else None


class _DuplicateKey(Exception):
    def __init__(self, key: Any, mark: Any) -> None:
        self.key = key
        self.mark = mark


class _AliasBomb(Exception):
    pass


@functools.cache
def _pyyaml() -> Any:
    """PyYAML and our YAML 1.2 loader on top of it, built on first use.

    Most files never need it (the fast path reads them), so ``postloan``
    does not pay for importing PyYAML at start-up.
    """
    import yaml

    # libyaml's parser; ``yaml.CParser`` is not exported at the top level, so a
    # ``hasattr(yaml, "CParser")`` test silently picks the pure-Python parser.
    _CParser: Any
    try:
        from yaml.cyaml import CParser as _CParser  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - PyYAML built without libyaml
        _CParser = None

    class _Resolver(yaml.resolver.Resolver):
        """YAML 1.2 core schema: ``yes``/``no``/``on`` stay strings, no octal ``0755``."""

    _Resolver.yaml_implicit_resolvers = {}
    _Resolver.add_implicit_resolver(
        "tag:yaml.org,2002:bool",
        re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"),
    )
    _Resolver.add_implicit_resolver(
        "tag:yaml.org,2002:null",
        re.compile(r"^(?:~|null|Null|NULL|)$"),
        ["~", "n", "N", ""],
    )
    _Resolver.add_implicit_resolver(
        "tag:yaml.org,2002:int",
        re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
        list("-+0123456789"),
    )
    _Resolver.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+0123456789."),
    )

    class _Constructor(yaml.constructor.SafeConstructor):
        """Plain data only; duplicate keys raise; dates stay text for pydantic to check."""

        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            if not isinstance(node, yaml.MappingNode):
                raise yaml.constructor.ConstructorError(
                    None, None, f"expected a mapping, found {node.id}", node.start_mark
                )
            self.flatten_mapping(node)
            mapping: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) and key is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None, "mapping keys must be plain scalars", key_node.start_mark
                    )
                if key in mapping:
                    raise _DuplicateKey(key, key_node.start_mark)
                mapping[key] = self.construct_object(value_node, deep=deep)
            return mapping

        def construct_yaml_int(self, node: Any) -> int:
            text = str(self.construct_scalar(node))
            if text.startswith("0o"):
                return int(text[2:], 8)
            if text.startswith("0x"):
                return int(text[2:], 16)
            return int(text)

        def construct_yaml_float(self, node: Any) -> float:
            text = str(self.construct_scalar(node)).lower()
            if text.endswith(".inf"):
                return float("-inf") if text.startswith("-") else float("inf")
            if text.endswith(".nan"):
                return float("nan")
            return float(text)

    _Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)  # type: ignore[type-var]
    _Constructor.add_constructor(  # type: ignore[type-var]
        "tag:yaml.org,2002:float", _Constructor.construct_yaml_float
    )
    # Explicit !!timestamp / !!binary / !!set tags would build objects pydantic does not expect.
    for _tag in ("timestamp", "binary", "set", "omap", "pairs"):
        _Constructor.add_constructor(  # type: ignore[type-var]
            f"tag:yaml.org,2002:{_tag}", _Constructor.construct_yaml_str
        )
    _Constructor.add_constructor(
        None,
        lambda loader, node: (_ for _ in ()).throw(  # unknown tags are refused
            yaml.constructor.ConstructorError(
                None, None, f"tag {node.tag!r} is not allowed", node.start_mark
            )
        ),
    )

    # The C parser cannot take a Python resolver class through MRO alone, so build
    # the loader class with our constructor and resolver on top of the C parser.
    if _CParser is not None:

        class _FastLoader(_CParser, _Constructor, _Resolver):  # type: ignore[misc]
            def __init__(self, stream: str) -> None:
                _CParser.__init__(self, stream)
                _Constructor.__init__(self)
                _Resolver.__init__(self)

    else:  # pragma: no cover - libyaml missing

        class _FastLoader(  # type: ignore[no-redef]
            yaml.reader.Reader,
            yaml.scanner.Scanner,
            yaml.parser.Parser,
            yaml.composer.Composer,
            _Constructor,
            _Resolver,
        ):
            def __init__(self, stream: str) -> None:
                yaml.reader.Reader.__init__(self, stream)
                yaml.scanner.Scanner.__init__(self)
                yaml.parser.Parser.__init__(self)
                yaml.composer.Composer.__init__(self)
                _Constructor.__init__(self)
                _Resolver.__init__(self)

    return SimpleNamespace(yaml=yaml, Loader=_FastLoader, with_libyaml=_CParser is not None)


def with_libyaml() -> bool:
    """Whether PyYAML's C parser is in use (the benchmark and a test check it)."""
    return bool(_pyyaml().with_libyaml)


def parser_versions() -> str:
    """The parsers' versions, without importing PyYAML (for cache keys)."""
    import importlib.util

    spec = importlib.util.find_spec("yaml")
    origin = spec.origin if spec is not None else None
    try:
        stamp = os.stat(origin) if origin else None
    except OSError:
        stamp = None
    pyyaml = f"{origin}:{stamp.st_size}:{stamp.st_mtime_ns}" if stamp else "none"
    rs = getattr(_yaml_rs, "__version__", "none") if _yaml_rs is not None else "none"
    return f"yaml-rs={rs}|pyyaml={pyyaml}"


@dataclass(frozen=True)
class Document:
    """A parsed YAML file: its data, and its text for locating errors later."""

    file: str
    text: str
    data: Any

    def locate(self, path: Sequence[str | int], *, key: bool = False) -> tuple[int, int] | None:
        """1-based ``(line, column)`` of the node at ``path``; see :func:`locate`."""
        return locate(self.text, path, key=key)

    def place(self, problem: Problem) -> Problem:
        """``problem`` with this file's name and the line/column of its path."""
        # Unknown sections and questions, and ignored answers, point at their key.
        key = problem.code in {"PL301", "PL302", "PL306"}
        pos = self.locate(problem.path, key=key) if problem.path else None
        if pos is None:
            return problem.at(self.file, problem.line, problem.column)
        return problem.at(self.file, pos[0], pos[1])


def read_text(path: Path, *, max_bytes: int = MAX_BYTES, display: str | None = None) -> str:
    """Read a user's file as UTF-8 text, refusing what is too large or not text."""
    name = display or str(path)
    return decode(read_bytes(path, max_bytes=max_bytes, display=name), name)


def read_bytes(path: Path, *, max_bytes: int = MAX_BYTES, display: str | None = None) -> bytes:
    """Read a user's file, refusing what is too large (before reading it) or unreadable."""
    try:
        raw = _read_regular(path, max_bytes)
    except OSError:
        raw = None  # a problem to name: the plain way below names it
    if raw is None:
        raw = _read_plainly(path, max_bytes, display or str(path))
    if len(raw) > max_bytes:  # grew while we looked
        name = display or str(path)
        raise InputError([Problem("PL101", f"file is larger than {max_bytes:,} bytes", name)])
    return raw


#: How :func:`_read_regular` opens a file: as it is (``O_BINARY``: no newline
#: translation on Windows), and without waiting for a writer if it is a named
#: pipe (``O_NONBLOCK``, which regular files ignore): anything but a regular
#: file is left to :func:`_read_plainly`, which opens it the way it always did.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
#: The most :func:`_read_regular` asks for past a file's size (``os.read``
#: allocates what it is asked for before it reads).
_READ_CHUNK = 64 * 1024


def _read_regular(path: Path, max_bytes: int) -> bytes | None:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes`` bytes.

    ``None`` for anything else (too large, a folder, a pipe), which
    :func:`_read_plainly` then reads or refuses with the problem it names. A
    file that grows while read gives at most ``max_bytes + 1`` bytes.

    Every answer file of a batch is read here, so with the fewest system
    calls: ``open``, ``fstat``, two ``read`` and ``close``. ``Path.stat`` and
    then ``Path.read_bytes`` made twice as many (a ``stat`` of the path, then
    an ``fstat``, an ``isatty`` check, two ``lseek`` and another ``fstat`` in
    ``open``) and built a buffered file object.
    """
    fd = os.open(path, _READ_FLAGS)
    try:
        stat = os.fstat(fd)
        if stat.st_size > max_bytes or not S_ISREG(stat.st_mode):
            return None
        # One byte more than the size: a file that grew shows it at once. Then
        # on to the end (one more read, empty unless it grew), never reading
        # past ``max_bytes + 1``.
        raw = os.read(fd, stat.st_size + 1)
        while len(raw) <= max_bytes:
            more = os.read(fd, min(max_bytes + 1 - len(raw), _READ_CHUNK))
            if not more:
                break
            raw += more
        return raw
    finally:
        os.close(fd)


def _read_plainly(path: Path, max_bytes: int, name: str) -> bytes:
    """Read ``path`` the plain way, naming what is wrong (too large, missing, unreadable)."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(
                [
                    Problem(
                        "PL101",
                        f"file is {size:,} bytes; the limit is {max_bytes:,} bytes",
                        name,
                    )
                ]
            )
        raw = path.read_bytes()
    except InputError:
        raise
    except IsADirectoryError:
        raise InputError([Problem("PL100", "is a folder, not a file", name)]) from None
    except FileNotFoundError:
        raise InputError([Problem("PL100", "no such file", name)]) from None
    except OSError as exc:
        raise InputError([Problem("PL100", f"cannot be read: {exc.strerror}", name)]) from None
    return raw


def decode(raw: bytes, name: str) -> str:
    """Decode UTF-8 (a BOM is allowed), naming the line and column of a bad byte."""
    bom = len(BOM_UTF8) if raw.startswith(BOM_UTF8) else 0
    return _decode(raw[bom:] if bom else raw, raw, bom, name)


def _decode(utf8: bytes, raw: bytes, bom: int, name: str) -> str:
    """:func:`decode` of ``raw``, given ``utf8``: ``raw`` without its BOM of ``bom`` bytes.

    The BOM is cut here and the rest decoded as UTF-8: what the ``utf-8-sig``
    codec does, without its Python-level decode function.
    """
    try:
        return utf8.decode()
    except UnicodeDecodeError as exc:
        # counted from after the BOM; the BOM itself is no column
        start = exc.start + bom
        before = raw[:start]
        line = before.count(b"\n") + 1
        column = start - (before.rfind(b"\n") + 1) + 1 - (bom if line == 1 else 0)
        raise InputError(
            [
                Problem(
                    "PL102",
                    f"is not UTF-8 text (byte 0x{raw[start]:02x}); save it as UTF-8",
                    name,
                    line,
                    column,
                )
            ]
        ) from None


def parse(text: str, name: str, *, utf8: bytes | None = None) -> Any:
    """Parse one YAML document of plain data; raise :class:`InputError` on any problem.

    ``utf8``: ``text`` as UTF-8 bytes (without a BOM) when at hand, which saves
    encoding it again for the screen of the fast path.
    """
    fast = _fast_parse(text, utf8)
    if fast is not None:
        return fast
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        raise InputError([Problem("PL103", "file is empty", name, 1, 1)])
    py = _pyyaml()
    yaml = py.yaml
    loader = py.Loader(text)
    try:
        if "&" in text and "*" in text:
            node = loader.get_single_node()
            if node is not None:
                _check_expansion(node)
            data = loader.construct_document(node) if node is not None else None
        else:
            data = loader.get_single_data()
    except _DuplicateKey as exc:
        raise InputError(
            [
                Problem(
                    "PL105",
                    f"duplicate key {exc.key!r}: each key may appear once in a mapping",
                    name,
                    exc.mark.line + 1,
                    exc.mark.column + 1,
                )
            ]
        ) from None
    except _AliasBomb:
        raise InputError(
            [
                Problem(
                    "PL106",
                    f"aliases expand to more than {MAX_NODES:,} nodes; refused as an alias bomb",
                    name,
                )
            ]
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        if "expected a single document" in str(exc):
            problem = "the file holds more than one YAML document; keep one per file"
            raise InputError(
                [Problem("PL107", problem, name, *(_mark(mark) if mark else (None, None)))]
            ) from None
        raise InputError(
            [
                Problem(
                    "PL104",
                    f"YAML syntax error: {problem}",
                    name,
                    *(_mark(mark) if mark else (None, None)),
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem("PL104", f"YAML syntax error: {exc}", name)]) from None
    except RecursionError:
        raise InputError([Problem("PL106", "document nests too deeply", name)]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise InputError(
            [Problem("PL107", f"expected a mapping of keys at the top, found {kind}", name, 1, 1)]
        )
    return data


def load(
    path: Path,
    *,
    max_bytes: int = MAX_BYTES,
    display: str | None = None,
    raw: bytes | None = None,
) -> Document:
    """Read and parse a user's YAML file into a :class:`Document`.

    ``raw``: the file's bytes when the caller has read them already (from
    :func:`read_bytes`; a batch hashes them too).
    """
    name = display or str(path)
    if raw is None:
        raw = read_bytes(path, max_bytes=max_bytes, display=name)
    # The text's bytes, for the screen and yaml-rs: without the BOM, like the text.
    bom = len(BOM_UTF8) if raw.startswith(BOM_UTF8) else 0
    utf8 = raw[bom:] if bom else raw
    text = _decode(utf8, raw, bom, name)
    return Document(name, text, parse(text, name, utf8=utf8))


def _mark(mark: Any) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _check_expansion(root: Any) -> None:
    """Refuse documents whose aliases make them expand past ``MAX_NODES``."""
    yaml = _pyyaml().yaml
    sizes: dict[int, int] = {}
    # Iterative post-order walk with memoised subtree sizes: shared (aliased)
    # nodes are counted once per reference without being walked again.
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in sizes and not done:
            continue
        children: list[Any]
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            sizes[key] = 1
            continue
        if done:
            total = 1 + sum(sizes.get(id(c), 1) for c in children)
            if total > MAX_NODES:
                raise _AliasBomb
            sizes[key] = total
        else:
            sizes[key] = -1  # in progress: a cycle counts as a bomb
            stack.append((node, True))
            for child in children:
                if sizes.get(id(child)) == -1:
                    raise _AliasBomb
                if id(child) not in sizes:
                    stack.append((child, False))


@functools.lru_cache(maxsize=8)
def compose(text: str) -> Any:
    """The node tree of ``text`` (with marks), or ``None`` if it does not parse.

    Cached: a failing file usually has several problems to locate.
    """
    py = _pyyaml()
    loader = py.Loader(text)
    try:
        return loader.get_single_node()
    except py.yaml.YAMLError:
        return None
    finally:
        loader.dispose()


def locate(text: str, path: Sequence[str | int], *, key: bool = False) -> tuple[int, int] | None:
    """Walk ``path`` through the document and return 1-based ``(line, column)``.

    Path elements that do not match the document (a pydantic discriminator
    tag, a model name) are skipped. The walk stops at the deepest node
    reached; with ``key=True`` the position of the last mapping key is given
    (for "unknown key" errors) rather than its value.
    """
    node = compose(text)
    if node is None:
        return None
    yaml = _pyyaml().yaml
    mark = node.start_mark
    for element in path:
        if isinstance(node, yaml.MappingNode):
            for k_node, v_node in node.value:
                if isinstance(k_node, yaml.ScalarNode) and k_node.value == str(element):
                    mark = k_node.start_mark if key else v_node.start_mark
                    node = v_node
                    break
            else:
                continue
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(element, int)
            and 0 <= element < len(node.value)
        ):
            node = node.value[element]
            mark = node.start_mark
        # scalars: nothing deeper to find
    return mark.line + 1, mark.column + 1
