"""Configuration from the environment (extract-format.md §5), in one place.

Nothing is read at import: `Settings.from_env()` is called by the CLI and by the Dagster
resources when a run starts. A `.env` file in the working directory may set the variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

# The project's own files beside the package (it is installed in place, uv's default).
PROJECT_DIR = Path(__file__).resolve().parents[1]
SQL_DIR = PROJECT_DIR / "sql"
EXPECTATIONS_DIR = PROJECT_DIR / "expectations"
REPORT_TEMPLATE = PROJECT_DIR / "reports" / "template.typ"

# The published demo key: anyone can recompute demo pseudonyms, so it is only ever used
# when demo/test mode is named explicitly (TUOYU_DEMO=1 or `tuoyu demo`).
DEMO_KEY = "tuoyu-demo-key-published-not-secret"


class ConfigError(Exception):
    """A configuration problem that stops the run; the message says what to do."""


def _first_month(text: str) -> str:
    from pipeline.period import is_period

    if not is_period(text) or text < "1949-10":
        raise ConfigError(
            f"设置项 TUOYU_FIRST_MONTH 的值“{text}”不是有效的月份：请写成 2019-01 这样的年-月（不早于 1949-10），"
            "或删除该设置（默认 2019-01）。"
            f" TUOYU_FIRST_MONTH must be a month written YYYY-MM, not {text!r}."
        )
    return text


@dataclass(frozen=True)
class Settings:
    inbox: Path
    reference: Path | None
    warehouse: Path
    reports: Path
    pseudonym_key: str | None
    demo: bool = False
    compiler: str = "统计局"
    first_month: str = "2019-01"  # files of earlier months are rejected (TUOYU_FIRST_MONTH)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, load_dotenv: bool = True) -> "Settings":
        if env is None:
            if load_dotenv:
                from dotenv import load_dotenv as _load

                _load(Path.cwd() / ".env", override=False)
            env = dict(os.environ)
        reference = env.get("TUOYU_REFERENCE")
        return cls(
            inbox=Path(env.get("TUOYU_INBOX", "data/inbox")),
            reference=Path(reference) if reference else None,
            warehouse=Path(env.get("TUOYU_WAREHOUSE", "data/warehouse.duckdb")),
            reports=Path(env.get("TUOYU_REPORTS", "reports")),
            pseudonym_key=env.get("TUOYU_PSEUDONYM_KEY") or None,
            demo=env.get("TUOYU_DEMO", "").strip().lower() in ("1", "true", "yes"),
            compiler=env.get("TUOYU_COMPILER", "统计局"),
            first_month=_first_month(env.get("TUOYU_FIRST_MONTH", "").strip() or "2019-01"),
        )

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @property
    def archive(self) -> Path:
        """The raw archive: every file version as delivered. The one place with personal data."""
        return self.warehouse.parent / "raw-archive"

    def key(self) -> bytes:
        """The pseudonym key; the demo key only in demo/test mode; otherwise stop."""
        if self.pseudonym_key:
            return self.pseudonym_key.encode("utf-8")
        if self.demo:
            return DEMO_KEY.encode("utf-8")
        raise ConfigError(
            "未配置假名化密钥：请设置环境变量 TUOYU_PSEUDONYM_KEY（密钥由单位保管，不得写入代码库或数据库），"
            "或仅在演示/测试时设置 TUOYU_DEMO=1。"
            " No pseudonym key: set TUOYU_PSEUDONYM_KEY, or TUOYU_DEMO=1 for demo/test data only."
        )
