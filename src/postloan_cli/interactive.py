"""``postloan inspect`` without ``--answers``: the inspection asked in the terminal.

The logic lives in :mod:`postloan_cli.interview` (what to ask, conditions,
defaults, navigation, live feedback); this module only asks and shows. Each
answer is saved at once to a draft (:class:`~postloan_cli.answer_writer.DraftSaver`);
Ctrl-C leaves the draft and tells how to resume it. At the end the final answer
file is written and rendered by :func:`postloan_cli.pipeline.inspect_answers`,
exactly as ``postloan inspect --answers`` would.

Prompts are questionary's (arrow-key lists, validated text) in a terminal; with
``TERM=dumb`` a plain line-by-line prompter with numbered choices is used
instead. rich and prompt_toolkit both honour ``NO_COLOR``.

Navigation, in any text prompt::

    <  or :back     the previous question
    ?  or :help     the question's help text
    :skip           leave an optional question unanswered
    :section        jump to a section, review the answers so far, or save and quit
    :note           add a note and evidence references to the answer
    :review         the review screen (answers, computed values, signals)
    :quit           save the draft and stop

Choice lists carry the same as extra entries at the bottom ("<- back", "? help"...).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, Protocol

from postloan_cli.answers import Invalid
from postloan_cli.i18n import localize
from postloan_cli.interview import (
    FACTS_SECTION,
    OPINION_SECTION,
    Feedback,
    Interview,
    NavigationError,
    Step,
    display_value,
    format_computed,
    money_amount,
)
from postloan_cli.models import (
    AnyQuestion,
    DateQuestion,
    DecimalQuestion,
    GroupQuestion,
    IntegerQuestion,
    Money,
    MoneyQuestion,
    MultipleChoiceQuestion,
    PercentQuestion,
    SingleChoiceQuestion,
    Text,
    YesNoQuestion,
)
from postloan_cli.pipeline import RenderOptions

if TYPE_CHECKING:
    from rich.console import Console

    from postloan_cli.answer_writer import DraftSaver
    from postloan_cli.compiled import CompiledChecklist
    from postloan_cli.evaluation import Signal
    from postloan_cli.models import AnswerFile

EXIT_OK = 0
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130

#: What a prompt shows as a message and asks again; anything else is a bug.
_REFUSED = (Invalid, NavigationError, ValueError)


@dataclass(frozen=True)
class InteractiveOptions:
    """What ``postloan inspect`` passes to an interactive inspection."""

    render: RenderOptions
    output: Path
    inspections: Path
    loan: str | None = None
    previous: Path | None = None
    resume: Path | None = None
    checklist: str = "post-loan-standard"
    checklist_version: str | None = None
    force: bool = False


# --- navigation --------------------------------------------------------------


class Nav(str):
    """A navigation command chosen instead of an answer."""


BACK = Nav("back")
HELP = Nav("help")
SKIP = Nav("skip")
SECTION = Nav("section")
NOTE = Nav("note")
REVIEW = Nav("review")
QUIT = Nav("quit")
CANCEL = Nav("cancel")

COMMANDS: dict[str, Nav] = {
    "<": BACK,
    ":back": BACK,
    ":b": BACK,
    "?": HELP,
    ":help": HELP,
    ":skip": SKIP,
    ":section": SECTION,
    ":s": SECTION,
    ":note": NOTE,
    ":review": REVIEW,
    ":quit": QUIT,
    ":cancel": CANCEL,
}


class _Interrupted(Exception):
    """The officer asked to stop (``:quit``): save the draft and leave."""


# --- the words of the interface ---------------------------------------------------

UI: dict[str, Text] = {
    "back": {"en": "<- back", "es": "<- atrás", "zh": "<- 返回"},
    "help": {"en": "? help", "es": "? ayuda", "zh": "? 帮助"},
    "skip": {"en": ">> skip (optional)", "es": ">> omitir (opcional)", "zh": ">> 跳过 (可选)"},
    "section": {
        "en": "# sections, review, quit...",
        "es": "# secciones, revisión, salir...",
        "zh": "# 章节、审查、退出...",
    },
    "note": {"en": "+ note / evidence", "es": "+ nota / evidencia", "zh": "+ 备注 / 证据"},
    "cancel": {"en": "x cancel this item", "es": "x cancelar este elemento"},
    "keys": {
        "en": "Keys: '<' back · '?' help · ':skip' optional · ':section' jump/review/quit · "
        ":note add a note · Ctrl-C saves the draft and stops",
        "es": "Teclas: '<' atrás · '?' ayuda · ':skip' opcional · ':section' saltar/revisar/"
        "salir · ':note' añadir nota · Ctrl-C guarda el borrador y sale",
    },
    "last": {"en": "last inspection", "es": "última inspección", "zh": "上次检查"},
    "required": {
        "en": "an answer is required ('<' goes back)",
        "es": "la respuesta es obligatoria ('<' vuelve atrás)",
        "zh": "必须回答",
    },
    "no_help": {"en": "No help for this question.", "es": "Esta pregunta no tiene ayuda."},
    "section_of": {"en": "Section {k} of {n}", "es": "Sección {k} de {n}", "zh": "第 {k}/{n} 部分"},
    "draft_at": {
        "en": "Draft saved after every answer to: {path}",
        "es": "El borrador se guarda tras cada respuesta en: {path}",
    },
    "resume_hint": {
        "en": "Draft saved: {path}\nContinue with: postloan inspect --resume {path}",
        "es": "Borrador guardado: {path}\nContinúe con: postloan inspect --resume {path}",
    },
    "nothing_saved": {
        "en": "Stopped before the loan id and date were known: nothing was saved.",
        "es": "Detenido antes de conocer el préstamo y la fecha: no se guardó nada.",
    },
    "dropped": {
        "en": "Dropped the answer to '{q}': its condition no longer holds ({when}).",
        "es": "Se descartó la respuesta a '{q}': su condición ya no se cumple ({when}).",
    },
    "changed": {
        "en": "changed since the last inspection (was: {was})",
        "es": "cambió desde la última inspección (antes: {was})",
    },
    "signal": {
        "en": "{sev} signal: {text}",
        "es": "señal {sev}: {text}",
        "zh": "{sev} 预警: {text}",
    },
    "cleared": {"en": "no longer fires: {text}", "es": "ya no se activa: {text}"},
    "add_evidence": {
        "en": "A warning signal fired. Note or evidence for this answer (Enter to skip)",
        "es": "Se activó una señal de alerta. Nota o evidencia de esta respuesta (Intro omite)",
    },
    "note_prompt": {"en": "Note for this answer", "es": "Nota para esta respuesta"},
    "evidence_prompt": {
        "en": "Evidence references, comma-separated (Enter for none)",
        "es": "Referencias de evidencia, separadas por comas (Intro: ninguna)",
    },
    "group_next": {"en": "What next?", "es": "¿Qué sigue?", "zh": "下一步?"},
    "group_add": {"en": "add an item", "es": "añadir un elemento", "zh": "添加"},
    "group_edit": {"en": "edit an item", "es": "editar un elemento", "zh": "编辑"},
    "group_remove": {"en": "remove an item", "es": "quitar un elemento", "zh": "删除"},
    "group_done": {"en": "done", "es": "terminado", "zh": "完成"},
    "group_which": {"en": "Which item?", "es": "¿Qué elemento?", "zh": "哪一项?"},
    "group_none": {"en": "(no items yet)", "es": "(aún no hay elementos)"},
    "group_carried": {
        "en": "{n} item(s) carried over from the last inspection: edit or remove as needed.",
        "es": "{n} elemento(s) de la última inspección: edítelos o quítelos si hace falta.",
    },
    "item": {"en": "item", "es": "elemento", "zh": "项"},
    "jump_to": {"en": "Go to", "es": "Ir a", "zh": "转到"},
    "review_now": {"en": "review the answers so far", "es": "revisar las respuestas"},
    "save_quit": {"en": "save the draft and quit", "es": "guardar el borrador y salir"},
    "stay": {"en": "stay here", "es": "quedarse aquí"},
    "finish": {
        "en": "Write the answer file and the reports",
        "es": "Escribir el archivo de respuestas y los informes",
    },
    "finish_q": {"en": "All done. What now?", "es": "Todo listo. ¿Y ahora?"},
    "missing": {
        "en": "Still to answer: {names}",
        "es": "Falta responder: {names}",
    },
    "suggested": {
        "en": "Suggested classification: {c}",
        "es": "Clasificación sugerida: {c}",
        "zh": "建议分类: {c}",
    },
    "no_signals": {"en": "No warning signals.", "es": "Sin señales de alerta.", "zh": "无预警信号"},
    "computed": {"en": "Computed values", "es": "Valores calculados", "zh": "计算值"},
    "signals": {"en": "Warning signals", "es": "Señales de alerta", "zh": "预警信号"},
    "answers": {"en": "Answers", "es": "Respuestas", "zh": "回答"},
    "exists": {
        "en": "{path} already exists; use --force to overwrite it, or change the date.",
        "es": "{path} ya existe; use --force para sobrescribirlo, o cambie la fecha.",
    },
    "draft_exists": {
        "en": "A draft of this inspection exists: {path}",
        "es": "Existe un borrador de esta inspección: {path}",
    },
    "continue_draft": {"en": "continue the draft", "es": "continuar el borrador"},
    "start_over": {
        "en": "start over (the draft is replaced)",
        "es": "empezar de nuevo (se reemplaza el borrador)",
    },
    "will_write": {"en": "  will write: {path}", "es": "  se escribirá: {path}"},
    "wrote": {"en": "wrote {what}: {path}", "es": "escrito {what}: {path}"},
    "same_as": {
        "en": "The reports are those of: postloan inspect --answers {path}",
        "es": "Los informes son los de: postloan inspect --answers {path}",
    },
    "decimal_mark": {
        "en": "write numbers with '.' for decimals and no other separator "
        "than ',' between thousands, e.g. 1234567.89",
        "es": "escriba los números con '.' decimal y, si acaso, ',' entre millares, "
        "p. ej. 1234567.89",
    },
    "facts_from_previous": {
        "en": "Loan facts taken from the last inspection ({date}); '# sections' to change them.",
        "es": "Datos del préstamo tomados de la última inspección ({date}).",
    },
    "conclusion": {"en": "conclusion", "es": "conclusión", "zh": "结论"},
    "question_of": {
        "en": "question {i} of {n}",
        "es": "pregunta {i} de {n}",
        "zh": "第 {i}/{n} 题",
    },
}

_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?%?$")


# --- prompters ----------------------------------------------------------------------


Choices = Sequence[tuple[str, Any]]
Validator = Callable[[str], str | None]


class Prompter(Protocol):
    """How one question is put to the officer."""

    def select(self, message: str, choices: Choices, default: Any = None) -> Any: ...

    def checkbox(
        self,
        message: str,
        choices: Choices,
        checked: Sequence[Any],
        validate: Callable[[list[Any]], str | None],
    ) -> list[Any]: ...

    def text(self, message: str, default: str, validate: Validator) -> str: ...


class QuestionaryPrompter:
    """Arrow-key lists and validated text fields (questionary over prompt_toolkit)."""

    def __init__(self, **session: Any) -> None:
        #: Passed to each prompt (tests give ``input=`` and ``output=``).
        self.session = session

    def _style(self) -> Any:
        from questionary import Style

        if os.environ.get("NO_COLOR"):
            return Style([("selected", "noinherit"), ("highlighted", "reverse")])
        return None

    def select(self, message: str, choices: Choices, default: Any = None) -> Any:
        import questionary

        items = [questionary.Choice(title=label, value=value) for label, value in choices]
        chosen = next((c for c in items if c.value == default), None)
        shortcuts = len(items) <= 36
        return questionary.select(
            message,
            choices=items,
            default=chosen,
            use_shortcuts=shortcuts,
            use_jk_keys=not shortcuts,
            style=self._style(),
            instruction=" ",
            **self.session,
        ).unsafe_ask()

    def checkbox(
        self,
        message: str,
        choices: Choices,
        checked: Sequence[Any],
        validate: Callable[[list[Any]], str | None],
    ) -> list[Any]:
        import questionary

        items = [
            questionary.Choice(title=label, value=value, checked=value in checked)
            for label, value in choices
        ]

        def check(selected: list[Any]) -> bool | str:
            error = validate(selected)
            return True if error is None else error

        result: list[Any] = questionary.checkbox(
            message,
            choices=items,
            validate=check,
            style=self._style(),
            instruction="(space: tick, Enter: confirm)",
            **self.session,
        ).unsafe_ask()
        return result

    def text(self, message: str, default: str, validate: Validator) -> str:
        import questionary

        def check(text: str) -> bool | str:
            error = validate(text)
            return True if error is None else error

        result: str = questionary.text(
            message, default=default, validate=check, style=self._style(), **self.session
        ).unsafe_ask()
        return result


class PlainPrompter:
    """Line by line, numbered choices: for ``TERM=dumb`` and other plain terminals."""

    def __init__(
        self,
        read: Callable[[str], str] = input,
        write: Callable[[str], Any] | None = None,
    ) -> None:
        self.read = read
        self.write = write or (lambda text: print(text, flush=True))

    def _ask(self, prompt: str) -> str:
        return self.read(prompt)

    def select(self, message: str, choices: Choices, default: Any = None) -> Any:
        self.write(message)
        default_no = None
        for number, (label, value) in enumerate(choices, 1):
            mark = "*" if value == default else " "
            if value == default:
                default_no = number
            self.write(f" {mark}{number:>2}) {label}")
        while True:
            hint = f" [{default_no}]" if default_no else ""
            reply = self._ask(f"number{hint}: ").strip()
            if not reply and default_no:
                return choices[default_no - 1][1]
            if reply in COMMANDS:
                nav = COMMANDS[reply]
                if any(value == nav for _, value in choices):
                    return nav
            if reply.isdigit() and 1 <= int(reply) <= len(choices):
                return choices[int(reply) - 1][1]
            self.write(f"  ! type a number from 1 to {len(choices)}")

    def checkbox(
        self,
        message: str,
        choices: Choices,
        checked: Sequence[Any],
        validate: Callable[[list[Any]], str | None],
    ) -> list[Any]:
        self.write(message + "  (numbers separated by spaces)")
        for number, (label, value) in enumerate(choices, 1):
            mark = "x" if value in checked else " "
            self.write(f"  [{mark}] {number:>2}) {label}")
        while True:
            reply = self._ask("numbers: ").strip()
            if reply in COMMANDS:
                return [COMMANDS[reply]]
            if not reply:
                selected = [v for _, v in choices if v in checked]
            else:
                parts = reply.replace(",", " ").split()
                if not all(p.isdigit() and 1 <= int(p) <= len(choices) for p in parts):
                    self.write(f"  ! type numbers from 1 to {len(choices)}")
                    continue
                selected = [choices[int(p) - 1][1] for p in dict.fromkeys(parts)]
            error = validate(selected)
            if error is None:
                return selected
            self.write(f"  ! {error}")

    def text(self, message: str, default: str, validate: Validator) -> str:
        while True:
            hint = f" [{default}]" if default else ""
            reply = self._ask(f"{message}{hint}: ")
            if not reply.strip() and default:
                reply = default
            error = validate(reply)
            if error is None:
                return reply
            self.write(f"  ! {error}")


# --- the session ------------------------------------------------------------------


class Session:
    """One interactive inspection: asks the interview's steps and shows feedback."""

    def __init__(
        self,
        interview: Interview,
        prompter: Prompter,
        console: Console,
        saver: DraftSaver,
        options: InteractiveOptions,
        *,
        final: Path | None = None,
    ) -> None:
        self.iv = interview
        self.prompter = prompter
        self.console = console
        self.saver = saver
        self.options = options
        self.final_override = final
        self.lang = interview.lang
        self._shown_section: str | None = None
        self._announced_draft = saver.path is not None
        self._checked_target: tuple[str, dt.date] | None = None
        if options.resume is None:
            # Nothing is written before the loan id and date are checked (check_target).
            saver.active = False

    # --- words ----------------------------------------------------------------

    def t(self, key: str, **values: Any) -> str:
        text = localize(UI[key], self.lang, "en")
        return text.format(**values) if values else text

    def loc(self, text: Text | None) -> str:
        return self.iv.text(text)

    def say(self, text: str, style: str | None = None) -> None:
        self.console.print(text, style=style, markup=False, highlight=False)

    # --- paths ----------------------------------------------------------------

    def final_path(self) -> Path | None:
        from postloan_cli.answer_writer import final_path

        if self.final_override is not None:
            return self.final_override
        loan_id, date = self.iv.loan_id, self.iv.inspection_date
        if loan_id is None or date is None:
            return None
        if self.options.resume is not None and self.options.resume.name.endswith(".draft.yaml"):
            return self.options.resume.parent / f"{date.isoformat()}.yaml"
        return final_path(self.options.inspections, loan_id, date)

    def report_paths(self, final: Path) -> dict[str, Path]:
        from postloan_cli.outputs import inside, safe_name

        loan_id = self.iv.loan_id or "_"
        stem = PurePath(safe_name(loan_id)) / final.name
        return {
            fmt: inside(self.options.output, stem.with_suffix(f".{fmt}"))
            for fmt in self.options.render.formats
        }

    def existing_finals(self) -> list[Path]:
        if self.options.force:
            return []
        final = self.final_path()
        if final is None:
            return []
        paths = [final, *self.report_paths(final).values()]
        return [p for p in paths if p.exists()]

    # --- the loop ---------------------------------------------------------------

    def run(self) -> int:
        self.say(self.t("keys"), style="dim")
        if self.iv.previous_date is not None and self.options.resume is None:
            self.say(self.t("facts_from_previous", date=self.iv.previous_date.isoformat()))
        self.announce_draft()
        while True:
            step = self.iv.current
            if step is None:
                code = self.finish()
                if code is not None:
                    return code
                continue
            if self.check_target():
                continue
            self.show_section(step)
            try:
                self.ask(step)
            except NavigationError as exc:
                self.say(f"  ! {exc.message}", style="bold")

    def announce_draft(self) -> None:
        if not self._announced_draft and self.saver.path is not None:
            self.say(self.t("draft_at", path=self.saver.path), style="dim")
            self._announced_draft = True

    def check_target(self) -> bool:
        """Once the loan id and date are known: refuse existing finals, offer an existing draft."""
        loan_id, date = self.iv.loan_id, self.iv.inspection_date
        if loan_id is None or date is None or self._checked_target == (loan_id, date):
            return False
        current = self.iv.current
        if current is not None and current.key in ("loan.id", "inspection.date"):
            return False
        self._checked_target = (loan_id, date)
        existing = self.existing_finals()
        if existing:
            self.say(self.t("exists", path=existing[0]), style="bold")
            self._checked_target = None
            self.iv.goto("inspection.date")
            return True
        if self.options.resume is None and self.saver.path is None:
            target = self.saver.target(self.iv)
            if target is not None and target.exists():
                self.say(self.t("draft_exists", path=target))
                choice = self.prompter.select(
                    self.t("group_next"),
                    [(self.t("continue_draft"), "continue"), (self.t("start_over"), "over")],
                    "continue",
                )
                if choice == "continue":
                    self.continue_draft(target)
                    return True
        self.saver.active = True
        self.saver.save(self.iv)
        self.announce_draft()
        return False

    def continue_draft(self, path: Path) -> None:
        from postloan_cli import yamlio

        doc = yamlio.load(path)
        interview, problems = Interview.from_draft(
            self.iv.checklist,
            doc.data,
            lang=self.iv.lang,
            today=self.iv.today,
            on_change=self.saver.save,
        )
        interview.previous_values = self.iv.previous_values or interview.previous_values
        for problem in problems:
            self.say(f"  ! {problem}")
        self.iv = interview
        self.saver.path = path
        self.saver.active = True
        self._checked_target = (interview.loan_id or "", interview.inspection_date or dt.date.min)
        self.announce_draft()

    def show_section(self, step: Step) -> None:
        if step.section_id == self._shown_section:
            return
        self._shown_section = step.section_id
        progress = self.iv.progress()
        title = self.loc(step.section_title)
        if step.section_id not in (FACTS_SECTION, OPINION_SECTION):
            title = (
                self.t("section_of", k=progress.section_number, n=progress.section_count)
                + f": {title}"
            )
        self.say(f"=== {title} ===", style="bold")
        if step.section_id == OPINION_SECTION:
            self.review()

    # --- asking one step ----------------------------------------------------------

    def header(self, step: Step) -> str:
        progress = self.iv.progress()
        if step.kind == "conclusion":
            where = self.t("conclusion")
        else:
            where = f"{progress.question_number}/{progress.question_count}"
        prompt = self.loc(step.question.prompt)
        suffix = self.unit(step.question)
        return f"({where}) {prompt}{suffix}"

    def unit(self, question: AnyQuestion) -> str:
        if isinstance(question, MoneyQuestion):
            return f" ({question.currency or self.iv.currency})"
        if isinstance(question, PercentQuestion):
            return "" if "%" in self.loc(question.prompt) else " (%)"
        if isinstance(question, DecimalQuestion | IntegerQuestion) and question.unit:
            return f" ({self.loc(question.unit)})"
        if isinstance(question, DateQuestion):
            return "" if "YYYY" in self.loc(question.prompt) else " (YYYY-MM-DD)"
        return ""

    def extras(self, step: Step) -> list[tuple[str, Any]]:
        extras: list[tuple[str, Any]] = [(self.t("back"), BACK)]
        if step.question.help:
            extras.append((self.t("help"), HELP))
        if not step.required:
            extras.append((self.t("skip"), SKIP))
        if step.kind == "question":
            extras.append((self.t("note"), NOTE))
        extras.append((self.t("section"), SECTION))
        return extras

    def ask(self, step: Step) -> None:
        question = step.question
        previous = self.iv.previous_value(step)
        if previous is not None and not isinstance(question, GroupQuestion):
            self.say(f"  {self.t('last')}: {self.iv.display(step, previous)}", style="dim")
        if isinstance(question, GroupQuestion):
            self.ask_group(step, question)
            return
        reply = self.prompt_value(
            step, question, self.header(step), self.extras(step), self.iv.default(step)
        )
        if isinstance(reply, Nav):
            self.navigate(step, reply)
            return
        if reply is None:
            self.show(self.iv.skip(), step)
            return
        feedback = self.iv.answer(reply, step=step)
        self.show(feedback, step)

    def prompt_value(
        self,
        step: Step | None,
        question: AnyQuestion,
        message: str,
        extras: list[tuple[str, Any]],
        default: Any,
    ) -> Any:
        """One value for ``question``: typed, ``None`` (left empty) or a :class:`Nav`."""
        if isinstance(question, YesNoQuestion | SingleChoiceQuestion):
            choices: list[tuple[str, Any]]
            if isinstance(question, YesNoQuestion):
                choices = [
                    (self.loc({"en": "yes", "es": "sí", "zh": "是"}), True),
                    (self.loc({"en": "no", "es": "no", "zh": "否"}), False),
                ]
            else:
                choices = [(self.loc(c.label), c.id) for c in question.choices]
            choices = self.mark_previous(step, choices)
            if not question.required:
                extras = [e for e in extras if e[1] is not SKIP] + [(self.t("skip"), SKIP)]
            return self.prompter.select(message, [*choices, *extras], default)
        if isinstance(question, MultipleChoiceQuestion):
            options = self.mark_previous(
                step, [(self.loc(c.label), c.id) for c in question.choices]
            )

            def check_many(selected: list[Any]) -> str | None:
                if any(isinstance(v, Nav) for v in selected):
                    return None
                try:
                    self.iv.check(question, selected)
                except _REFUSED as exc:
                    return getattr(exc, "message", str(exc))
                return None

            selected = self.prompter.checkbox(
                message, [*options, *extras], list(default or []), check_many
            )
            navs = [v for v in selected if isinstance(v, Nav)]
            return navs[0] if navs else selected
        return self.prompt_text(step, question, message, default)

    def mark_previous(
        self, step: Step | None, choices: list[tuple[str, Any]]
    ) -> list[tuple[str, Any]]:
        previous = self.iv.previous_value(step) if step is not None else None
        if previous is None:
            return choices
        marks = set(previous) if isinstance(previous, list) else {previous}
        last = self.t("last")
        return [
            (f"{label}   ({last})" if value in marks else label, value) for label, value in choices
        ]

    def prompt_text(
        self, step: Step | None, question: AnyQuestion, message: str, default: Any
    ) -> Any:
        required = question.required

        def validate(text: str) -> str | None:
            stripped = text.strip()
            if stripped in COMMANDS:
                return None
            if not stripped:
                return None if not required else self.t("required")
            numeric = IntegerQuestion | DecimalQuestion | MoneyQuestion | PercentQuestion
            compact = stripped.replace(" ", "")
            if (
                isinstance(question, numeric)
                and not _NUMBER.match(compact)
                and re.match(r"^[+-]?[\d.,]+%?$", compact)
            ):
                return self.t("decimal_mark")
            try:
                if step is not None:
                    self.iv.validate(step, stripped)
                else:
                    self.iv.check(question, stripped)
            except _REFUSED as exc:
                return getattr(exc, "message", str(exc))
            return None

        reply = self.prompter.text(message, _as_text(default), validate).strip()
        if reply in COMMANDS:
            return COMMANDS[reply]
        if not reply:
            return None
        if isinstance(
            question, IntegerQuestion | DecimalQuestion | MoneyQuestion | PercentQuestion
        ):
            reply = reply.replace(" ", "")
        return reply

    def navigate(self, step: Step, nav: Nav) -> None:
        if nav == BACK:
            self.iv.back()
        elif nav == HELP:
            help_text = self.loc(step.question.help) or self.t("no_help")
            self.say(help_text, style="italic")
        elif nav == SKIP:
            self.show(self.iv.skip(), step)
        elif nav == NOTE:
            self.ask_note(step, self.t("note_prompt"))
        elif nav == SECTION:
            self.menu()
        elif nav == REVIEW:
            self.review()
        elif nav == QUIT:
            raise _Interrupted
        elif nav == CANCEL:
            pass

    def ask_note(self, step: Step, message: str) -> None:
        if step.kind != "question":
            raise NavigationError("notes can be added to checklist questions only")
        note = self.prompter.text(message, self.iv.notes.get(step.key, ""), lambda _t: None)
        if note.strip() in COMMANDS:
            return
        refs = self.prompter.text(
            self.t("evidence_prompt"),
            ", ".join(self.iv.evidence.get(step.key, [])),
            lambda _t: None,
        )
        evidence = [] if refs.strip() in COMMANDS else refs.split(",")
        self.iv.set_note(note, evidence, step=step)

    def menu(self) -> None:
        choices: list[tuple[str, Any]] = [
            (self.loc(title), ("jump", sid)) for sid, title in self.iv.sections()
        ]
        choices += [
            (self.t("review_now"), ("review", "")),
            (self.t("save_quit"), ("quit", "")),
            (self.t("stay"), ("stay", "")),
        ]
        action, target = self.prompter.select(self.t("jump_to"), choices, ("stay", ""))
        if action == "jump":
            self.iv.jump(target)
            self._shown_section = None
        elif action == "review":
            self.review()
        elif action == "quit":
            raise _Interrupted

    # --- feedback -----------------------------------------------------------------

    def show(self, feedback: Feedback, step: Step) -> None:
        for dropped in feedback.dropped:
            self.say(
                "  ! "
                + self.t(
                    "dropped",
                    q=self.loc(dropped.question.prompt),
                    when=dropped.question.when or "inspection.kind",
                ),
                style="yellow",
            )
        if feedback.changed:
            self.say(
                "  ~ " + self.t("changed", was=self.iv.display(step, feedback.changed_from)),
                style="cyan",
            )
        for view in feedback.computed:
            label = self.loc(view.label) + (f" ({view.item})" if view.item else "")
            value = format_computed(view.value, view.format, self.iv.currency)
            self.say(f"  = {label}: {value}", style="cyan")
        for signal in feedback.fired:
            self.say("  !! " + self.signal_line(signal), style="bold red")
        for signal in feedback.cleared:
            self.say("  -- " + self.t("cleared", text=self.signal_text(signal)), style="dim")
        if feedback.fired and step.kind == "question":
            self.ask_note(step, self.t("add_evidence"))

    def signal_text(self, signal: Signal) -> str:
        text = self.loc(signal.text)
        return f"{text} ({signal.item})" if signal.item else text

    def signal_line(self, signal: Signal) -> str:
        line = self.t("signal", sev=signal.severity.value.upper(), text=self.signal_text(signal))
        evidence = [
            f"{self.loc(e.label)} {format_computed(e.value, e.format, self.iv.currency)}"
            for e in signal.evidence
            if e.kind in ("computed", "threshold")
        ]
        if evidence:
            line += " [" + "; ".join(evidence) + "]"
        if signal.action:
            line += f" -> {self.loc(signal.action).rstrip('.')}"
        if signal.escalate_to:
            due = f" by {signal.due.isoformat()}" if signal.due else ""
            line += f"; escalate to {self.loc(signal.escalate_to)}{due}"
        return line

    def review(self) -> None:
        from rich.table import Table

        iv = self.iv
        table = Table(title=self.t("answers"), title_justify="left", show_lines=False)
        table.add_column("question")
        table.add_column("answer")
        table.add_column("")
        section = None
        for step in iv.steps:
            if step.kind == "opinion" or not iv.is_active(step):
                continue
            if step.section_id != section:
                section = step.section_id
                table.add_row(_plain(self.loc(step.section_title).upper()), "", "")
            value = iv.values.get(step.key)
            if step.kind == "conclusion" and value is None:
                continue
            shown = iv.display(step, value) if step.key in iv.values else "—"
            mark = ""
            if iv.changed_from_previous(step):
                mark = "changed"
            elif step.required and step.key not in iv.values:
                mark = "missing"
            prompt = self.loc(step.question.prompt)
            if step.key in iv.notes:
                shown += f"  (note: {iv.notes[step.key]})"
            table.add_row(_plain(prompt), _plain(shown), mark)
        self.console.print(table)
        ev = iv.evaluation
        if ev is None:
            return
        computed = [
            (self.loc(c.computed.label), ev.computed.get(c.computed.id), c.computed.format)
            for c in ev.checklist.computed
        ]
        computed = [c for c in computed if c[1] is not None]
        if computed:
            self.say(self.t("computed") + ":", style="bold")
            for label, value, fmt in computed:
                self.say(f"  {label}: {format_computed(value, fmt, iv.currency)}")
        if ev.signals:
            self.say(self.t("signals") + f" ({len(ev.signals)}):", style="bold")
            for signal in ev.signals:
                self.say("  " + self.signal_line(signal))
        else:
            self.say(self.t("no_signals"))
        label = display_value(
            iv.step("opinion.proposed_classification").question,
            ev.suggested.value,
            iv.lang,
            iv.default_language,
        )
        self.say(self.t("suggested", c=label), style="bold")
        missing = [s for s in iv.missing() if s.kind != "opinion"]
        if missing:
            names = ", ".join(self.loc(s.question.prompt) for s in missing[:5])
            self.say(self.t("missing", names=names), style="bold")

    # --- repeating groups -----------------------------------------------------------

    def ask_group(self, step: Step, group: GroupQuestion) -> None:
        iv = self.iv
        items: list[dict[str, Any]] = [dict(i) for i in (iv.values.get(step.key) or [])]
        if step.key not in iv.values and iv.previous_value(step):
            items = [dict(i) for i in iv.previous_value(step)]
            self.say("  " + self.t("group_carried", n=len(items)), style="dim")
        while True:
            self.say(self.header(step), style="bold")
            self.show_items(group, items)
            choices: list[tuple[str, Any]] = [(self.t("group_add"), "add")]
            if items:
                choices += [(self.t("group_edit"), "edit"), (self.t("group_remove"), "remove")]
            choices.append((self.t("group_done"), "done"))
            extras = self.extras(step)
            choice = self.prompter.select(
                self.t("group_next"), [*choices, *extras], "done" if items else "add"
            )
            if isinstance(choice, Nav):
                if choice == SKIP and items:
                    items = []
                self.navigate(step, choice)
                return
            if choice == "add":
                item = self.ask_item(step, group, {}, len(items))
                if item is not None:
                    items.append(item)
                    self.show(iv.set_group_items(items, step=step), step)
            elif choice in ("edit", "remove"):
                index = self.prompter.select(
                    self.t("group_which"),
                    [(self.item_name(group, it, i), i) for i, it in enumerate(items)]
                    + [(self.t("back"), BACK)],
                    0,
                )
                if isinstance(index, Nav):
                    continue
                if choice == "remove":
                    items.pop(index)
                    self.show(iv.set_group_items(items, step=step), step)
                else:
                    item = self.ask_item(step, group, items[index], index)
                    if item is not None:
                        items[index] = item
                        self.show(iv.set_group_items(items, step=step), step)
            else:
                try:
                    feedback = iv.answer(items, step=step)
                except _REFUSED as exc:
                    self.say("  ! " + getattr(exc, "message", str(exc)), style="bold")
                    continue
                self.show(feedback, step)
                return

    def item_name(self, group: GroupQuestion, item: dict[str, Any], index: int) -> str:
        from postloan_cli.evaluation import item_label

        return f"{index + 1}. {item_label(group, item, index)}"

    def show_items(self, group: GroupQuestion, items: list[dict[str, Any]]) -> None:
        if not items:
            self.say("  " + self.t("group_none"), style="dim")
            return
        for index, item in enumerate(items):
            parts = [
                f"{self.loc(f.prompt)}: {display_value(f, item.get(f.id), self.lang)}"
                for f in group.fields
                if item.get(f.id) is not None and f.id != group.item_label
            ]
            self.say(f"  {self.item_name(group, item, index)} — " + "; ".join(parts))

    def ask_item(
        self, step: Step, group: GroupQuestion, current: dict[str, Any], index: int
    ) -> dict[str, Any] | None:
        """Ask each field of one item; ``None`` when the officer cancels it."""
        item = dict(current)
        position = 0
        fields = group.fields
        while position < len(fields):
            field_q = fields[position]
            label = f"{self.t('item')} {index + 1} · {self.loc(field_q.prompt)}"
            message = label + self.unit(field_q)
            extras: list[tuple[str, Any]] = [(self.t("back"), BACK)]
            if field_q.help:
                extras.append((self.t("help"), HELP))
            extras.append((self.t("cancel"), CANCEL))
            reply = self.prompt_value(
                None, field_q, message, extras, item.get(field_q.id, field_q.default)
            )
            if reply == BACK:
                if position == 0:
                    return None
                position -= 1
                continue
            if reply == CANCEL:
                return None
            if reply == HELP:
                self.say(self.loc(field_q.help) or self.t("no_help"), style="italic")
                continue
            if isinstance(reply, Nav):
                continue
            if reply is None:
                item.pop(field_q.id, None)
            else:
                item[field_q.id] = self.iv.check(field_q, reply)
            position += 1
        try:
            return self.iv.validate_item(group, item)
        except _REFUSED as exc:
            self.say("  ! " + getattr(exc, "message", str(exc)), style="bold")
            return None

    # --- the end ----------------------------------------------------------------------

    def finish(self) -> int | None:
        """Where the files go, then write the answer file and reports; ``None`` to go on."""
        iv = self.iv
        ev = iv.evaluation
        final = self.final_path()
        if ev is not None and final is not None:
            question = iv.step("opinion.proposed_classification").question
            proposed = iv.values.get("opinion.proposed_classification")
            self.say(
                self.t("suggested", c=display_value(question, ev.suggested.value, self.lang))
                + f"   ->   {display_value(question, proposed, self.lang)}",
                style="bold",
            )
            self.say(self.t("will_write", path=final))
            for path in self.report_paths(final).values():
                self.say(self.t("will_write", path=_shown(path)))
        choice = self.prompter.select(
            self.t("finish_q"),
            [(self.t("finish"), "write"), (self.t("back"), BACK), (self.t("section"), SECTION)],
            "write",
        )
        if choice == BACK:
            self.iv.back()
            return None
        if choice == SECTION:
            self.menu()
            return None
        return self.write_final()

    def write_final(self) -> int:
        from postloan_cli.answer_writer import dump_answer_file
        from postloan_cli.errors import InputError
        from postloan_cli.outputs import atomic_write, safe_name
        from postloan_cli.pipeline import inspect_answers

        final = self.final_path()
        assert final is not None
        existing = self.existing_finals()
        if existing:
            self.say(self.t("exists", path=existing[0]), style="bold")
            self.say(self.t("resume_hint", path=self.saver.path))
            return EXIT_INPUT
        text = dump_answer_file(self.iv.answer_file_dict("final"))
        try:
            atomic_write(final, text, durable=True)
            self.say(self.t("wrote", what="answers", path=final))
            result = inspect_answers(
                final,
                self.options.output,
                self.options.render,
                relative=PurePath(safe_name(self.iv.loan_id or "_")) / final.name,
            )
        except InputError as exc:
            for problem in exc.problems:
                self.say(problem.format(), style="bold")
            return EXIT_INPUT
        self.saver.discard()
        for fmt, path in result.written.items():
            self.say(self.t("wrote", what=fmt, path=_shown(path)))
        self.say(self.t("same_as", path=final), style="dim")
        return EXIT_OK


def _shown(path: Path) -> Path:
    """``path`` relative to the current folder when it is inside it (shorter to read)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _as_text(value: Any) -> str:
    """A default as the text to pre-fill a prompt with."""
    if value is None:
        return ""
    if isinstance(value, Money):
        return format(money_amount(value.amount), "f")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _plain(text: str) -> Any:
    from rich.text import Text as RichText

    return RichText(text)


# --- entry point ----------------------------------------------------------------------


def make_console() -> Console:
    """A console honouring ``NO_COLOR`` and ``TERM=dumb`` (rich reads both)."""
    from rich.console import Console

    return Console(highlight=False)


def make_prompter() -> Prompter:
    if os.environ.get("TERM") == "dumb":
        return PlainPrompter()
    return QuestionaryPrompter()


def _newest_version(checklist_id: str, dirs: Sequence[Path]) -> str | None:
    from postloan_cli import resources

    versions = resources.checklist_versions(checklist_id, dirs)
    return versions[-1] if versions else None


def _load_previous(path: Path, dirs: Sequence[Path]) -> AnswerFile:
    from postloan_cli.errors import InputError, Problem
    from postloan_cli.loading import load_answers

    loaded = load_answers(path, dirs)
    if loaded.answers.status == "draft":
        raise InputError(
            [Problem("PL309", "is a draft; give the previous *final* answer file", str(path))]
        )
    return loaded.answers


def _start(
    options: InteractiveOptions, today: dt.date | None
) -> tuple[Interview, DraftSaver, list[str]]:
    """The interview to run: new, from ``--previous``, or resumed from a draft."""
    from postloan_cli import resources, yamlio
    from postloan_cli.answer_writer import DraftSaver, previous_from_draft
    from postloan_cli.errors import InputError, Problem
    from postloan_cli.loading import find_checklist

    dirs = resources.search_path("checklists", options.render.checklist_dirs)
    lang = options.render.lang
    notes: list[str] = []
    if options.resume is not None:
        doc = yamlio.load(options.resume)
        data = doc.data
        if data.get("status") != "draft":
            raise InputError(
                [Problem("PL309", "is not a draft (status: draft); nothing to resume", doc.file)]
            )
        ref = data.get("checklist") if isinstance(data.get("checklist"), dict) else {}
        checklist: CompiledChecklist = find_checklist(
            str(ref.get("id")), str(ref.get("version")), dirs, referrer=doc.file
        )
        previous_path = options.previous or previous_from_draft(doc.text)
        previous = None
        if previous_path is not None and previous_path.exists():
            previous = _load_previous(previous_path, options.render.checklist_dirs)
        saver = DraftSaver(options.inspections, previous=previous_path, path=options.resume)
        interview, problems = Interview.from_draft(
            checklist, data, lang=lang, today=today, previous=previous, on_change=saver.save
        )
        notes += problems
        if options.loan and interview.loan_id and options.loan != interview.loan_id:
            raise InputError(
                [
                    Problem(
                        "PL300",
                        f"the draft is for loan {interview.loan_id}, not {options.loan}",
                        doc.file,
                    )
                ]
            )
        return interview, saver, notes
    previous = None
    if options.previous is not None:
        previous = _load_previous(options.previous, options.render.checklist_dirs)
        if options.loan and options.loan != previous.loan.id:
            raise InputError(
                [
                    Problem(
                        "PL300",
                        f"the previous inspection is of loan {previous.loan.id}, "
                        f"not {options.loan}",
                        str(options.previous),
                    )
                ]
            )
    version = options.checklist_version or _newest_version(options.checklist, dirs)
    if version is None:
        ids = resources.checklist_ids(dirs)
        raise InputError(
            [
                Problem(
                    "PL205",
                    f"no checklist with id '{options.checklist}'; checklists "
                    f"available: {', '.join(ids) or 'none'}",
                )
            ]
        )
    checklist = find_checklist(options.checklist, version, dirs)
    saver = DraftSaver(options.inspections, previous=options.previous)
    interview = Interview(
        checklist,
        lang=lang,
        today=today,
        loan_id=options.loan,
        previous=previous,
        on_change=saver.save,
    )
    return interview, saver, notes


def run_interactive(
    options: InteractiveOptions,
    *,
    prompter: Prompter | None = None,
    console: Console | None = None,
    today: dt.date | None = None,
) -> int:
    """Run one interactive inspection; return the exit code.

    0: answer file and reports written; 2: input error (a bad previous file,
    an unknown checklist, a final file that exists without ``--force``);
    130: interrupted (the draft is kept and can be resumed).
    """
    from postloan_cli.errors import InputError

    out = console or make_console()
    try:
        interview, saver, notes = _start(options, today)
    except InputError as exc:
        from postloan_cli.cli._edge import print_problems

        print_problems(exc.problems)
        return EXIT_INPUT
    session = Session(interview, prompter or make_prompter(), out, saver, options)
    for note in notes:
        session.say(f"  ! {note}")
    try:
        return session.run()
    except (KeyboardInterrupt, EOFError, _Interrupted):
        out.print()
        if saver.path is not None and saver.path.exists():
            session.say(session.t("resume_hint", path=saver.path))
        else:
            session.say(session.t("nothing_saved"))
        return EXIT_INTERRUPTED
