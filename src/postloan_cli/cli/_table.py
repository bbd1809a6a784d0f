"""Plain-text tables for terminal summaries, without rich.

``postloan inspect`` prints one short table; importing rich for it cost more
start-up time than evaluating the loan. This draws the table rich drew
(heavy header box, one space of padding, cells wrapped at word boundaries,
the widest columns narrowed first when the table is wider than the
terminal) and follows rich's terminal rules: the width comes from
``COLUMNS`` or the terminal (80 when there is none, or when ``TERM`` is
``dumb``), and bold/italic are written only to a terminal that is not dumb
(``NO_COLOR`` removes colours, and there are none).
"""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Sequence
from typing import TextIO

_BOLD, _ITALIC, _RESET = "\x1b[1m", "\x1b[3m", "\x1b[0m"

# (left, line, join, right) for: top, header row, below header, body row, bottom.
_UNICODE = ("┏━┳┓", "┃ ┃┃", "┡━╇┩", "│ ││", "└─┴┘")
_ASCII = ("+-++", "| ||", "|-+|", "| ||", "+-++")


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal, as rich decides (``TTY_COMPATIBLE``, ``FORCE_COLOR``)."""
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "1"
    force = os.environ.get("FORCE_COLOR")
    if force is not None:
        return force != ""
    try:
        return stream.isatty()
    except ValueError:  # closed
        return False


def _is_dumb(stream: TextIO) -> bool:
    term = os.environ.get("TERM", "").lower()
    return term in ("dumb", "unknown") and is_terminal(stream)


def terminal_width(stream: TextIO) -> int:
    """Columns available: 80 on a dumb terminal, else ``COLUMNS``, the terminal's, or 80."""
    if _is_dumb(stream):
        return 80
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        return int(columns)
    for fd in (0, 1, 2):
        try:
            return os.get_terminal_size(fd).columns or 80
        except (OSError, ValueError):
            continue
    return 80


def cell_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide (CJK) characters count two, combining marks none."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


#: Characters a line may not start with (closing punctuation), and may not end
#: with (opening brackets): the rule CJK typesetting follows (kinsoku).
_NOT_AT_START = frozenset("。，、；：！？）」』》〉】〕］｝…‥・ー々,.;:!?)]}%")
_NOT_AT_END = frozenset("（「『《〈【〔［｛([{")


def _fold(word: str, width: int) -> list[str]:
    """Split a word wider than ``width`` into pieces that fit (CJK text has no spaces).

    A piece never starts with closing punctuation nor ends with an opening
    bracket: the character before (or the bracket) moves to the next piece.
    """
    pieces: list[str] = []
    piece, used = "", 0
    for char in word:
        char_width = cell_width(char)
        if piece and used + char_width > width:
            carried = ""
            if len(piece) > 1 and char in _NOT_AT_START:
                piece, carried = piece[:-1], piece[-1]
            while len(piece) > 1 and piece[-1] in _NOT_AT_END:
                piece, carried = piece[:-1], piece[-1] + carried
            pieces.append(piece)
            piece, used = carried, cell_width(carried)
        piece += char
        used += char_width
    pieces.append(piece)
    return pieces


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns, broken at spaces where possible."""
    width = max(width, 1)
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line, used = "", 0
        for word in paragraph.split():
            word_width = cell_width(word)
            if line and used + 1 + word_width <= width:
                line, used = f"{line} {word}", used + 1 + word_width
                continue
            if line:
                lines.append(line)
            *full, word = _fold(word, width) if word_width > width else [word]
            lines.extend(full)
            line, used = word, cell_width(word)
        lines.append(line)
    return lines


def _ratio_reduce(
    total: int, ratios: list[int], maximums: list[int], values: list[int]
) -> list[int]:
    """Take ``total`` off ``values`` in proportion to ``ratios``, at most ``maximums`` each."""
    ratios = [ratio if maximum else 0 for ratio, maximum in zip(ratios, maximums, strict=True)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return values[:]
    remaining = total
    result: list[int] = []
    for ratio, maximum, value in zip(ratios, maximums, values, strict=True):
        if ratio and total_ratio > 0:
            taken = min(maximum, round(ratio * remaining / total_ratio))
            result.append(value - taken)
            remaining -= taken
            total_ratio -= ratio
        else:
            result.append(value)
    return result


def column_widths(columns: Sequence[Sequence[str]], available: int) -> list[int]:
    """Widths (padding included) of columns of cells, to fit ``available`` columns.

    Each column wants its longest line (at most ``available``); when the sum
    is too wide the widest columns are narrowed first, down to the next widest, then all evenly
    (rich's rule, so the table keeps the shape officers know).
    """
    widths = [
        min(
            max((cell_width(line) for cell in cells for line in cell.splitlines()), default=0) + 2,
            available,
        )
        for cells in columns
    ]
    excess = sum(widths) - available
    while excess > 0:
        widest = max(widths)
        step = widest - max((w for w in widths if w != widest), default=0)
        if not step:
            break
        ratios = [1 if w == widest else 0 for w in widths]
        widths = _ratio_reduce(excess, ratios, [min(excess, step)] * len(widths), widths)
        excess = sum(widths) - available
    if excess > 0:
        widths = _ratio_reduce(excess, [1] * len(widths), widths, widths)
    return [max(w, 3) for w in widths]


def render(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    width: int,
    styled: bool,
    ascii_only: bool = False,
) -> str:
    """The table as text: a title line, a boxed header and the rows, ending in a newline.

    Cells may hold several lines; control characters are neutralised (the
    text comes from answer files and checklists).
    """
    from postloan_cli.cli._edge import printable

    top, head, below, body, bottom = _ASCII if ascii_only else _UNICODE
    title = printable(title)
    headers = [printable(header) for header in headers]
    rows = [[printable(cell) for cell in row] for row in rows]
    columns = [[header, *(row[i] for row in rows)] for i, header in enumerate(headers)]
    widths = column_widths(columns, width - len(headers) - 1)

    def rule(box: str) -> str:
        return box[0] + box[2].join(box[1] * w for w in widths) + box[3]

    def row_lines(cells: Sequence[str], box: str, bold: bool) -> list[str]:
        wrapped = [wrap(cell, w - 2) for cell, w in zip(cells, widths, strict=True)]
        height = max(len(lines) for lines in wrapped)
        if bold:  # header cells sit on the rule below them
            wrapped = [[""] * (height - len(lines)) + lines for lines in wrapped]
        out = []
        for index in range(height):
            parts = []
            for lines, w in zip(wrapped, widths, strict=True):
                text = lines[index] if index < len(lines) else ""
                part = f" {text}{' ' * (w - 2 - cell_width(text))} "
                parts.append(f"{_BOLD}{part}{_RESET}" if bold else part)
            out.append(box[0] + box[2].join(parts) + box[3])
        return out

    lines = [f"{_ITALIC}{title}{_RESET}" if styled else title, rule(top)]
    lines += row_lines(headers, head, styled)
    lines.append(rule(below))
    for row in rows:
        lines += row_lines(row, body, False)
    lines.append(rule(bottom))
    return "\n".join(lines) + "\n"


def print_table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], stream: TextIO | None = None
) -> None:
    """Write a table to ``stream`` (standard output), sized and styled for it."""
    out = stream or sys.stdout
    encoding = (getattr(out, "encoding", None) or "").lower().replace("-", "")
    out.write(
        render(
            title,
            headers,
            rows,
            width=terminal_width(out),
            styled=is_terminal(out) and not _is_dumb(out),
            ascii_only=not encoding.startswith("utf"),
        )
    )
