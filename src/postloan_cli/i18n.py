"""Languages: choosing the text for a language, with a fallback that is never empty."""

from __future__ import annotations

import copy
import datetime as dt
import functools
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING

from postloan_cli.models import Text

if TYPE_CHECKING:
    from babel import Locale
    from babel.numbers import NumberPattern


def localize(text: Text | None, lang: str, default: str = "en") -> str:
    """``text`` in ``lang``; else the checklist's default language; else any language.

    A missing translation falls back, never to an empty string (unless the
    text itself is absent).
    """
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    for candidate in (lang, lang.split("-")[0], default):
        value = text.get(candidate)
        if value:
            return value
    for value in text.values():
        if value:
            return value
    return ""


# --- locale-aware formatting (Babel) ---------------------------------------------
#
# Reports format numbers, money, percentages and dates for the report language.
# Babel's locale objects and parsed number patterns are cached per process:
# batch renders call these thousands of times. Unknown or malformed locale
# strings fall back to English, never to an error.

FALLBACK_LANG = "en"


@functools.lru_cache(maxsize=64)
def babel_locale(lang: str | None) -> Locale:
    """The Babel locale for ``lang`` (``es``, ``zh``, ``es-MX``...), else English."""
    from babel import Locale as BabelLocale
    from babel import UnknownLocaleError

    if lang:
        try:
            return BabelLocale.parse(lang.replace("-", "_"))
        except (UnknownLocaleError, ValueError, TypeError, LookupError):
            pass
    return BabelLocale.parse(FALLBACK_LANG)


@functools.lru_cache(maxsize=32)
def _pattern(pattern: str) -> NumberPattern:
    from babel.numbers import parse_pattern

    return parse_pattern(pattern)


_NumberLike = int | float | Decimal


def _decimal(value: _NumberLike | str) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def _rounded(value: _NumberLike, decimals: int) -> Decimal:
    """``value`` rounded half up (as people round money), keeping its sign."""
    result = _decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return result.copy_abs() if result == 0 else result


def format_number(value: _NumberLike, lang: str | None, *, max_decimals: int = 3) -> str:
    """``1234567.891`` as ``1,234,567.891`` (en, zh) or ``1.234.567,891`` (es)."""
    locale = babel_locale(lang)
    number = _rounded(value, max(max_decimals, 0))
    pattern = _pattern("#,##0." + "#" * max_decimals if max_decimals > 0 else "#,##0")
    return str(pattern.apply(number, locale))


def format_integer(value: _NumberLike, lang: str | None) -> str:
    """A whole number with the locale's grouping."""
    return format_number(value, lang, max_decimals=0)


def format_ratio(value: _NumberLike, lang: str | None) -> str:
    """A ratio with exactly two decimals: ``1.25`` / ``1,25``."""
    return str(_pattern("#,##0.00").apply(_rounded(value, 2), babel_locale(lang)))


def format_percent(
    value: _NumberLike, lang: str | None, *, max_decimals: int = 2, min_decimals: int = 0
) -> str:
    """A per-hundred value as a percentage: ``70`` is ``70%`` (en, zh) or ``70 %`` (es).

    At most ``max_decimals`` decimals, at least ``min_decimals`` (computed
    ratios use a fixed number so that a column of them lines up).
    """
    pattern = _percent_pattern(lang or FALLBACK_LANG, min_decimals, max(max_decimals, min_decimals))
    return str(pattern.apply(_rounded(value, max_decimals).scaleb(-2), babel_locale(lang)))


@functools.lru_cache(maxsize=64)
def _percent_pattern(lang: str, min_decimals: int, max_decimals: int) -> NumberPattern:
    """The locale's own percent pattern (``#,##0 %`` in es) with the wanted decimals."""
    pattern: NumberPattern = copy.copy(babel_locale(lang).percent_formats[None])
    pattern.frac_prec = (min_decimals, max_decimals)
    return pattern


def format_money(amount: _NumberLike, currency: str, lang: str | None) -> str:
    """``amount`` in ``currency`` as the locale writes it (``CN¥1,234.00``, ``1.234,00 CNY``)."""
    return _money(_rounded(amount, 2), currency, lang or FALLBACK_LANG)


@functools.lru_cache(maxsize=4096)
def _money(amount: Decimal, currency: str, lang: str) -> str:
    # cached: a report shows the same amounts in several places (findings, evidence)
    from babel.numbers import format_currency

    try:
        return str(format_currency(amount, currency, locale=babel_locale(lang)))
    except (ValueError, LookupError):  # an unknown currency code
        return f"{format_ratio(amount, lang)} {currency}"


def format_date(value: dt.date, lang: str | None, *, style: str = "long") -> str:
    """A date that no reader can misread: ``long`` (``20 de noviembre de 2026``) or ``iso``.

    Short numeric forms (``11/12/26``) are never produced: they mean different
    days in different countries.
    """
    if isinstance(value, dt.datetime):
        value = value.date()
    if style == "iso":
        return value.isoformat()
    from babel.dates import format_date as babel_date

    return babel_date(value, "medium" if style == "medium" else "long", locale=babel_locale(lang))


# --- the report's fixed labels --------------------------------------------------------

#: Fixed report labels by language. ``en`` is complete; others fall back to it.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "inspection": "Inspection",
        "area": "Inspection area",
        "fact": "Fact",
        "threshold": "threshold",
        "title": "Post-loan inspection opinion",
        "opinion": "Inspection opinion",
        "loan_and_inspection": "Loan and inspection",
        "summary": "Summary",
        "findings": "Findings by inspection area",
        "warning_signals": "Warning signals",
        "actions": "Required actions and escalation",
        "overall_opinion": "Officer's overall opinion",
        "review": "Supervisor's review",
        "bank": "Bank",
        "branch": "Branch",
        "loan": "Loan",
        "loan_id": "Loan number",
        "contract": "Contract",
        "borrower": "Borrower",
        "borrower_id": "Borrower ID",
        "industry": "Industry",
        "loan_type": "Loan type",
        "amount": "Loan amount",
        "outstanding": "Outstanding balance",
        "currency": "Currency",
        "disbursed_on": "Disbursed on",
        "matures_on": "Matures on",
        "purpose": "Purpose",
        "days_past_due": "Days past due",
        "officer": "Inspecting officer",
        "certificate": "Certificate",
        "inspection_kind": "Inspection kind",
        "inspection_date": "Inspection date",
        "reason": "Reason for the inspection",
        "previous_inspection": "Previous inspection",
        "place": "Place",
        "checklist": "Checklist",
        "kind_regular": "Regular",
        "kind_irregular": "Irregular",
        "suggested_classification": "Suggested classification",
        "proposed_classification": "Proposed classification",
        "officer_reason": "Officer's reason for the difference",
        "signals_by_severity": "Warning signals by severity",
        "total": "Total",
        "no_signals": "No warning signals were raised.",
        "question": "Question",
        "answer": "Answer",
        "note": "Note",
        "evidence_refs": "Evidence",
        "not_answered": "not answered",
        "not_available": "not available",
        "no_items": "No items recorded.",
        "computed_values": "Computed values",
        "conclusion": "Conclusion",
        "no_conclusion": "No conclusion recorded.",
        "section_signals": "Warning signals in this area",
        "severity": "Severity",
        "signal": "Signal",
        "item": "Item",
        "evidence": "Evidence",
        "required_action": "Required action",
        "escalate_to": "Escalate to",
        "due_by": "Due by",
        "classification_floor": "Classification at least",
        "none": "none",
        "no_actions": "No actions or escalations are required.",
        "supervisor": "Supervisor",
        "review_date": "Review date",
        "decision": "Decision",
        "decision_approved": "Approved",
        "decision_returned": "Returned to the officer",
        "pending_review": "Pending review by the credit supervisor.",
        "review_opinion": "Supervisor's opinion",
        "no_overall_opinion": "No overall opinion recorded.",
        "generated_by": "Generated by",
        "checklist_version": "Checklist version",
        "draft": "DRAFT: this report is not final.",
        "trend": "Change",
        "trend_up": "up",
        "trend_down": "down",
        "trend_unchanged": "unchanged",
        "field": "Item",
        "value": "Value",
        "yes": "Yes",
        "no": "No",
        "days": "{n} days",
        "items_count": "{n} items",
        "severity_info": "Information",
        "severity_watch": "Watch",
        "list_separator": ", ",
        "severity_major": "Major",
        "severity_critical": "Critical",
        "classification_normal": "Normal",
        "classification_special_mention": "Special mention",
        "classification_substandard": "Substandard",
        "classification_doubtful": "Doubtful",
        "classification_loss": "Loss",
        "signature": "Signature",
        "page_of": "Page",
    },
    "es": {
        "inspection": "Inspección",
        "area": "Área de inspección",
        "fact": "Dato",
        "threshold": "umbral",
        "title": "Dictamen de inspección posterior al préstamo",
        "opinion": "Dictamen de inspección",
        "loan_and_inspection": "Préstamo e inspección",
        "summary": "Resumen",
        "findings": "Hallazgos por área de inspección",
        "warning_signals": "Señales de alerta",
        "actions": "Acciones requeridas y escalamiento",
        "overall_opinion": "Dictamen general del oficial",
        "review": "Revisión del supervisor",
        "bank": "Banco",
        "branch": "Sucursal",
        "loan": "Préstamo",
        "loan_id": "Número de préstamo",
        "contract": "Contrato",
        "borrower": "Prestatario",
        "borrower_id": "Identificación del prestatario",
        "industry": "Sector",
        "loan_type": "Tipo de préstamo",
        "amount": "Importe del préstamo",
        "outstanding": "Saldo pendiente",
        "currency": "Moneda",
        "disbursed_on": "Fecha de desembolso",
        "matures_on": "Fecha de vencimiento",
        "purpose": "Destino",
        "days_past_due": "Días de atraso",
        "officer": "Oficial inspector",
        "certificate": "Certificado",
        "inspection_kind": "Tipo de inspección",
        "inspection_date": "Fecha de inspección",
        "reason": "Motivo de la inspección",
        "previous_inspection": "Inspección anterior",
        "place": "Lugar",
        "checklist": "Lista de verificación",
        "kind_regular": "Periódica",
        "kind_irregular": "Extraordinaria",
        "suggested_classification": "Clasificación sugerida",
        "proposed_classification": "Clasificación propuesta",
        "officer_reason": "Motivo del oficial para la diferencia",
        "signals_by_severity": "Señales de alerta por gravedad",
        "total": "Total",
        "no_signals": "No se detectaron señales de alerta.",
        "question": "Pregunta",
        "answer": "Respuesta",
        "note": "Nota",
        "evidence_refs": "Evidencia",
        "not_answered": "sin respuesta",
        "not_available": "no disponible",
        "no_items": "No hay elementos registrados.",
        "computed_values": "Valores calculados",
        "conclusion": "Conclusión",
        "no_conclusion": "No se registró conclusión.",
        "section_signals": "Señales de alerta en esta área",
        "severity": "Gravedad",
        "signal": "Señal",
        "item": "Elemento",
        "evidence": "Evidencia",
        "required_action": "Acción requerida",
        "escalate_to": "Escalar a",
        "due_by": "Plazo",
        "classification_floor": "Clasificación mínima",
        "none": "ninguna",
        "no_actions": "No se requieren acciones ni escalamientos.",
        "supervisor": "Supervisor",
        "review_date": "Fecha de revisión",
        "decision": "Decisión",
        "decision_approved": "Aprobado",
        "decision_returned": "Devuelto al oficial",
        "pending_review": "Pendiente de revisión por el supervisor de crédito.",
        "review_opinion": "Dictamen del supervisor",
        "no_overall_opinion": "No se registró un dictamen general.",
        "generated_by": "Generado por",
        "checklist_version": "Versión de la lista",
        "draft": "BORRADOR: este informe no es definitivo.",
        "trend": "Variación",
        "trend_up": "sube",
        "trend_down": "baja",
        "trend_unchanged": "sin cambio",
        "field": "Concepto",
        "value": "Valor",
        "yes": "Sí",
        "no": "No",
        "days": "{n} días",
        "items_count": "{n} elementos",
        "severity_info": "Información",
        "severity_watch": "Vigilancia",
        "list_separator": ", ",
        "severity_major": "Grave",
        "severity_critical": "Crítica",
        "classification_normal": "Normal",
        "classification_special_mention": "Mención especial",
        "classification_substandard": "Subestándar",
        "classification_doubtful": "Dudoso",
        "classification_loss": "Pérdida",
        "signature": "Firma",
        "page_of": "Página",
    },
    "zh": {
        "inspection": "检查",
        "area": "检查项目",
        "fact": "依据事项",
        "threshold": "阈值",
        "title": "贷后检查意见书",
        "opinion": "检查意见",
        "loan_and_inspection": "贷款与检查概况",
        "summary": "摘要",
        "findings": "各检查项目的发现",
        "warning_signals": "预警信号",
        "actions": "需采取的措施及上报",
        "overall_opinion": "信贷员总体意见",
        "review": "信贷主管审查",
        "bank": "银行",
        "branch": "支行",
        "loan": "贷款",
        "loan_id": "贷款编号",
        "contract": "合同编号",
        "borrower": "借款人",
        "borrower_id": "借款人证件号",
        "industry": "行业",
        "loan_type": "贷款种类",
        "amount": "贷款金额",
        "outstanding": "贷款余额",
        "currency": "币种",
        "disbursed_on": "发放日期",
        "matures_on": "到期日期",
        "purpose": "贷款用途",
        "days_past_due": "逾期天数",
        "officer": "检查人员",
        "certificate": "上岗证书",
        "inspection_kind": "检查类型",
        "inspection_date": "检查日期",
        "reason": "检查原因",
        "previous_inspection": "上次检查日期",
        "place": "检查地点",
        "checklist": "检查清单",
        "kind_regular": "定期检查",
        "kind_irregular": "不定期检查",
        "suggested_classification": "建议分类",
        "proposed_classification": "拟定分类",
        "officer_reason": "与建议分类不同的理由",
        "signals_by_severity": "按严重程度统计的预警信号",
        "total": "合计",
        "no_signals": "未发现预警信号。",
        "question": "检查事项",
        "answer": "检查结果",
        "note": "说明",
        "evidence_refs": "佐证材料",
        "not_answered": "未填写",
        "not_available": "无法计算",
        "no_items": "无记录。",
        "computed_values": "计算指标",
        "conclusion": "结论",
        "no_conclusion": "未填写结论。",
        "section_signals": "本项目的预警信号",
        "severity": "严重程度",
        "signal": "信号",
        "item": "对象",
        "evidence": "依据",
        "required_action": "需采取的措施",
        "escalate_to": "上报对象",
        "due_by": "完成期限",
        "classification_floor": "分类不低于",
        "none": "无",
        "no_actions": "无需采取措施或上报。",
        "supervisor": "信贷主管",
        "review_date": "审查日期",
        "decision": "审查决定",
        "decision_approved": "同意",
        "decision_returned": "退回信贷员",
        "pending_review": "待信贷主管审查。",
        "review_opinion": "主管意见",
        "no_overall_opinion": "未填写总体意见。",
        "generated_by": "生成工具",
        "checklist_version": "清单版本",
        "draft": "草稿：本报告尚未定稿。",
        "trend": "变动",
        "trend_up": "上升",
        "trend_down": "下降",
        "trend_unchanged": "持平",
        "field": "项目",
        "value": "数值",
        "yes": "是",
        "no": "否",
        "days": "{n} 天",
        "items_count": "{n} 项",
        "severity_info": "提示",
        "severity_watch": "观察",
        "list_separator": "、",
        "severity_major": "重大",
        "severity_critical": "严重",
        "classification_normal": "正常",
        "classification_special_mention": "关注",
        "classification_substandard": "次级",
        "classification_doubtful": "可疑",
        "classification_loss": "损失",
        "signature": "签字",
        "page_of": "页",
    },
}


@functools.lru_cache(maxsize=64)
def _labels(lang: str) -> Mapping[str, str]:
    merged = dict(LABELS[FALLBACK_LANG])
    for candidate in (lang.split("-")[0].split("_")[0], lang):
        table = LABELS.get(candidate)
        if table:
            merged.update({k: v for k, v in table.items() if v})
    return MappingProxyType(merged)


def labels(lang: str | None) -> Mapping[str, str]:
    """Every fixed report label in ``lang``; a label missing there is the English one."""
    return _labels(lang or FALLBACK_LANG)


def label(key: str, lang: str | None, **values: object) -> str:
    """One fixed label in ``lang`` (English when missing), with ``{name}`` filled in."""
    text = labels(lang).get(key, key)
    return text.format(**values) if values else text
