"""How a file writes its values (extract-format.md §1): the forms one extract file uses, and the
rendering of typed columns into the text cells of that file.

A ``FileForm`` fixes, for one file, its container and encoding, its name, its header
language and every value form; ``render`` turns a typed month table into text columns in
those forms. Scalar helpers render single planted values the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipeline.sample.calendar import date_of, month_of_year, year_of

KINDS = ("institutions", "enrollment", "staffing")
STEMS = {
    "institutions": ("institutions_", "托育机构_"),
    "enrollment": ("enrollment_", "在托幼儿_"),
    "staffing": ("staffing_", "从业人员_"),
}
TITLES = {"institutions": "托育机构信息表", "enrollment": "在托幼儿信息表", "staffing": "从业人员信息表"}

# (column, Chinese header) in the contract's order; the column name is the English alias.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "institutions": (
        ("period", "统计月份"),
        ("institution_id", "机构编号"),
        ("name", "机构名称"),
        ("credit_code", "统一社会信用代码"),
        ("area_code", "所在镇街代码"),
        ("institution_type", "机构类型"),
        ("affordable", "是否普惠"),
        ("demonstration", "是否示范"),
        ("demonstration_date", "示范认定日期"),
        ("registration_date", "登记日期"),
        ("filing_status", "备案状态"),
        ("filing_date", "备案日期"),
        ("places", "核定托位数"),
        ("cctv_full_coverage", "视频监控全覆盖"),
        ("fire_safety_passed", "消防验收合格"),
        ("operating_status", "运营状态"),
    ),
    "enrollment": (
        ("period", "统计月份"),
        ("institution_id", "机构编号"),
        ("child_name", "幼儿姓名"),
        ("child_id_number", "幼儿身份证号"),
        ("birth_date", "出生日期"),
        ("sex", "性别"),
        ("class_type", "班型"),
        ("care_mode", "托育形式"),
        ("enrollment_date", "入托日期"),
    ),
    "staffing": (
        ("period", "统计月份"),
        ("institution_id", "机构编号"),
        ("staff_name", "姓名"),
        ("staff_id_number", "身份证号"),
        ("role", "岗位"),
        ("certificate", "资格证书"),
        ("pre_service_training", "岗前培训"),
        ("criminal_record_check", "无犯罪记录证明"),
        ("hire_date", "入职日期"),
    ),
}
NAME_COLUMNS = {"enrollment": "child_name", "staffing": "staff_name"}
ID_COLUMNS = {"enrollment": "child_id_number", "staffing": "staff_id_number"}
DATE_COLUMNS = {
    "institutions": ("demonstration_date", "registration_date", "filing_date"),
    "enrollment": ("birth_date", "enrollment_date"),
    "staffing": ("hire_date",),
}
FLAG_COLUMNS = {
    "institutions": ("affordable", "demonstration", "cctv_full_coverage", "fire_safety_passed"),
    "enrollment": (),
    "staffing": ("pre_service_training", "criminal_record_check"),
}
# Columns whose digits some rows write full-width (the office's input method).
FULLWIDTH_COLUMNS = {
    "institutions": ("credit_code", "registration_date", "places"),
    "enrollment": ("child_id_number", "birth_date"),
    "staffing": ("staff_id_number", "hire_date"),
}
EXTRA_HEADERS = {"seq": ("序号", "no"), "remark": ("备注", "remark")}
REMARKS = ("新入托", "转入", "复核无误", "已整改", "季度抽查", "信息更正")

MONTH_FORMS = ("dash", "compact", "cn")
DATE_FORMS = ("iso", "slash", "dot", "cn", "compact")  # plus "serial": Excel serial numbers, XLSX only
FLAG_FORMS = {
    "是否": ("是", "否"),
    "YN": ("Y", "N"),
    "yn": ("y", "n"),
    "10": ("1", "0"),
    "truefalse": ("true", "false"),
    "TRUEFALSE": ("TRUE", "FALSE"),
    "TrueFalse": ("True", "False"),
}
INT_FORMS = ("plain", "dotzero", "number")  # "number": a numeric cell, XLSX only
CONTAINERS = ("csv-utf8", "csv-bom", "csv-gb18030", "xlsx")
ENCODINGS = {"csv-utf8": "utf-8", "csv-bom": "utf-8-sig", "csv-gb18030": "gb18030", "xlsx": None}

_HALF = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-/."
_FULL = "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ－／．"
_SERIAL_OFFSET = 25569  # Excel serial number of 1970-01-01 (counting the fictitious 1900-02-29)


@dataclass(frozen=True)
class FileForm:
    """Every choice that decides the bytes of one extract file."""

    kind: str
    month: int
    container: str = "csv-utf8"
    stem: str = "en"  # "en" institutions_ / "zh" 托育机构_
    name_month: str = "dash"
    period_form: str = "dash"
    date_form: str = "iso"
    mixed_dates: bool = False  # some rows use other date forms
    flag_form: str = "是否"
    int_form: str = "plain"
    headers: str = "zh"  # "en": the English aliases
    extra: str = "none"  # "seq": a leading 序号 column; "remark": a trailing 备注 column
    fullwidth: bool = False
    lower_x: bool = False
    names: bool = True  # the optional name column is present
    shuffled: bool = False  # columns not in the contract's order
    title: bool = False  # CSV: a title line above the header (XLSX always has one)
    blank_rows: bool = False
    crlf: bool = False
    inline_strings: bool = False  # XLSX written row by row with in-line strings
    notes_sheet: bool = False  # XLSX: a second sheet with filling instructions
    folder: str = ""
    name_suffix: str = ""  # text after the month in the file name (unrecognised copies)

    @property
    def is_xlsx(self) -> bool:
        return self.container == "xlsx"

    @property
    def encoding(self) -> str | None:
        return ENCODINGS.get(self.container, self.container)

    @property
    def file_name(self) -> str:
        stem = STEMS[self.kind][0 if self.stem == "en" else 1]
        ext = ".xlsx" if self.is_xlsx else ".csv"
        return f"{stem}{month_text(self.month, self.name_month)}{self.name_suffix}{ext}"

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.file_name}" if self.folder else self.file_name

    @property
    def numeric_columns(self) -> frozenset[str]:
        """Columns written as numeric XLSX cells where the text is a plain integer."""
        cols: set[str] = set()
        if self.is_xlsx and self.date_form == "serial":
            cols.update(DATE_COLUMNS[self.kind])
        if self.is_xlsx and self.int_form == "number" and self.kind == "institutions":
            cols.add("places")
        return frozenset(cols)

    def column_order(self) -> list[str]:
        cols = [c for c, _ in COLUMNS[self.kind]]
        if not self.names and self.kind in NAME_COLUMNS:
            cols.remove(NAME_COLUMNS[self.kind])
        if self.shuffled:
            # The month last, and the two columns after the institution id swapped.
            cols = cols[1:] + cols[:1]
            cols[1], cols[2] = cols[2], cols[1]
        return cols

    def header(self, column: str) -> str:
        if self.headers == "en":
            return column
        return dict(COLUMNS[self.kind])[column]


# -- scalar forms ------------------------------------------------------------------------
def month_text(month: int, form: str) -> str:
    y, m = year_of(month), month_of_year(month)
    return {"dash": f"{y:04d}-{m:02d}", "compact": f"{y:04d}{m:02d}", "cn": f"{y}年{m}月"}[form]


def date_text(day: int | None, form: str) -> str | None:
    if day is None:
        return None
    if form == "serial":
        return str(int(day) + _SERIAL_OFFSET)
    d = date_of(day)
    return {
        "iso": f"{d:%Y-%m-%d}",
        "slash": f"{d.year}/{d.month}/{d.day}",
        "dot": f"{d.year}.{d.month}.{d.day}",
        "cn": f"{d.year}年{d.month}月{d.day}日",
        "compact": f"{d:%Y%m%d}",
    }[form]


def flag_text(value: bool, form: str) -> str:
    return FLAG_FORMS[form][0 if value else 1]


def int_text(value: int, form: str) -> str:
    return f"{value}.0" if form == "dotzero" else str(value)


def fullwidth(text: str) -> str:
    return text.translate(str.maketrans(_HALF, _FULL))


# -- columns -----------------------------------------------------------------------------
def _date_expr(column: str, form: str) -> pl.Expr:
    col = pl.col(column)
    if form == "serial":
        return (col.cast(pl.Int32) + _SERIAL_OFFSET).cast(pl.String)
    if form == "iso":
        return col.dt.strftime("%Y-%m-%d")
    if form == "compact":
        return col.dt.strftime("%Y%m%d")
    y, m, d = (col.dt.year().cast(pl.String), col.dt.month().cast(pl.String), col.dt.day().cast(pl.String))
    if form == "cn":
        return pl.concat_str([y, pl.lit("年"), m, pl.lit("月"), d, pl.lit("日")])
    return pl.concat_str([y, m, d], separator={"slash": "/", "dot": "."}[form])


def render(frame: pl.DataFrame, form: FileForm, rng: np.random.Generator) -> pl.DataFrame:
    """Text cells of a typed month table, in the file's forms (one column per contract column).

    Typed input: dates as ``pl.Date``, flags as ``pl.Boolean``, places as integers, the
    rest as text; ``period`` is not needed (every row has the file's month).
    """
    kind, n = form.kind, frame.height
    work = frame.with_columns(
        pl.Series("_mix", rng.integers(0, len(DATE_FORMS) * 7, n) if form.mixed_dates else np.zeros(n, dtype=np.int64)),
        pl.Series("_fw", rng.random(n) < 0.08 if form.fullwidth else np.zeros(n, dtype=bool)),
    )
    exprs: list[pl.Expr] = []
    for column, _ in COLUMNS[kind]:
        if column == "period":
            exprs.append(pl.lit(month_text(form.month, form.period_form), dtype=pl.String).alias(column))
            continue
        if column in DATE_COLUMNS[kind]:
            expr = _date_expr(column, form.date_form)
            if form.mixed_dates:
                # About one row in seven takes another text form, as when rows are pasted in.
                for k, other in enumerate(DATE_FORMS):
                    expr = pl.when(pl.col("_mix") == k).then(_date_expr(column, other)).otherwise(expr)
        elif column in FLAG_COLUMNS[kind]:
            yes, no = FLAG_FORMS[form.flag_form]
            expr = pl.when(pl.col(column)).then(pl.lit(yes)).otherwise(pl.lit(no))
        elif column == "places":
            expr = pl.col(column).cast(pl.String)
            if form.int_form == "dotzero":
                expr = expr + pl.lit(".0")
        else:
            expr = pl.col(column).cast(pl.String)
        if form.lower_x and column == ID_COLUMNS.get(kind):
            expr = expr.str.replace("X$", "x")
        if column in FULLWIDTH_COLUMNS[kind] and column not in form.numeric_columns:
            expr = pl.when(pl.col("_fw")).then(expr.str.replace_many(list(_HALF), list(_FULL))).otherwise(expr)
        exprs.append(expr.alias(column))
    return work.select(exprs)
