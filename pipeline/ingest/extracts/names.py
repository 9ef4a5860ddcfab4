"""Why a file name is not recognised, and the name to give it (extract-format.md §1,
docs/decisions.md): the run's load log, its summary and `tuoyu status` say it in Chinese.

The kind is guessed from words of the name (机构, 幼儿, 人员 …), the month from its digits; a
month without a year is given the year of the folder it is in (`2024/机构表7月.xlsx`), else
the latest year in which that month is not in the future. A guess is only a suggestion:
nothing is read until the file is renamed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from pipeline.ingest.extracts.files import recognise
from pipeline.ingest.extracts.spec import KIND_LABEL_ZH, KIND_STEMS
from pipeline.period import index, last_full_month, shift_month

# Words that name a kind, most specific first: a name with 幼儿 and 机构 is of children.
_KIND_WORDS = (
    ("enrollment", ("在托幼儿", "幼儿", "婴幼儿", "儿童", "入托", "在托", "enrol", "child")),
    ("staffing", ("从业人员", "人员", "员工", "职工", "教职", "保育员", "staff")),
    ("institutions", ("托育机构", "机构", "institution")),
)
_NOT_READ = {
    "ett": "这是 WPS 表格模板（.ett），不能读取：请在 WPS 中另存为 Excel 工作簿（.xlsx）",
    "numbers": "Numbers 表格不能读取：请导出为 Excel 工作簿（.xlsx）",
}
_YEAR_MONTH = (
    re.compile(r"(?<!\d)(\d{4})\s*[-_./年]\s*(\d{1,2})(?!\d)"),
    re.compile(r"(?<!\d)(\d{4})(\d{2})(?!\d)"),
)
_MONTH_ONLY = re.compile(r"(?<!\d)(\d{1,2})\s*月")
# What copying a file adds to its name (Windows: `… - 副本`, `… - Copy`; macOS: `… copy`).
_COPY = re.compile(r"\s*-?\s*(副本|copy)(\s*\(?\d+\)?)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class NameAdvice:
    """Why a name is not recognised; the kind and month it seems to be of, and the name to give it."""

    reasons: tuple[str, ...]
    kind: str | None = None
    period: str | None = None
    suggestion: str | None = None
    convert: bool = False  # the format cannot be read: saved again as the suggestion, not renamed

    def message(self, filename: str) -> str:
        text = f"文件名不符合规定：{'；'.join(self.reasons)}。"
        if self.suggestion:
            verb = "另存为" if self.convert else "改名为"
            text += f"请{verb} {self.suggestion}（请核对类别和月份）后重新运行。"
        else:
            text += "文件名应为 报表类别_年月.扩展名，如 托育机构_2024-06.csv、在托幼儿_2024年6月.xlsx。"
        return text + f" 文件 {filename} 未读取，保留在收件箱。 File name not recognised; not read."


def _readable(ext: str) -> bool:
    return recognise(f"托育机构_2024-01.{ext}") is not None


def _kind(base: str) -> str | None:
    lowered = base.lower()
    for kind, words in _KIND_WORDS:
        if any(word in lowered for word in words):
            return kind
    return None


def _period(base: str, this_month: str, folder: str = "") -> tuple[str | None, str | None]:
    """(month, why it is not in the name as a month) from the digits of the name; a month
    without a year takes the year of the innermost folder named by one."""
    for form in _YEAR_MONTH:
        for match in form.finditer(base):
            year, month = int(match.group(1)), int(match.group(2))
            if 1 <= month <= 12 and 1900 <= year <= 2999:
                return f"{year:04d}-{month:02d}", None
    match = _MONTH_ONLY.search(base)
    if match and 1 <= int(match.group(1)) <= 12:
        month = int(match.group(1))
        years = re.findall(r"(?<!\d)((?:19|20)\d{2})(?!\d)", folder)
        year = int(years[-1]) if years else int(this_month[:4])
        if not years and index(f"{year:04d}-{month:02d}") > index(this_month):
            year -= 1
        return f"{year:04d}-{month:02d}", f"文件名中的“{match.group(0)}”没有年份"
    return None, "文件名中没有年月（应写成 2024-06、202406 或 2024年6月）"


def explain_name(filename: str, this_month: str | None = None) -> NameAdvice:
    """Why `filename` (not recognised) is not an extract's name, and, where its kind and month
    can be guessed, the name to give it. `this_month`: the current month (default: now)."""
    this_month = this_month or shift_month(last_full_month(), 1)
    path = PurePosixPath(unicodedata.normalize("NFKC", filename))
    name, folder = path.name.strip(), path.parent.as_posix()
    base, dot, ext = name.rpartition(".")
    if not dot:
        base, ext = name, ""
    ext = ext.lower()
    reasons = []
    if not ext:
        reasons.append("文件名没有扩展名（应为 .csv 或 .xlsx）")
    elif ext in _NOT_READ and not _readable(ext):
        reasons.append(_NOT_READ[ext])
    elif not _readable(ext):
        reasons.append(f"扩展名为 .{ext} 的文件不是报表文件，不读取（报表应为 .csv 或 .xlsx）")
    kind = _kind(base)
    stems = [stem for stems in KIND_STEMS.values() for stem in stems]
    if kind is None:
        reasons.append("文件名中没有报表类别（应以 托育机构_、在托幼儿_ 或 从业人员_ 开头）")
    elif not any(base.lower().startswith(stem.lower()) for stem in stems):
        reasons.append("文件名应以报表类别 托育机构_、在托幼儿_ 或 从业人员_ 开头")
    period, why = _period(base, this_month, folder)
    if why:
        reasons.append(why)
    copy = _COPY.search(base)
    if copy:
        reasons.append(f"文件名中的“{copy.group(0).strip()}”是复制文件时加上的：与原文件相同的副本可直接删除，"
                       "是更正后的新版本则按下面的名称改名")
    if len(reasons) == 0:
        reasons.append("类别和年月之外还有其他文字，或写法不对（应为 报表类别_年月，如 托育机构_2024-06）")
    suggestion = None
    if kind and period:
        suggestion = f"{KIND_LABEL_ZH[kind]}_{period}.{ext if ext and _readable(ext) else 'xlsx'}"
    return NameAdvice(tuple(reasons), kind, period, suggestion, convert=bool(ext) and not _readable(ext))
