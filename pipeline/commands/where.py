"""`tuoyu where`: the folders and the county in use, and where each setting comes from (an
environment variable, a `.env` file, the default, or `--demo`). Nothing is created: no warehouse,
no folder."""

from __future__ import annotations

from pathlib import Path

from pipeline.settings import Settings

DEMO_SOURCE = "--demo（演示数据的文件夹）"


def county_of(reference: Path | None) -> str:
    """`370781 青州市`: the county row of the reference folder's areas.csv, or why it cannot be read."""
    from pipeline.reference import ReferenceDataError
    from pipeline.reference.areas import parse_areas
    from pipeline.zh import chinese_only

    if reference is None:
        return "未设置参考数据文件夹"
    try:
        areas = parse_areas(Path(reference) / "areas.csv")
    except ReferenceDataError as exc:
        return f"无法读取：{chinese_only(str(exc))}"
    except OSError as exc:
        return f"无法读取 {Path(reference) / 'areas.csv'}：{exc.strerror or exc}"
    if areas.is_empty():
        return "areas.csv 中没有县级行"
    county = areas.row(0, named=True)
    return f"{county['area_code']} {county['area_name']}"


def prefecture_of(reference: Path | None) -> str | None:
    """`370700 潍坊市，下级 12 个县级区划` when the folder is a prefecture's, else None."""
    from pipeline.rollup.run import is_prefecture_folder

    if not is_prefecture_folder(reference):
        return None
    from pipeline.reference import ReferenceDataError, load_prefecture_reference
    from pipeline.zh import chinese_only

    try:
        prefecture = load_prefecture_reference(reference)
    except ReferenceDataError as exc:
        return f"地市的参考数据，但无法读取：{chinese_only(str(exc))}"
    return (f"{prefecture.prefecture_code} {prefecture.prefecture_name}"
            f"，下级 {len(prefecture.county_codes)} 个县级区划")


def _state(path: Path, *, file: bool = False) -> str:
    if file:
        return "" if path.is_file() else "（还不存在：第一次 tuoyu run 时建立）"
    if path.is_dir():
        return ""
    return "（还不存在）" if not path.exists() else "（不是文件夹）"


def where_lines(settings: Settings, sources: dict[str, str]) -> list[str]:
    """What `tuoyu where` prints: one line per folder, its source under it."""
    from pipeline.analysts.publish import published_folder

    mode = "演示数据（公开的演示密钥，输出带“演示数据”标记）" if settings.demo_key_in_use else (
        "演示/测试模式（TUOYU_DEMO=1）" if settings.demo else "正式数据")
    key = ("公开的演示密钥" if settings.demo_key_in_use else
           f"已设置（来自{sources['pseudonym_key']}）" if settings.pseudonym_key else
           "未设置：tuoyu run 前请设置 TUOYU_PSEUDONYM_KEY")
    county = county_of(settings.reference)
    rows = [
        ("收件箱", settings.inbox, _state(settings.inbox), sources["inbox"]),
        ("数据仓库", settings.warehouse, _state(settings.warehouse, file=True), sources["warehouse"]),
        ("报告", settings.reports, _state(settings.reports), sources["reports"]),
        ("发布副本", published_folder(settings.warehouse), _state(published_folder(settings.warehouse)),
         "数据仓库所在的文件夹下"),
        ("运行日志", settings.log_folder, _state(settings.log_folder), "数据仓库所在的文件夹下"),
        ("参考数据", settings.reference or "—", _state(settings.reference) if settings.reference else "",
         sources["reference"]),
    ]
    lines = [f"模式：{mode}", f"县（市、区）：{county}（参考数据中的 areas.csv）", ""]
    prefecture = prefecture_of(settings.reference)
    if prefecture is not None:  # a prefecture over its counties' bundles: no key, no extracts
        lines[0:2] = ["模式：地市汇总（各县汇总包）", f"地市：{prefecture}（参考数据中的 areas.csv）"]
        rows[0] = ("收件箱（各县汇总包）", *rows[0][1:])
        key = "地市汇总不需要"
    for label, path, state, source in rows:
        lines.append(f"{label}：{path}{state}")
        lines.append(f"    来自：{source}")
    lines += ["", f"假名化密钥：{key}"]
    return lines


def where_command(settings: Settings, sources: dict[str, str]) -> int:
    for line in where_lines(settings, sources):
        print(line)
    return 0
