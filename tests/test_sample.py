"""The synthetic sample: deterministic, in every form of the file contract, and with a
manifest that names every planted defect and nothing else.

The planted defects are checked by an independent reading of the files written here
(``_read`` and ``_violations``), not by the generator's own bookkeeping: every (row,
rule) the contract flags must be in the manifest, and every manifest entry must be
flagged.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

from pipeline.sample import generate_sample, generate_test_sample

pytestmark = pytest.mark.heavy(seconds=6)

COUNTY = "370799"
AREAS = (
    ("370799001", "东城街道", "街道", "城镇", 96000),
    ("370799002", "西城街道", "街道", "城镇", 81000),
    ("370799003", "南关街道", "街道", "城镇", 52000),
    ("370799100", "河口镇", "镇", "乡村", 47000),
    ("370799101", "石门镇", "镇", "乡村", 39000),
    ("370799102", "柳林镇", "镇", "乡村", 30000),
    ("370799103", "桃花镇", "镇", "乡村", 18000),
)


def write_reference(folder: Path) -> Path:
    """A small county: 3 街道 and 4 镇, population for 2022 and 2023."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["area_code,area_name,area_type,urban_rural,parent_code", f"{COUNTY},样例县,县,,"]
    lines += [f"{c},{n},{t},{u},{COUNTY}" for c, n, t, u, _ in AREAS]
    (folder / "areas.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = ["year,area_code,resident_population,population_under3"]
    rows += [f"{y},{c},{p},{p * 25 // 1000}" for y in (2022, 2023) for c, _, _, _, p in AREAS]
    (folder / "population.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    return write_reference(tmp_path / "reference")


# -- an independent reading of the contract ------------------------------------------------
HEADERS = {
    "institutions": {
        "统计月份": "period",
        "机构编号": "institution_id",
        "机构名称": "name",
        "统一社会信用代码": "credit_code",
        "所在镇街代码": "area_code",
        "机构类型": "institution_type",
        "是否普惠": "affordable",
        "是否示范": "demonstration",
        "示范认定日期": "demonstration_date",
        "登记日期": "registration_date",
        "备案状态": "filing_status",
        "备案日期": "filing_date",
        "核定托位数": "places",
        "视频监控全覆盖": "cctv_full_coverage",
        "消防验收合格": "fire_safety_passed",
        "运营状态": "operating_status",
    },
    "enrollment": {
        "统计月份": "period",
        "机构编号": "institution_id",
        "幼儿姓名": "child_name",
        "幼儿身份证号": "child_id_number",
        "出生日期": "birth_date",
        "性别": "sex",
        "班型": "class_type",
        "托育形式": "care_mode",
        "入托日期": "enrollment_date",
    },
    "staffing": {
        "统计月份": "period",
        "机构编号": "institution_id",
        "姓名": "staff_name",
        "身份证号": "staff_id_number",
        "岗位": "role",
        "资格证书": "certificate",
        "岗前培训": "pre_service_training",
        "无犯罪记录证明": "criminal_record_check",
        "入职日期": "hire_date",
    },
}
OPTIONAL = {"child_name", "staff_name"}
NAME_PATTERN = re.compile(
    r"^(institutions_|托育机构_|enrollment_|在托幼儿_|staffing_|从业人员_)"
    r"(\d{4}-\d{2}|\d{6}|\d{4}年\d{1,2}月)\.(csv|xlsx)$"
)
KIND_OF_STEM = {
    "institutions_": "institutions",
    "托育机构_": "institutions",
    "enrollment_": "enrollment",
    "在托幼儿_": "enrollment",
    "staffing_": "staffing",
    "从业人员_": "staffing",
}
DATE_PATTERNS = {
    "iso": re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    "slash": re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    "dot": re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    "cn": re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
    "compact": re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
}
MONTH_PATTERNS = {
    "dash": re.compile(r"^(\d{4})-(\d{2})$"),
    "compact": re.compile(r"^(\d{4})(\d{2})$"),
    "cn": re.compile(r"^(\d{4})年(\d{1,2})月$"),
}
FLAGS = {"是": True, "否": False, "y": True, "n": False, "1": True, "0": False, "true": True, "false": False}
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
ENUMS = {
    "institution_type": {
        "社会办托育机构",
        "幼儿园托班",
        "用人单位办托",
        "妇幼保健机构办托",
        "社区托育点",
        "家庭托育点",
    },
    "filing_status": {"已备案", "未备案"},
    "operating_status": {"正常运营", "暂停运营", "已注销"},
    "sex": {"男", "女"},
    "class_type": {"乳儿班", "托小班", "托大班"},
    "care_mode": {"全日托", "半日托", "计时托", "临时托"},
    "role": {"保育人员", "保健人员", "管理人员", "保安人员", "炊事人员", "其他"},
    "certificate": {"保育师", "育婴员", "幼儿园教师资格证", "护士执业证", "医师执业证", "无"},
}


# Every way the sample breaks a row rule of extract-format.md §2, as this reading names them.
CONTRACT_CASES = {
    f"{kind}.{case}"
    for kind, cases in {
        "institutions": (
            "period.missing period.unparseable period.mismatch institution_id.missing institution_id.exact_duplicate "
            "institution_id.conflicting_duplicate name.missing credit_code.format credit_code.check_character "
            "area_code.unknown institution_type.invalid affordable.unparseable demonstration.unparseable "
            "demonstration_date.missing demonstration_date.unparseable demonstration_date.after_month_end "
            "registration_date.missing registration_date.unparseable registration_date.after_month_end "
            "filing_status.invalid filing_date.missing filing_date.unparseable filing_date.after_month_end "
            "places.missing places.not_integer places.negative places.above_200 cctv_full_coverage.unparseable "
            "fire_safety_passed.unparseable operating_status.invalid"
        ),
        "enrollment": (
            "period.missing period.unparseable period.mismatch institution_id.unknown child_id_number.missing "
            "child_id_number.format child_id_number.check_digit child_id_number.scientific birth_date.missing "
            "birth_date.unparseable birth_date.after_month_end birth_date.differs_from_id "
            "birth_date.age_36_months_or_more sex.invalid sex.disagrees_with_id class_type.invalid care_mode.invalid "
            "enrollment_date.missing enrollment_date.unparseable enrollment_date.after_month_end "
            "enrollment_date.before_birth child_id_number.same_child_twice"
        ),
        "staffing": (
            "period.missing period.unparseable period.mismatch institution_id.unknown staff_id_number.missing "
            "staff_id_number.format staff_id_number.check_digit staff_id_number.scientific role.invalid "
            "certificate.invalid pre_service_training.unparseable criminal_record_check.unparseable "
            "hire_date.missing hire_date.unparseable hire_date.after_month_end"
        ),
    }.items()
    for case in cases.split()
}


def _norm(value):
    if value is None:
        return None
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        return text or None
    return value  # a number from an XLSX cell


def _header_map(kind: str, row: list) -> dict[str, int] | None:
    names = {**HEADERS[kind], **{v: v for v in HEADERS[kind].values()}}
    found = {}
    for i, cell in enumerate(row):
        text = _norm(cell) if isinstance(cell, str) else None
        if text in names:
            found[names[text]] = i
    required = set(HEADERS[kind].values()) - OPTIONAL
    return found if required <= set(found) else None


def read_rows(path: Path, kind: str) -> tuple[list[dict], list[list]]:
    """(data rows as {column: value, "_row": n}, the raw rows) of an extract file."""
    if path.suffix == ".xlsx":
        wb = openpyxl.load_workbook(path, read_only=True)
        raw = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
        wb.close()
    else:
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("gb18030")
        raw = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    for h in range(min(10, len(raw))):
        mapping = _header_map(kind, raw[h])
        if mapping is not None:
            break
    else:
        raise AssertionError(f"{path.name}: no header row")
    rows = []
    for cells in raw[h + 1 :]:
        if all(_norm(c) is None for c in cells):
            continue
        row = {col: _norm(cells[i]) if i < len(cells) else None for col, i in mapping.items()}
        row["_row"] = len(rows) + 1
        rows.append(row)
    return rows, raw


def parse_month(value) -> tuple[int, int] | None:
    if not isinstance(value, str):
        return None
    for pattern in MONTH_PATTERNS.values():
        if (m := pattern.match(value)) and 1 <= int(m.group(2)) <= 12:
            return int(m.group(1)), int(m.group(2))
    return None


def parse_date(value, xlsx: bool) -> dt.date | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if xlsx and float(value).is_integer() and value > 60:
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
        return None
    for pattern in DATE_PATTERNS.values():
        if m := pattern.match(value):
            try:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                return None
    return None


def parse_int(value) -> int | None:
    if isinstance(value, (int, float)):
        return int(value) if float(value).is_integer() else None
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+|-?\d+", value):
        return int(value.replace(",", ""))
    if re.fullmatch(r"-?\d+\.0+", value):
        return int(float(value))
    return None


def id_problem(value) -> str | None:
    """None for a valid GB 11643 id number, else what is wrong with it."""
    if value is None:
        return "missing"
    if isinstance(value, float) or (isinstance(value, str) and re.fullmatch(r"\d(\.\d+)?E\+\d+", value.upper())):
        return "scientific"
    value = str(value).upper()
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return "format"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    if "10X98765432"[sum(int(c) * w for c, w in zip(value, weights)) % 11] != value[17]:
        return "check_digit"
    return None


def credit_problem(value) -> str | None:
    if value is None or len(value) != 18 or any(c not in CREDIT_ALPHABET for c in value):
        return "format"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(value, weights))
    return None if CREDIT_ALPHABET[(31 - total % 31) % 31] == value[17] else "check_character"


def _date_rules(row: dict, column: str, end: dt.date, xlsx: bool, out: set) -> dt.date | None:
    value = row[column]
    if value is None:
        return None
    day = parse_date(value, xlsx)
    if day is None:
        out.add(f"{column}.unparseable")
    elif day > end:
        out.add(f"{column}.after_month_end")
    return day


def violations(
    kind: str,
    rows: list[dict],
    year: int,
    month: int,
    xlsx: bool,
    areas: set[str],
    institutions: set[str] | None = None,
) -> dict[int, set[str]]:
    """Rule keys (``kind.column.case``) each data row breaks, by row number."""
    end = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    found: dict[int, set[str]] = {}
    for row in rows:
        out: set[str] = set()
        period = parse_month(row["period"])
        if row["period"] is None:
            out.add("period.missing")
        elif period is None:
            out.add("period.unparseable")
        elif period != (year, month):
            out.add("period.mismatch")
        if kind == "institutions":
            if row["institution_id"] is None:
                out.add("institution_id.missing")
            if row["name"] is None:
                out.add("name.missing")
            if (problem := credit_problem(row["credit_code"])) is not None:
                out.add(f"credit_code.{problem}")
            if row["area_code"] not in areas:
                out.add("area_code.unknown")
            for col in ("institution_type", "filing_status", "operating_status"):
                if row[col] not in ENUMS[col]:
                    out.add(f"{col}.invalid")
            for col in ("affordable", "demonstration", "cctv_full_coverage", "fire_safety_passed"):
                if str(row[col]).lower() not in FLAGS:
                    out.add(f"{col}.unparseable")
            if row["demonstration_date"] is None and FLAGS.get(str(row["demonstration"]).lower()):
                out.add("demonstration_date.missing")
            _date_rules(row, "demonstration_date", end, xlsx, out)
            if row["registration_date"] is None:
                out.add("registration_date.missing")
            _date_rules(row, "registration_date", end, xlsx, out)
            if row["filing_date"] is None and row["filing_status"] == "已备案":
                out.add("filing_date.missing")
            _date_rules(row, "filing_date", end, xlsx, out)
            places = None if row["places"] is None else parse_int(row["places"])
            if row["places"] is None:
                out.add("places.missing")
            elif places is None:
                out.add("places.not_integer")
            elif places < 0:
                out.add("places.negative")
            elif places > 200:
                out.add("places.above_200")
        else:
            id_col = "child_id_number" if kind == "enrollment" else "staff_id_number"
            if institutions is not None and row["institution_id"] not in institutions:
                out.add("institution_id.unknown")
            problem = id_problem(row[id_col])
            if problem:
                out.add(f"{id_col}.{problem}")
            else:
                assert str(row[id_col]).startswith(COUNTY), "id numbers carry the county's area prefix"
            if kind == "enrollment":
                birth = _date_rules(row, "birth_date", end, xlsx, out)
                if row["birth_date"] is None:
                    out.add("birth_date.missing")
                if row["sex"] not in ENUMS["sex"]:
                    out.add("sex.invalid")
                for col in ("class_type", "care_mode"):
                    if row[col] not in ENUMS[col]:
                        out.add(f"{col}.invalid")
                enrolled = _date_rules(row, "enrollment_date", end, xlsx, out)
                if row["enrollment_date"] is None:
                    out.add("enrollment_date.missing")
                if not problem and birth and birth.strftime("%Y%m%d") != str(row[id_col])[6:14]:
                    out.add("birth_date.differs_from_id")
                if (
                    not problem
                    and row["sex"] in ENUMS["sex"]
                    and (int(str(row[id_col])[16]) % 2 == 1) != (row["sex"] == "男")
                ):
                    out.add("sex.disagrees_with_id")
                if birth and enrolled and enrolled < birth:
                    out.add("enrollment_date.before_birth")
                if birth and birth <= end:
                    age = 12 * (end.year - birth.year) + end.month - birth.month - (end.day < birth.day)
                    if age >= 36:
                        out.add("birth_date.age_36_months_or_more")
            else:
                for col in ("role", "certificate"):
                    if row[col] not in ENUMS[col]:
                        out.add(f"{col}.invalid")
                for col in ("pre_service_training", "criminal_record_check"):
                    if str(row[col]).lower() not in FLAGS:
                        out.add(f"{col}.unparseable")
                _date_rules(row, "hire_date", end, xlsx, out)
                if row["hire_date"] is None:
                    out.add("hire_date.missing")
        if out:
            found[row["_row"]] = {f"{kind}.{k}" for k in out}
    if kind == "institutions":
        contents: dict[str, set] = {}
        seen: set = set()
        for row in rows:
            content = tuple((k, v) for k, v in row.items() if k != "_row")
            if content in seen:
                found.setdefault(row["_row"], set()).add("institutions.institution_id.exact_duplicate")
                continue
            seen.add(content)
            if row["institution_id"] is not None:
                contents.setdefault(row["institution_id"], set()).add(content)
        for row in rows:
            content = tuple((k, v) for k, v in row.items() if k != "_row")
            if len(
                contents.get(row["institution_id"], ())
            ) > 1 and "institutions.institution_id.exact_duplicate" not in found.get(row["_row"], ()):
                found.setdefault(row["_row"], set()).add("institutions.institution_id.conflicting_duplicate")
    if kind == "enrollment":
        ids = Counter(str(r["child_id_number"]).upper() for r in rows if id_problem(r["child_id_number"]) is None)
        for row in rows:
            if id_problem(row["child_id_number"]) is None and ids[str(row["child_id_number"]).upper()] > 1:
                found.setdefault(row["_row"], set()).add("enrollment.child_id_number.same_child_twice")
    return found


def accepted_institutions(rows: list[dict], found: dict[int, set[str]]) -> set[str]:
    from_severity = {
        "institutions.institution_id.exact_duplicate",
        "institutions.credit_code.format",
        "institutions.credit_code.check_character",
        "institutions.demonstration_date.missing",
        "institutions.filing_date.missing",
        "institutions.places.above_200",
    }
    return {r["institution_id"] for r in rows if not (found.get(r["_row"], set()) - from_severity)}


# -- the tests ------------------------------------------------------------------------------
def _files(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_arguments_give_the_same_bytes_and_times(tmp_path: Path, reference: Path) -> None:
    first = generate_test_sample(tmp_path / "a", reference)
    second = generate_test_sample(tmp_path / "b", reference)
    a, b = _files(tmp_path / "a" / "inbox"), _files(tmp_path / "b" / "inbox")
    assert a.keys() == b.keys()
    assert len(a) > 15
    for name in a:
        assert a[name] == b[name], f"{name} differs between two runs (bytes or modification time)"
    assert first.path and second.path and first.path.read_bytes() == second.path.read_bytes()
    other = generate_test_sample(tmp_path / "c", reference, seed=8)
    assert _files(tmp_path / "c" / "inbox") != a, "another seed gives another sample"
    assert other.to_dict() != first.to_dict()


def test_manifest_sits_outside_the_inbox_and_holds_no_personal_data(tmp_path: Path, reference: Path) -> None:
    manifest = generate_test_sample(tmp_path, reference)
    inbox = tmp_path / "inbox"
    assert manifest.path == tmp_path / "sample-manifest.json"
    assert all(p.suffix in (".csv", ".xlsx") for p in inbox.rglob("*") if p.is_file())
    text = manifest.path.read_text(encoding="utf-8")
    assert not re.search(r"(?<![0-9a-f])\d{17}[\dXx](?![0-9a-f])", text), "no id number in the manifest"
    names, ids = set(), set()
    for entry in manifest.files:
        if entry.kind != "institutions" and entry.status == "loaded":
            rows, _ = read_rows(inbox / entry.file, entry.kind)
            names |= {r.get("child_name") or r.get("staff_name") for r in rows} - {None}
            ids |= {str(r.get("child_id_number") or r.get("staff_id_number")) for r in rows}
    assert len(names) > 100 and len(ids) > 1000
    assert not [n for n in names if f'"{n}"' in text], "no personal name in the manifest"
    assert not [i for i in ids if len(i) > 8 and i in text], "no id number in the manifest"
    loaded = json.loads(text)
    assert {"defects", "files", "months", "scale", "seed"} <= loaded.keys()
    assert loaded["months"] == [f"2023-{m:02d}" for m in range(1, 7)]


def test_every_file_form_of_the_contract_appears(tmp_path: Path, reference: Path) -> None:
    manifest = generate_test_sample(tmp_path, reference)
    inbox = tmp_path / "inbox"
    names = [p.name for p in inbox.rglob("*") if p.is_file()]
    matched = [NAME_PATTERN.match(n) for n in names]
    assert {m.group(1) for m in matched if m} == set(KIND_OF_STEM), "both stems of every kind"
    month_forms = {next(k for k, p in MONTH_PATTERNS.items() if p.match(m.group(2))) for m in matched if m}
    assert month_forms == {"dash", "compact", "cn"}
    assert all(p.parent.name in ("2023", "更正") for p in inbox.rglob("*") if p.is_file()), "sub-folders by year"

    encodings, date_forms, period_forms, flags, cells = set(), set(), set(), set(), []
    english = extra = fullwidth = lower_x = csv_title = False
    for entry in manifest.files:
        path = inbox / entry.file
        if entry.status not in ("loaded", "superseded"):
            continue
        if path.suffix == ".csv":
            data = path.read_bytes()
            try:
                text = data.decode("utf-8")
                encodings.add("utf-8-bom" if text.startswith("\ufeff") else "utf-8")
            except UnicodeDecodeError:
                text = data.decode("gb18030")
                encodings.add("gb18030")
            first = next(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
            csv_title |= first[0].startswith("样例县")
        else:
            encodings.add("xlsx")
            wb = openpyxl.load_workbook(path)
            sheet = wb.worksheets[0]
            assert (
                sheet["A1"].value
                == "样例县"
                + {"institutions": "托育机构信息表", "enrollment": "在托幼儿信息表", "staffing": "从业人员信息表"}[
                    entry.kind
                ]
            )
            values = [[c.value for c in r] for r in sheet.iter_rows(min_row=5)]
            assert any(all(v is None for v in r) for r in values[:-1]) or not entry.forms["blank_rows"]
            id_col = {"institutions": "institution_id", "enrollment": "child_id_number", "staffing": "staff_id_number"}
            header = [c.value for c in sheet[4]]
            col = next(i for i, h in enumerate(header) if HEADERS[entry.kind].get(h, h) == id_col[entry.kind])
            kinds = Counter(type(r[col]).__name__ for r in values if r[col] is not None)
            assert kinds["str"] > 0 and kinds.keys() <= {"str", "float"}, "ids are text cells"
            planted = sum(1 for d in manifest.defects_in(entry.file) if d.rule_key.endswith(".scientific"))
            assert kinds["float"] == planted, "only the planted scientific-notation id is a number"
            wb.close()
        rows, raw = read_rows(path, entry.kind)
        header_cells = {_norm(c) for r in raw[:10] for c in r if isinstance(c, str)}
        english |= "period" in header_cells
        extra |= bool(header_cells & {"序号", "备注", "no", "remark"})
        raw_text = "".join(str(c) for r in raw for c in r if c is not None)
        fullwidth |= bool(re.search("[０-９]", raw_text))
        lower_x |= bool(re.search(r"\d{17}x", raw_text))
        for row in rows:
            for form, pattern in MONTH_PATTERNS.items():
                if isinstance(row["period"], str) and pattern.match(row["period"]):
                    period_forms.add(form)
            for col in ("registration_date", "birth_date", "hire_date", "enrollment_date"):
                value = row.get(col)
                if isinstance(value, int):
                    date_forms.add("serial")
                elif isinstance(value, str):
                    date_forms |= {f for f, p in DATE_PATTERNS.items() if p.match(value)}
            for col in ("affordable", "cctv_full_coverage", "pre_service_training"):
                if isinstance(row.get(col), str) and row[col].lower() in FLAGS:
                    flags.add(row[col])
            if entry.kind == "institutions":
                cells.append(row["places"])
    assert encodings == {"utf-8", "utf-8-bom", "gb18030", "xlsx"}
    assert date_forms == {"iso", "slash", "dot", "cn", "compact", "serial"}
    assert period_forms == {"dash", "compact", "cn"}
    assert {f.lower() for f in flags} == {"是", "否", "y", "n", "1", "0", "true", "false"}
    assert {"TRUE", "True", "true"} & flags and len({f for f in flags if f.lower() == "true"}) >= 2, "flags in any case"
    assert any(isinstance(c, str) and "," in c for c in cells), "thousands separators"
    assert any(isinstance(c, str) and c.endswith(".0") for c in cells), "integers written 120.0"
    assert english and extra and fullwidth and lower_x and csv_title


def check_planted(manifest, inbox: Path, areas: set[str]) -> set[str]:
    """Reads every loaded file and asserts that the rows breaking a rule are exactly the
    manifest's planted rows; returns the rule keys found."""
    planted = {(d.file, d.row_number, d.rule_key) for d in manifest.defects if d.row_number is not None}
    found = set()
    accepted: dict[str, set[str]] = {}
    loaded = sorted(
        (f for f in manifest.files if f.status == "loaded"), key=lambda f: (f.period, f.kind != "institutions")
    )
    for entry in loaded:
        rows, _ = read_rows(inbox / entry.file, entry.kind)
        assert len(rows) == entry.rows
        year, month = map(int, entry.period.split("-"))
        xlsx = entry.file.endswith(".xlsx")
        flagged = violations(entry.kind, rows, year, month, xlsx, areas, accepted.get(entry.period))
        if entry.kind == "institutions":
            accepted[entry.period] = accepted_institutions(rows, flagged)
        found |= {(entry.file, n, rule) for n, rules in flagged.items() for rule in rules}
    assert found - planted == set(), "rule breaks the manifest does not list"
    assert planted - found == set(), "manifest entries that the files do not show"
    return {rule for _, _, rule in found}


def test_each_planted_defect_is_on_its_row_and_nothing_else_breaks_a_rule(tmp_path: Path, reference: Path) -> None:
    manifest = generate_test_sample(tmp_path, reference)
    rules = check_planted(manifest, tmp_path / "inbox", {c for c, *_ in AREAS})
    assert rules == CONTRACT_CASES, "every row rule of extract-format.md §2, for each kind, in six months"
    severities = Counter(d.severity for d in manifest.defects)
    assert severities["R"] > 30 and severities["W"] > 5
    per_file = Counter(d.file for d in manifest.defects if d.row_number is not None)
    assert max(per_file.values()) <= 12, "defects stay sparse"


def test_large_sheets_written_fast_hold_the_same_cells(tmp_path: Path, reference: Path, monkeypatch) -> None:
    from pipeline.sample import writers

    usual = generate_test_sample(tmp_path / "usual", reference, start="2023-01", end="2023-04")
    monkeypatch.setattr(writers, "FAST_XLSX_ROWS", 0)
    fast = generate_test_sample(tmp_path / "fast", reference, start="2023-01", end="2023-04")
    sheets = [f.file for f in fast.files if f.file.endswith(".xlsx")]
    assert sheets and [f.file for f in usual.files] == [f.file for f in fast.files]
    for name in sheets:
        cells = []
        for root in ("usual", "fast"):
            book = openpyxl.load_workbook(tmp_path / root / "inbox" / name, read_only=True)
            cells.append([list(r) for r in book.worksheets[0].iter_rows(values_only=True)])
            book.close()
        assert cells[0] == cells[1], name
        assert (tmp_path / "usual" / "inbox" / name).read_bytes() != (tmp_path / "fast" / "inbox" / name).read_bytes()
    check_planted(fast, tmp_path / "fast" / "inbox", {c for c, *_ in AREAS})


def test_whole_file_events(tmp_path: Path, reference: Path) -> None:
    manifest = generate_test_sample(tmp_path, reference)
    inbox = tmp_path / "inbox"
    events = {d.severity: d for d in manifest.defects if d.row_number is None}
    assert events.keys() == {"missing", "file", "revised", "unrecognised"}

    missing = events["missing"]
    present = {(f.kind, f.period) for f in manifest.files}
    assert (missing.kind, missing.period) not in present and missing.file is None

    rejected = [d for d in manifest.defects if d.severity == "file"]
    assert len(rejected) == 2
    for d in rejected:
        data = (inbox / d.file).read_bytes()
        if d.rule_key == "missing_header":
            with pytest.raises(AssertionError, match="no header row"):
                read_rows(inbox / d.file, d.kind)
        else:
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
            with pytest.raises(UnicodeDecodeError):
                data.decode("gb18030")

    earlier = inbox / events["revised"].file
    later = [
        inbox / f.file
        for f in manifest.files
        if (f.kind, f.period) == (events["revised"].kind, events["revised"].period) and f.status == "loaded"
    ]
    assert len(later) == 1 and later[0].parent != earlier.parent
    assert later[0].stat().st_mtime > earlier.stat().st_mtime
    assert later[0].read_bytes() != earlier.read_bytes()
    match = NAME_PATTERN.match(earlier.name)
    assert match and KIND_OF_STEM[match.group(1)] == events["revised"].kind

    unrecognised = inbox / events["unrecognised"].file
    assert unrecognised.is_file() and not NAME_PATTERN.match(unrecognised.name)


def test_people_keep_their_identity_and_come_and_go(tmp_path: Path, reference: Path) -> None:
    manifest = generate_test_sample(tmp_path, reference)
    inbox = tmp_path / "inbox"
    by_month: dict[str, dict[str, tuple]] = {}
    for entry in manifest.files:
        if entry.kind == "enrollment" and entry.status == "loaded":
            rows, _ = read_rows(inbox / entry.file, "enrollment")
            xlsx = entry.file.endswith(".xlsx")
            by_month[entry.period] = {
                str(r["child_id_number"]).upper(): (r.get("child_name"), parse_date(r["birth_date"], xlsx))
                for r in rows
                if id_problem(r["child_id_number"]) is None and r["birth_date"]
            }
    months = sorted(by_month)
    assert len(months) >= 3
    for a, b in zip(months, months[1:]):
        stay = by_month[a].keys() & by_month[b].keys()
        assert len(stay) > 0.8 * len(by_month[a]), "most children stay from one month to the next"
        assert len(by_month[b].keys() - by_month[a].keys()) > 0, "new children join"
        assert len(by_month[a].keys() - by_month[b].keys()) > 0, "children leave"
        same = sum(by_month[a][k] == by_month[b][k] for k in stay)
        assert same >= len(stay) - 6, "a child keeps name and birth date (bar planted changes)"


def test_scale_two_has_twice_the_rows(tmp_path: Path, reference: Path) -> None:
    one = generate_sample(tmp_path / "one" / "inbox", reference, scale=1, start="2023-01", end="2023-02")
    two = generate_sample(tmp_path / "two" / "inbox", reference, scale=2, start="2023-01", end="2023-02")

    def clean_rows(manifest, kind: str) -> int:
        """Rows of the kind's files that carry no planted defect (planted rows do not scale)."""
        files = [f for f in manifest.files if f.kind == kind and f.status in ("loaded", "file_rejected")]
        return sum(f.rows - len({d.row_number for d in manifest.defects_in(f.file)}) for f in files)

    for kind in ("institutions", "enrollment", "staffing"):
        assert 1.9 < clean_rows(two, kind) / clean_rows(one, kind) < 2.1, kind
    for entry in two.files:
        if entry.kind == "institutions" and entry.status == "loaded":
            rows, _ = read_rows(tmp_path / "two" / "inbox" / entry.file, "institutions")
            ids = Counter(r["institution_id"] for r in rows)
            dupes = {d.row_number for d in two.defects_in(entry.file) if "duplicate" in d.rule_key}
            assert sum(n - 1 for n in ids.values()) <= len(dupes), "institution ids stay unique across copies"
    assert len(two.defects) < 1.3 * len(one.defects), "defects do not grow with the scale"


def test_the_story_moves_every_indicator(tmp_path: Path, reference: Path) -> None:
    manifest = generate_sample(tmp_path / "inbox", reference, start="2021-09", end="2025-12")
    assert check_planted(manifest, tmp_path / "inbox", {c for c, *_ in AREAS}) == CONTRACT_CASES
    story = {s["period"]: s for s in manifest.story}
    start, deadline = story["2021-09"], story["2025-12"]
    assert 1.6 <= start["places_per_1000"] <= 2.1 and deadline["places_per_1000"] >= 4.5
    assert start["demo_institutions"] == 0 and story["2022-12"]["demo_institutions"] == 0
    assert story["2023-12"]["demo_institutions"] >= 1 and deadline["demo_institutions"] > 3
    assert start["rural_town_coverage"] < 100 and story["2025-03"]["rural_town_coverage"] < 100
    assert deadline["town_coverage"] == 100 and deadline["rural_town_coverage"] == 100
    assert start["service_types"] == 3 and deadline["service_types"] == 6
    for key in ("filing_rate", "cctv_coverage", "fire_safety_rate"):
        assert start[key] < 90 and story["2024-06"][key] == 100, key
    assert story["2023-12"]["cctv_coverage"] < 100, "video coverage misses its 2023-12 deadline"
    assert story["2023-12"]["criminal_check_rate"] < 100 <= story["2024-06"]["criminal_check_rate"]
    for key in (
        "affordable_place_share",
        "caregiver_certified_rate",
        "staff_trained_rate",
        "enrolled_children",
        "enrollment_rate",
        "ratio_compliance_rate",
    ):
        assert deadline[key] > start[key] + 5, key
    assert all(55 <= s["place_utilization"] <= 88 for s in manifest.story)
    assert 80 <= deadline["ratio_compliance_rate"] < 100, "some institutions stay short of caregivers"
    # The story's figures are the files' figures: places of one month, read back.
    entry = next(
        f for f in manifest.files if f.period == "2024-06" and f.kind == "institutions" and f.status == "loaded"
    )
    rows, _ = read_rows(tmp_path / "inbox" / entry.file, "institutions")
    planted = {d.row_number for d in manifest.defects_in(entry.file)}
    places = sum(
        parse_int(r["places"]) for r in rows if r["operating_status"] == "正常运营" and r["_row"] not in planted
    )
    assert places == story["2024-06"]["places"]


def test_refuses_a_non_empty_inbox_and_a_bad_reference(tmp_path: Path, reference: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "old.csv").write_text("x", encoding="utf-8")
    with pytest.raises(FileExistsError):
        generate_sample(inbox, reference, start="2023-01", end="2023-01")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "areas.csv").write_text(
        "area_code,area_name,area_type,urban_rural,parent_code\n1,a,镇,乡村,9\n", encoding="utf-8"
    )
    (bad / "population.csv").write_text("year,area_code,resident_population,population_under3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="areas.csv"):
        generate_sample(tmp_path / "other", bad, start="2023-01", end="2023-01")
    with pytest.raises(ValueError, match="before start"):
        generate_sample(tmp_path / "other", reference, start="2023-05", end="2023-01")
