"""The columns of each extract kind, as extract-format.md §1–2 define them.

Only the shape lives here (header, alias, type, whether personal); the row rules that
judge the values are the suites in `expectations/`.
"""

from __future__ import annotations

from dataclasses import dataclass

# type: month | text | date | flag | int | id | name
#   name: personal, dropped at read time; id: personal, pseudonymised at read time.


@dataclass(frozen=True)
class Column:
    name: str
    header: str
    type: str = "text"

    @property
    def required(self) -> bool:
        # extract-format.md §1: every header is required except the two name columns.
        return self.type != "name"


KIND_STEMS = {
    "institutions": ("institutions", "托育机构"),
    "enrollment": ("enrollment", "在托幼儿"),
    "staffing": ("staffing", "从业人员"),
}

KIND_LABEL_ZH = {"institutions": "托育机构", "enrollment": "在托幼儿", "staffing": "从业人员"}

COLUMNS: dict[str, tuple[Column, ...]] = {
    "institutions": (
        Column("period", "统计月份", "month"),
        Column("institution_id", "机构编号"),
        Column("name", "机构名称"),
        Column("credit_code", "统一社会信用代码"),
        Column("area_code", "所在镇街代码"),
        Column("institution_type", "机构类型"),
        Column("affordable", "是否普惠", "flag"),
        Column("demonstration", "是否示范", "flag"),
        Column("demonstration_date", "示范认定日期", "date"),
        Column("registration_date", "登记日期", "date"),
        Column("filing_status", "备案状态"),
        Column("filing_date", "备案日期", "date"),
        Column("places", "核定托位数", "int"),
        Column("cctv_full_coverage", "视频监控全覆盖", "flag"),
        Column("fire_safety_passed", "消防验收合格", "flag"),
        Column("operating_status", "运营状态"),
    ),
    "enrollment": (
        Column("period", "统计月份", "month"),
        Column("institution_id", "机构编号"),
        Column("child_name", "幼儿姓名", "name"),
        Column("child_id_number", "幼儿身份证号", "id"),
        Column("birth_date", "出生日期", "date"),
        Column("sex", "性别"),
        Column("class_type", "班型"),
        Column("care_mode", "托育形式"),
        Column("enrollment_date", "入托日期", "date"),
    ),
    "staffing": (
        Column("period", "统计月份", "month"),
        Column("institution_id", "机构编号"),
        Column("staff_name", "姓名", "name"),
        Column("staff_id_number", "身份证号", "id"),
        Column("role", "岗位"),
        Column("certificate", "资格证书"),
        Column("pre_service_training", "岗前培训", "flag"),
        Column("criminal_record_check", "无犯罪记录证明", "flag"),
        Column("hire_date", "入职日期", "date"),
    ),
}

# The staging column that holds the pseudonym of each kind's id column.
PSEUDONYM_COLUMN = {"enrollment": "child", "staffing": "staff"}
