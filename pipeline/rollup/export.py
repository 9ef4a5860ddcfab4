"""`tuoyu export-bundle`: the county's aggregate bundle for its prefecture (docs/rollup.md section 1).

`bundle_tables` reads the four tables of a bundle from a county warehouse with the queries of
sql/bundle/ (one file per bundle member: counts, numerators and denominators only);
`export_bundle` opens the warehouse read-only (after any run has finished), checks that it
is the county of the reference folder, and writes the bundle with
pipeline/rollup/bundle_format.py `write_bundle`. Nothing is written to the warehouse, and a
warehouse that does not exist is never created.

The bundle goes to `<reports folder>/bundles/` unless `--out` names another folder: the
reports folder holds what the office sends out; the warehouse's folder holds personal data
and is its owner's only.
"""

from __future__ import annotations

import errno
from pathlib import Path

import duckdb
import polars as pl

from pipeline.period import index
from pipeline.rollup.bundle_format import FILES, Bundle, write_bundle
from pipeline.settings import SQL_DIR, Settings

BUNDLE_SQL_DIR = SQL_DIR / "bundle"
BUNDLE_FOLDER = "bundles"
# What the bundle's queries read: a warehouse without one of them has not been built by
# this version of the program.
READS = (("marts", "indicator_values"), ("marts", "operating_institutions"), ("marts", "reporting_rates"),
         ("marts", "data_quality"), ("marts", "quality_flags"), ("reference", "areas"))
# The bundle's members in the office's words.
MEMBERS_ZH = {
    "indicator_values.parquet": "指标值",
    "institution_types.parquet": "分机构类型的机构数",
    "reporting_rates.parquet": "报表报送率",
    "data_quality.parquet": "数据质量",
}


class BundleExportError(Exception):
    """The bundle could not be made; the message (Chinese) says why and what to do."""


def default_bundle_folder(settings: Settings) -> Path:
    """Where `tuoyu export-bundle` writes without `--out`: `<reports folder>/bundles`."""
    return Path(settings.reports) / BUNDLE_FOLDER


def bundle_query(member: str) -> str:
    """The query of sql/bundle/ that selects one bundle member (`indicator_values.parquet`
    → sql/bundle/indicator_values.sql)."""
    return (BUNDLE_SQL_DIR / f"{member.removesuffix('.parquet')}.sql").read_text(encoding="utf-8")


def _missing_relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    from pipeline.warehouse.connection import table_exists

    return [f"{schema}.{name}" for schema, name in READS if not table_exists(con, schema, name)]


def bundle_tables(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    """The four tables of a bundle, read from the county warehouse open on `con` (read-only
    is enough), in one transaction: every table shows the warehouse at the same moment."""
    missing = _missing_relations(con)
    if missing:
        raise BundleExportError(f"数据仓库中没有 {'、'.join(missing)}（尚未用本版本程序完整运行过）："
                                "请先运行 tuoyu run，再生成汇总包。")
    con.execute("begin transaction")
    try:
        return {member: con.execute(bundle_query(member)).pl() for member in FILES}
    finally:
        con.execute("rollback")


def warehouse_county(con: duckdb.DuckDBPyConnection) -> str | None:
    """The county code of the warehouse's reference.areas (its root), or None."""
    row = con.execute("select min(area_code) from reference.areas where parent_code is null").fetchone()
    return row[0] if row else None


def _check_out_dir(out_dir: Path, protected: list[Path]) -> Path:
    from pipeline.analysts.destination import _inside

    given = Path(out_dir).expanduser().absolute()
    resolved = given.resolve()
    for folder in protected:
        folder = Path(folder).resolve()
        if _inside(resolved, folder) or _inside(given, folder):
            raise BundleExportError(
                f"不能把汇总包写到 {out_dir}：该位置在数据仓库、原始档案、发布副本或收件箱文件夹（{folder}）内。"
                "请换一个文件夹，或不写 --out（默认写到报告文件夹下的 bundles 文件夹）。")
    if resolved.exists() and not resolved.is_dir():
        raise BundleExportError(f"{out_dir} 是一个文件，不是文件夹：--out 写汇总包要放入的文件夹（文件名由程序生成），"
                                f"如 --out {resolved.parent}。")
    if given.suffix.lower() == ".zip":
        raise BundleExportError(f"--out 写汇总包要放入的文件夹，不写文件名（汇总包的文件名由程序生成）："
                                f"请写 --out {given.parent}。")
    if not resolved.is_dir():
        raise BundleExportError(f"文件夹 {out_dir} 不存在（程序不会自动创建 --out 指定的文件夹）："
                                "请先建好该文件夹，或换一个已有的文件夹。")
    return resolved


def _not_written(folder: Path, exc: OSError) -> BundleExportError:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "该文件夹只读，或本账户没有写入权限"
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        why = "磁盘已满"
    else:
        why = f"写入出错（{exc.strerror or exc}）"
    return BundleExportError(f"无法在文件夹 {folder} 中写入汇总包：{why}。"
                             "请用 --out 指定一个可以写入的文件夹后重试，数据仓库不受影响。")


def export_bundle(settings: Settings, out_dir: Path | None = None, *, protected: list[Path] | None = None,
                  on_wait=None) -> Path:
    """Write the county's bundle and return its path. `out_dir`: an existing folder (not
    inside one of `protected`); by default `default_bundle_folder(settings)`, made when
    missing. Raises BundleExportError (Chinese) when there is no warehouse, no figure, or
    the folder cannot be written."""
    from pipeline.reference import load_reference
    from pipeline.warehouse.connection import connect
    from pipeline.warehouse.lock import run_lock

    warehouse = Path(settings.warehouse)
    if not warehouse.is_file():
        raise BundleExportError(f"还没有数据仓库（{warehouse}）：请先运行 tuoyu run 载入数据，再生成汇总包。"
                                "看演示数据请在命令前加 --demo，如 tuoyu --demo export-bundle。")
    folder = default_bundle_folder(settings) if out_dir is None else _check_out_dir(out_dir, protected or [])
    reference = load_reference(settings.reference)
    with run_lock(warehouse, settings.lock_wait, on_wait=on_wait):  # after a run in progress, not during it
        con = connect(warehouse, read_only=True, memory_limit=settings.memory_limit)
        try:
            tables = bundle_tables(con)
            county = warehouse_county(con)
        finally:
            con.close()
    if county != reference.county_code:
        raise BundleExportError(
            f"数据仓库中的县（{county}）与参考数据文件夹 {reference.folder} 的县（{reference.county_code} "
            f"{reference.county_name}）不同：请先用该参考数据运行 tuoyu run，或检查 TUOYU_REFERENCE 的设置。")
    if tables["indicator_values.parquet"].is_empty():
        raise BundleExportError("数据仓库中还没有任何指标值：请先把报表放入收件箱并运行 tuoyu run，再生成汇总包。")
    try:
        return write_bundle(folder, county_code=reference.county_code, county_name=reference.county_name,
                            tables=tables)
    except OSError as exc:
        raise _not_written(folder, exc) from None


def month_ranges_zh(periods: list[str] | tuple[str, ...]) -> str:
    """Months as runs: `2021-09 至 2023-05、2023-07 至 2026-11`."""
    runs: list[list[str]] = []
    for period in sorted(periods):
        if runs and index(period) == index(runs[-1][-1]) + 1:
            runs[-1].append(period)
        else:
            runs.append([period])
    return "、".join(run[0] if len(run) == 1 else f"{run[0]} 至 {run[-1]}" for run in runs)


def describe_zh(path: Path, bundle: Bundle) -> str:
    """What `tuoyu export-bundle` prints: where the bundle is, which county and months, what it holds."""
    manifest = bundle.manifest
    held = "，".join(f"{MEMBERS_ZH[m]} {manifest.files[m]['rows']:,} 行" for m in FILES)
    return "\n".join([
        f"汇总包已写入：{path}",
        f"县：{manifest.county_code} {manifest.county_name}",
        f"月份：{month_ranges_zh(manifest.periods)}（共 {len(manifest.periods)} 个月）",
        f"内容：{held}。只有汇总数（分子、分母、个数），没有任何幼儿、从业人员或机构的逐条数据。",
        "请把这个文件原样发送给地市统计局。",
    ])
