"""The aggregate bundle (docs/rollup.md section 1): what a county sends its prefecture.

One `.zip` (or the same files unpacked in a folder) holding four Parquet files of counts,
numerators and denominators, and a `manifest.json` naming each file with its row count and
SHA-256. `write_bundle` makes one from four DataFrames; `read_bundle` opens one and checks
everything a bundle says about itself, raising `BundleError` (a Chinese message naming the
bundle and the check) on the first thing wrong. Whether the county belongs to the
prefecture is the receiver's question (pipeline/rollup/receive.py), not the format's.

No Dagster and no warehouse here.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

FORMAT = "tuoyu-bundle"
FORMAT_VERSION = 1
# The versions of docs/indicator-handbook.md and docs/extract-format.md this program implements:
# a bundle's figures are comparable with ours only when it was made to the same ones.
HANDBOOK_VERSION = 1
EXTRACT_FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# A bundle of one county over decades is a few megabytes; anything far larger is not one.
MAX_MEMBER_BYTES = 256 * 1024 * 1024

SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "indicator_values.parquet": {
        "indicator_id": pl.String, "period": pl.String, "area_code": pl.String, "is_county": pl.Boolean,
        "value": pl.Float64, "numerator": pl.Float64, "denominator": pl.Float64,
        "target_value": pl.Float64, "target_deadline": pl.String, "status": pl.String,
    },
    "institution_types.parquet": {
        "period": pl.String, "area_code": pl.String, "institution_type": pl.String, "institutions": pl.Int64,
    },
    "reporting_rates.parquet": {
        "kind": pl.String, "period": pl.String, "window_months": pl.Int32, "first_period": pl.String,
        "expected": pl.Int64, "received": pl.Int64, "on_time": pl.Int64, "late": pl.Int64,
        "backfilled": pl.Int64, "missing": pl.Int64, "received_rate": pl.Float64, "on_time_rate": pl.Float64,
    },
    "data_quality.parquet": {
        "period": pl.String, "kind": pl.String, "file_present": pl.Boolean, "rows_read": pl.Int64,
        "rows_accepted": pl.Int64, "rows_rejected": pl.Int64, "rows_duplicate": pl.Int64,
        "rows_warned": pl.Int64, "quality_flags": pl.Int64, "quality_flags_open": pl.Int64,
    },
}
FILES = tuple(SCHEMAS)
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class BundleError(Exception):
    """A bundle that cannot be used. `str(error)`: `汇总包 <name> 无法使用：<problem>。<what to do>`."""

    def __init__(self, bundle: str, problem_zh: str, todo_zh: str = "请该县重新运行 tuoyu export-bundle 生成汇总包后再发送。"):
        self.bundle = bundle
        self.problem_zh = problem_zh
        super().__init__(f"汇总包 {bundle} 无法使用：{problem_zh}。{todo_zh}")


@dataclass(frozen=True)
class Manifest:
    county_code: str
    county_name: str
    periods: tuple[str, ...]
    made_at: datetime  # aware
    code_version: str
    files: dict[str, dict[str, object]]  # name -> {"rows": int, "sha256": str}
    format_version: int = FORMAT_VERSION
    handbook_version: int = HANDBOOK_VERSION
    extract_format_version: int = EXTRACT_FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT,
            "format_version": self.format_version,
            "county_code": self.county_code,
            "county_name": self.county_name,
            "periods": list(self.periods),
            "handbook_version": self.handbook_version,
            "extract_format_version": self.extract_format_version,
            "code_version": self.code_version,
            "made_at": self.made_at.isoformat(timespec="seconds"),
            "files": self.files,
        }, ensure_ascii=False, indent=2) + "\n"


@dataclass(frozen=True, eq=False)
class Bundle:
    """A bundle that passed every check of its own: its manifest, the SHA-256 of the
    manifest's bytes (the bundle's identity), and its four tables."""

    name: str
    manifest: Manifest
    manifest_sha256: str
    tables: dict[str, pl.DataFrame]


def code_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tuoyu")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout without install
        return "0+unknown"


def bundle_file_name(county_code: str, county_name: str, made_at: datetime) -> str:
    return f"汇总包-{county_code}-{county_name}-{made_at:%Y%m%dT%H%M%S}.zip"


def write_bundle(out_dir: Path, *, county_code: str, county_name: str, tables: dict[str, pl.DataFrame],
                 made_at: datetime | None = None, version: str | None = None) -> Path:
    """Write one bundle `.zip` into `out_dir` and return its path. Each table is cast to its
    schema (missing or extra columns are an error: a programming slip, not the office's)."""
    made_at = (made_at or datetime.now()).astimezone()
    if set(tables) != set(FILES):
        raise ValueError(f"a bundle needs exactly {FILES}, got {sorted(tables)}")
    payload: dict[str, bytes] = {}
    files: dict[str, dict[str, object]] = {}
    for name in FILES:
        schema = SCHEMAS[name]
        frame = tables[name]
        if set(frame.columns) != set(schema):
            raise ValueError(f"{name}: columns {sorted(frame.columns)} are not {sorted(schema)}")
        frame = frame.select([pl.col(c).cast(t) for c, t in schema.items()])
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", statistics=False)
        data = buffer.getvalue()
        payload[name] = data
        files[name] = {"rows": frame.height, "sha256": hashlib.sha256(data).hexdigest()}
    periods = tuple(sorted(set(tables["indicator_values.parquet"].get_column("period").to_list())))
    manifest = Manifest(county_code=county_code, county_name=county_name, periods=periods, made_at=made_at,
                        code_version=version or code_version(), files=files)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / bundle_file_name(county_code, county_name, made_at)
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".bundle-", suffix=".zip")
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr(MANIFEST, manifest.to_json().encode("utf-8"))
            for name, data in payload.items():
                archive.writestr(name, data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


# ---------------------------------------------------------------- reading


def _members(path: Path) -> dict[str, bytes]:
    """The bundle's files by name: a zip's members (never extracted to disk) or a folder's files."""
    name = path.name
    if path.is_dir():
        found = {p.name: p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")}
        out = {}
        for member, file in found.items():
            if file.stat().st_size > MAX_MEMBER_BYTES:
                raise BundleError(name, f"文件 {member} 过大（超过 {MAX_MEMBER_BYTES // 2**20} MB），不是汇总包")
            out[member] = file.read_bytes()
        return out
    _refuse_non_zip(path)
    try:
        with zipfile.ZipFile(path) as archive:
            out = {}
            for info in archive.infolist():
                if info.is_dir():
                    continue
                member = info.filename.rsplit("/", 1)[-1]
                if member.startswith(".") or member.startswith("__MACOSX"):
                    continue
                if info.file_size > MAX_MEMBER_BYTES:
                    raise BundleError(name, f"压缩包中的 {member} 过大（超过 {MAX_MEMBER_BYTES // 2**20} MB），不是汇总包")
                if member in out:
                    raise BundleError(name, f"压缩包中有两个 {member}")
                out[member] = archive.read(info)
            return out
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise BundleError(name, "不是完整的 zip 压缩包（可能没有传完，或已损坏）") from exc


def file_head(path: Path, size: int = 16) -> bytes:
    """The first bytes of a file: enough to tell a zip from anything else without reading it."""
    with path.open("rb") as handle:
        return handle.read(size)


def is_warehouse_file(head: bytes) -> bool:
    """A DuckDB database file (a county's warehouse holds personal data): `DUCK` at byte 8."""
    return head[8:12] == b"DUCK"


def _refuse_non_zip(path: Path) -> None:
    """A file that is not a zip at all, said for what it is, read no further than its first bytes."""
    head = file_head(path)
    if not head:
        raise BundleError(path.name, "是空文件（0 字节，可能没有传完）")
    if is_warehouse_file(head):
        raise BundleError(path.name, "这是数据仓库文件，不是汇总包，程序没有读取其中的数据",
                          "数据仓库文件含个人数据，不要发送：请把它从收件箱删除，并请该县运行 tuoyu export-bundle，"
                          "把生成的汇总包（.zip 文件）发来。")
    if not head.startswith(b"PK"):
        if path.name.lower().endswith(".zip"):
            raise BundleError(path.name, "不是完整的 zip 压缩包（可能没有传完，或已损坏）")
        raise BundleError(path.name, "不是 zip 压缩包（汇总包是 tuoyu export-bundle 生成的 .zip 文件）")


def _manifest(name: str, data: bytes) -> Manifest:
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(name, "manifest.json 不是有效的 JSON 文件") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BundleError(name, "manifest.json 不是托育汇总包的清单（format 不是 tuoyu-bundle）")
    if raw.get("format_version") != FORMAT_VERSION:
        raise BundleError(name, f"汇总包格式版本为 {raw.get('format_version')!r}，本程序读取第 {FORMAT_VERSION} 版",
                          "请该县把程序升级到与地市相同的版本后重新生成汇总包。")
    if raw.get("handbook_version") != HANDBOOK_VERSION or raw.get("extract_format_version") != EXTRACT_FORMAT_VERSION:
        raise BundleError(
            name,
            f"指标手册第 {raw.get('handbook_version')!r} 版、报送格式第 {raw.get('extract_format_version')!r} 版，"
            f"与本程序的第 {HANDBOOK_VERSION} 版、第 {EXTRACT_FORMAT_VERSION} 版不同，数值不可比",
            "请该县把程序升级到与地市相同的版本后重新生成汇总包。")
    for key in ("county_code", "county_name", "code_version", "made_at"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise BundleError(name, f"manifest.json 缺少 {key}")
    try:
        made_at = datetime.fromisoformat(raw["made_at"])
    except ValueError as exc:
        raise BundleError(name, f"manifest.json 的生成时间 {raw['made_at']!r} 无效") from exc
    if made_at.tzinfo is None:
        raise BundleError(name, f"manifest.json 的生成时间 {raw['made_at']!r} 没有时区")
    periods = raw.get("periods")
    if not isinstance(periods, list) or not all(isinstance(p, str) and _PERIOD.match(p) for p in periods):
        raise BundleError(name, "manifest.json 的月份列表（periods）应为 YYYY-MM 格式的月份")
    files = raw.get("files")
    if not isinstance(files, dict) or set(files) != set(FILES):
        listed = "、".join(sorted(files)) if isinstance(files, dict) else "无"
        raise BundleError(name, f"manifest.json 列出的文件（{listed}）应为 {'、'.join(FILES)}")
    for member, entry in files.items():
        if (not isinstance(entry, dict) or not isinstance(entry.get("rows"), int) or entry["rows"] < 0
                or not isinstance(entry.get("sha256"), str) or not re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])):
            raise BundleError(name, f"manifest.json 中 {member} 的行数或 SHA-256 无效")
    return Manifest(county_code=raw["county_code"].strip(), county_name=raw["county_name"].strip(),
                    periods=tuple(periods), made_at=made_at, code_version=raw["code_version"], files=files)


def read_bundle(path: Path, indicator_ids: frozenset[str] | None = None) -> Bundle:
    """Open and check one bundle (docs/rollup.md section 3, except which counties are known).
    `indicator_ids`: when given, every indicator of the bundle must be one of them."""
    name = path.name
    members = _members(path)
    if MANIFEST not in members:
        inner = sorted(m for m in members if m.lower().endswith(".zip"))
        if inner:
            raise BundleError(name, f"压缩包里又是压缩包 {'、'.join(inner)}（汇总包被再压缩了一次）",
                              f"请把里面的 {inner[0]} 取出来原样放入收件箱后重新运行 tuoyu run。")
        raise BundleError(name, "没有 manifest.json（不是 tuoyu export-bundle 生成的汇总包）")
    manifest_bytes = members.pop(MANIFEST)
    manifest = _manifest(name, manifest_bytes)
    missing = [f for f in FILES if f not in members]
    if missing:
        raise BundleError(name, f"缺少文件 {'、'.join(missing)}")
    extra = sorted(set(members) - set(FILES))
    if extra:
        raise BundleError(name, f"有清单以外的文件 {'、'.join(extra)}")
    tables: dict[str, pl.DataFrame] = {}
    for member in FILES:
        data = members[member]
        entry = manifest.files[member]
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise BundleError(name, f"{member} 的 SHA-256 与清单不符（文件在生成后被改动或传输出错）")
        try:
            frame = pl.read_parquet(io.BytesIO(data))
        except Exception as exc:  # polars raises several kinds for a bad Parquet file
            raise BundleError(name, f"{member} 不是有效的 Parquet 文件") from exc
        expected = SCHEMAS[member]
        if dict(frame.schema) != expected:
            raise BundleError(name, f"{member} 的列（{', '.join(f'{c}:{t}' for c, t in frame.schema.items())}）与第 "
                                    f"{FORMAT_VERSION} 版格式不符")
        if frame.height != entry["rows"]:
            raise BundleError(name, f"{member} 有 {frame.height} 行，清单写的是 {entry['rows']} 行")
        bad_period = frame.filter(~pl.col("period").str.contains(_PERIOD.pattern))
        if bad_period.height:
            raise BundleError(name, f"{member} 中有无效月份 {bad_period.get_column('period')[0]!r}")
        tables[member] = frame
    values = tables["indicator_values.parquet"]
    periods = tuple(sorted(set(values.get_column("period").to_list())))
    if periods != tuple(sorted(manifest.periods)):
        raise BundleError(name, "manifest.json 的月份列表与 indicator_values.parquet 中的月份不一致")
    county_rows = values.filter(pl.col("is_county"))
    if county_rows.filter(pl.col("area_code") != manifest.county_code).height:
        raise BundleError(name, f"indicator_values.parquet 的全县行不是清单中的县 {manifest.county_code}")
    if values.select(pl.struct("indicator_id", "period", "area_code").is_duplicated().any()).item():
        raise BundleError(name, "indicator_values.parquet 中同一指标、月份、区划有重复行")
    if indicator_ids is not None:
        unknown = sorted(set(values.get_column("indicator_id").to_list()) - indicator_ids)
        if unknown:
            raise BundleError(name, f"有指标手册中没有的指标 {'、'.join(unknown[:5])}")
    return Bundle(name=name, manifest=manifest, manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
                  tables=tables)
