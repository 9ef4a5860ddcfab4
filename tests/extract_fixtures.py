"""Tiny hand-made extracts for the reading and ingest tests.

Ids are valid GB 11643 numbers made by `make_id`; every planted defect is commented where
the fixture is used.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.ingest.extracts.ids import id_check_char

INSTITUTION_HEADER = ["统计月份", "机构编号", "机构名称", "统一社会信用代码", "所在镇街代码", "机构类型", "是否普惠",
                      "是否示范", "示范认定日期", "登记日期", "备案状态", "备案日期", "核定托位数", "视频监控全覆盖",
                      "消防验收合格", "运营状态"]
ENROLLMENT_HEADER = ["统计月份", "机构编号", "幼儿姓名", "幼儿身份证号", "出生日期", "性别", "班型", "托育形式", "入托日期"]
STAFFING_HEADER = ["统计月份", "机构编号", "姓名", "身份证号", "岗位", "资格证书", "岗前培训", "无犯罪记录证明", "入职日期"]

CREDIT = "91350100M000100Y43"


def make_id(prefix: str = "370781", birth: str = "20220315", seq: str = "123") -> str:
    first17 = prefix + birth + seq
    return first17 + id_check_char(first17)


def institution_row(period="2023-06", iid="JG01", area="370781001", places="30", **kw) -> list[str]:
    row = {
        "统计月份": period, "机构编号": iid, "机构名称": f"{iid}托育园", "统一社会信用代码": CREDIT,
        "所在镇街代码": area, "机构类型": "社会办托育机构", "是否普惠": "是", "是否示范": "否", "示范认定日期": "",
        "登记日期": "2022-01-10", "备案状态": "已备案", "备案日期": "2022-02-01", "核定托位数": places,
        "视频监控全覆盖": "是", "消防验收合格": "是", "运营状态": "正常运营",
    }
    row.update(kw)
    return [row[h] for h in INSTITUTION_HEADER]


def child_row(period="2023-06", iid="JG01", name="张小明", number=None, birth="2022-03-15", sex="男",
              cls="托小班", mode="全日托", start="2023-01-05") -> list[str]:
    return [period, iid, name, number or make_id(birth=birth.replace("-", ""), seq="013"), birth, sex, cls, mode, start]


def staff_row(period="2023-06", iid="JG01", name="李老师", number=None, role="保育人员", cert="保育师",
              trained="是", checked="是", hired="2022-05-01") -> list[str]:
    return [period, iid, name, number or make_id(birth="19900101", seq="022"), role, cert, trained, checked, hired]


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, encoding="utf-8",
              title: str | None = None, bom: bool = False) -> Path:
    lines = ([title] if title else []) + [",".join(header)] + [",".join(r) for r in rows]
    data = ("\n".join(lines) + "\n").encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list[object]], *, title: str | None = None) -> Path:
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("数据")
    r = 0
    if title:
        ws.write_string(0, 0, title)
        r = 2  # a title row, then a blank row
    ws.write_row(r, 0, header)
    for i, row in enumerate(rows, start=r + 1):
        for j, value in enumerate(row):
            if isinstance(value, str):
                ws.write_string(i, j, value)
            else:
                ws.write(i, j, value)
    wb.close()
    return path
