"""What each column of a template offers and says, taken from the rule source of validation:

- the columns, their headers and types: the column spec (pipeline/ingest/extracts/spec.py);
- the drop-down lists: `meta.allowed_values` of the suites (expectations/*.json) for the
  fixed-value columns, the flag words of the parser (values.FLAG_WORDS) for 是/否 columns,
  and the county's areas (areas.csv, the rows rule INS-AREA accepts) for 所在镇街代码,
  shown `代码 名称` (the ingest takes the code: values.area_code);
- the rules listed on the 说明 sheet: the suites' rules whose contract line names the column.

Nothing here is a second list of values: a change to a suite or to areas.csv changes the
templates with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pipeline.ingest.extracts.ids import credit_check_char, id_check_char
from pipeline.ingest.extracts.spec import COLUMNS, Column
from pipeline.ingest.extracts.values import FLAG_WORDS
from pipeline.period import month_end
from pipeline.reference import Reference
from pipeline.validate.suites import Rule, Suite

# The month the example rows and dates use when the template is for no month in particular.
EXAMPLE_MONTH = "2024-06"

# How each type of column is filled, as the 说明 sheet and the cell's input message say it.
HOW_TO_FILL = {
    "month": "统计月份，写作 2024-06（与文件名中的月份一致）",
    "text": "文字",
    "date": "日期，如 2024-06-15（不得晚于统计月份的月末）",
    "flag": "从下拉列表中选择：是 或 否",
    "int": "0 或正整数",
    "id": "18位身份证号（17位数字加1位数字或字母X），本列为文本格式，请勿改为数字格式",
    "name": "姓名（可不填：程序不读取、不保存姓名）",
}


@dataclass(frozen=True)
class TemplateColumn:
    """One column of a template: its spec, its drop-down list (as shown), its rules, an example."""

    spec: Column
    choices: tuple[str, ...]
    rules: tuple[Rule, ...]
    example: str

    @property
    def header(self) -> str:
        return self.spec.header


def area_choices(reference: Reference) -> tuple[str, ...]:
    """The county's areas as `代码 名称`: its 镇街 first, then the county itself (rule INS-AREA
    accepts every area of areas.csv; the county's code means "in no 镇街")."""
    towns = [f"{row['area_code']} {row['area_name']}" for row in reference.towns.iter_rows(named=True)]
    return tuple(towns) + (f"{reference.county_code} {reference.county_name}",)


def _rules_of(suite: Suite, header: str) -> tuple[Rule, ...]:
    """The suite's rules whose contract line is this column's (`§2.1 机构类型`)."""
    return tuple(rule for rule in suite.rules if rule.contract.split(" ", 1)[-1] == header)


def other_rules(suite: Suite) -> tuple[Rule, ...]:
    """The suite's rules that belong to no single column (further warnings, file-level checks)."""
    headers = {col.header for col in COLUMNS[suite.kind]}
    return tuple(rule for rule in suite.rules if rule.contract.split(" ", 1)[-1] not in headers)


def _example_id(reference: Reference, born: date, sequence: int) -> str:
    first17 = f"{reference.county_code[:6]:0<6}{born:%Y%m%d}{sequence:03d}"
    return first17 + id_check_char(first17)


def _examples(kind: str, reference: Reference, month: str) -> dict[str, str]:
    """A row that passes every rule of `kind` for `month` (made up: no real institution or person)."""
    end = month_end(month)
    day = end.replace(day=1).isoformat()
    credit17 = f"52{reference.county_code[:6]:0<6}MJ0000001"  # 2 + 6 + 9 characters, then the check
    return {
        "period": month, "institution_id": "JG0001", "name": "示例托育园",
        "credit_code": credit17 + credit_check_char(credit17),
        "registration_date": "2022-03-01", "filing_date": "2022-04-01", "demonstration_date": "",
        "places": "30", "child_name": "（可不填）", "staff_name": "（可不填）",
        "child_id_number": _example_id(reference, date(end.year - 2, 3, 15), 1),
        "staff_id_number": _example_id(reference, date(1990, 5, 20), 2),
        "birth_date": date(end.year - 2, 3, 15).isoformat(), "sex": "男",
        "enrollment_date": day, "hire_date": "2023-09-01",
    }


def template_columns(kind: str, suite: Suite, reference: Reference, month: str | None) -> list[TemplateColumn]:
    """The columns of `kind`'s template, in the contract's order."""
    allowed = suite.allowed_values()
    examples = _examples(kind, reference, month or EXAMPLE_MONTH)
    out = []
    for col in COLUMNS[kind]:
        if col.name in allowed:
            choices = allowed[col.name]
        elif col.type == "flag":
            choices = FLAG_WORDS
        elif col.name == "area_code":
            choices = area_choices(reference)
        elif col.type == "month" and month:
            choices = (month,)
        else:
            choices = ()
        example = examples.get(col.name, "")
        if choices and col.type != "month":
            # the first choice; 是否示范 否 (是 would want a 示范认定日期)
            example = choices[1] if col.name == "demonstration" else choices[0]
        out.append(TemplateColumn(col, tuple(choices), _rules_of(suite, col.header), example))
    return out
