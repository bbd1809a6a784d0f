"""One answer file to its inspection opinion: load, evaluate, render, write.

``postloan inspect --answers`` runs this once; ``postloan batch`` runs it
per file in worker processes. It is the only place that joins the pieces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from postloan_cli.errors import InputError, Problem
from postloan_cli.evaluation import Evaluation, evaluate
from postloan_cli.loading import LoadedAnswers, load_answers
from postloan_cli.outputs import atomic_write, inside_text

FORMATS = ("md", "html")


@dataclass(frozen=True)
class RenderOptions:
    """How opinions are rendered and where they go."""

    formats: tuple[str, ...] = FORMATS
    lang: str | None = None
    template_dirs: tuple[Path, ...] = ()
    checklist_dirs: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Inspected:
    """The result of inspecting one answer file."""

    loaded: LoadedAnswers
    evaluation: Evaluation
    #: Files written, by format.
    written: dict[str, Path] = field(default_factory=dict)

    @property
    def warnings(self) -> list[Problem]:
        return [self.loaded.document.place(p) for p in self.evaluation.warnings]


def evaluate_file(
    path: Path, checklist_dirs: Sequence[Path] = (), *, display: str | None = None
) -> tuple[LoadedAnswers, Evaluation]:
    """Load and evaluate one answer file; raise :class:`InputError` on any error."""
    loaded = load_answers(path, checklist_dirs, display=display)
    return loaded, evaluate_loaded(loaded)


def evaluate_loaded(loaded: LoadedAnswers) -> Evaluation:
    """Evaluate a loaded answer file; raise its errors placed at line and column."""
    evaluation = evaluate(loaded.checklist, loaded.answers)
    if evaluation.errors:
        raise InputError([loaded.document.place(p) for p in evaluation.problems])
    return evaluation


def write_reports(
    evaluation: Evaluation,
    output: Path,
    stem: str,
    *,
    formats: Sequence[str],
    lang: str | None,
    template_dirs: Sequence[Path],
    scratch: str | None = None,
) -> dict[str, Path]:
    """Render ``evaluation`` in each format, then write ``<output>/<stem>.<format>``.

    Every format is rendered before anything is written, so a failing
    template leaves no half-updated set of reports; each file is written
    atomically and never outside ``output``, its temporary file made in
    ``scratch`` when given (see :func:`~postloan_cli.outputs.atomic_write`).
    """
    from postloan_cli.rendering import render

    texts = {
        fmt: render(evaluation, fmt, lang=lang, template_dirs=template_dirs) for fmt in formats
    }
    written: dict[str, Path] = {}
    for fmt, text in texts.items():
        target = inside_text(output, f"{stem}.{fmt}")
        atomic_write(target, text, scratch=scratch)
        written[fmt] = Path(target)
    return written


def inspect_answers(
    path: Path,
    output: Path,
    options: RenderOptions,
    *,
    relative: PurePath | None = None,
    display: str | None = None,
) -> Inspected:
    """Evaluate ``path`` and write its opinion in each format under ``output``.

    The report is named after the answer file (``relative`` when given, as
    batch mirrors the input tree), sanitised to stay inside ``output``.
    A draft answer file is refused: it is not an opinion yet.
    """
    loaded, evaluation = evaluate_file(path, options.checklist_dirs, display=display)
    if loaded.answers.status == "draft":
        raise InputError(
            [
                Problem(
                    "PL309",
                    "is a draft (status: draft); finish it with 'postloan inspect --resume' "
                    "before it can be rendered as an opinion",
                    loaded.document.file,
                )
            ]
        )
    stem = (relative if relative is not None else PurePath(path.name)).with_suffix("")
    written = write_reports(
        evaluation,
        output,
        stem.as_posix(),
        formats=options.formats,
        lang=options.lang,
        template_dirs=options.template_dirs,
    )
    return Inspected(loaded, evaluation, written)
