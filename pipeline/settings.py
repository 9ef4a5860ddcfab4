"""The one settings object of a run (extract-format.md §5), and the one reader of the environment.

`Settings.from_env()` is built once: by the CLI (the environment, a `.env` file in the working
directory, then its arguments) and, for runs that Dagster launches, by the Dagster resource from
its `EnvVar`-configured fields (pipeline/orchestration/resources.py). Everything else is handed
the Settings. No module of `pipeline/` but this one reads `os.environ`, and none writes it.
Nothing is read at import.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

# The project's own files beside the package (it is installed in place, uv's default).
PROJECT_DIR = Path(__file__).resolve().parents[1]
SQL_DIR = PROJECT_DIR / "sql"
EXPECTATIONS_DIR = PROJECT_DIR / "expectations"
REPORT_TEMPLATE = PROJECT_DIR / "reports" / "template.typ"

# The folders a setting does not name are the project's own, wherever the command is started.
DEFAULT_INBOX = PROJECT_DIR / "data" / "inbox"
DEFAULT_WAREHOUSE = PROJECT_DIR / "data" / "warehouse.duckdb"
DEFAULT_REPORTS = PROJECT_DIR / "reports"
# `make demo` / `tuoyu demo`: its inbox, warehouse and reports; `tuoyu --demo <command>` reads them.
DEMO_DIR = PROJECT_DIR / "data" / "demo"

# The published demo key: anyone can recompute demo pseudonyms, so it is only ever used
# when demo/test mode is named explicitly (TUOYU_DEMO=1 or `tuoyu demo`).
DEMO_KEY = "tuoyu-demo-key-published-not-secret"
# A pseudonym key shorter than this, or of fewer distinct characters, is refused: a short or
# repetitive key can be guessed, and every pseudonym with it.
MIN_KEY_CHARS = 32
MIN_KEY_DISTINCT = 10
MAKE_A_KEY = 'python3 -c "import secrets; print(secrets.token_hex(32))"'

# The variable of each setting read from the environment. DAGSTER_HOME is Dagster's own.
VARIABLES = {
    "inbox": "TUOYU_INBOX",
    "reference": "TUOYU_REFERENCE",
    "warehouse": "TUOYU_WAREHOUSE",
    "reports": "TUOYU_REPORTS",
    "pseudonym_key": "TUOYU_PSEUDONYM_KEY",
    "demo": "TUOYU_DEMO",
    "compiler": "TUOYU_COMPILER",
    "lock_wait": "TUOYU_LOCK_WAIT",
    "schedule_cron": "TUOYU_SCHEDULE_CRON",
    "memory_limit": "TUOYU_MEMORY_LIMIT",
    "log_level": "TUOYU_LOG_LEVEL",
    "sql_timeout": "TUOYU_SQL_TIMEOUT",
    "sql_memory_limit": "TUOYU_SQL_MEMORY_LIMIT",
    "first_month": "TUOYU_FIRST_MONTH",
    "strict_checks": "TUOYU_STRICT_CHECKS",
    "dagster_home": "DAGSTER_HOME",
}

DEFAULT_COMPILER = "统计局"
DEFAULT_LOCK_WAIT = 600.0
# The office's reporting rhythm: extracts for a month arrive in the first days of the next,
# so the 5th at 08:00 Beijing time runs the whole pipeline and the report for the previous month.
DEFAULT_CRON = "0 8 5 * *"
# DuckDB's buffer pool defaults to 80 % of the machine's memory. The pipeline shares the
# machine with other work: cap it (spilling to `<warehouse>.tmp` beyond), so that a
# province-scale run stays within a few GB.
DEFAULT_MEMORY_LIMIT = "3GB"
# One analyst's query may not starve the monthly run (pipeline/analysts/query.py).
DEFAULT_SQL_TIMEOUT = 60.0
DEFAULT_SQL_MEMORY_LIMIT = "2GB"
# Files of months before it are rejected (a typo such as 1900-01 would span a century).
DEFAULT_FIRST_MONTH = "2019-01"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_LOG_LEVEL = "WARNING"

_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)
_YES, _NO = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class ConfigError(Exception):
    """A configuration problem that stops the run; the message says what to do."""


@dataclass(frozen=True)
class Settings:
    inbox: Path
    reference: Path | None
    warehouse: Path
    reports: Path
    pseudonym_key: str | None
    demo: bool = False
    compiler: str = DEFAULT_COMPILER
    lock_wait: float = DEFAULT_LOCK_WAIT
    schedule_cron: str = DEFAULT_CRON
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    log_level: str = DEFAULT_LOG_LEVEL
    sql_timeout: float = DEFAULT_SQL_TIMEOUT
    sql_memory_limit: str = DEFAULT_SQL_MEMORY_LIMIT
    first_month: str = DEFAULT_FIRST_MONTH  # files of earlier months are rejected
    strict_checks: bool = False  # a GX/audit disagreement stops validation (the test suite's setting)
    dagster_home: Path | None = None  # None: beside the warehouse (`instance_home`)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, load_dotenv: bool = True) -> Settings:
        """The settings of `env`; by default of this process's environment, over the `.env` file of
        the working directory when `load_dotenv` (the environment wins). A variable set to an
        empty value is unset. A value that cannot be used stops with a ConfigError."""
        if env is None:
            env = _dotenv() if load_dotenv else {}
            env = {**env, **os.environ}

        def get(field: str) -> str:
            return (env.get(VARIABLES[field]) or "").strip()

        if get("reference"):
            reference = Path(get("reference"))
        else:
            from pipeline.reference import default_reference_folder

            reference = default_reference_folder()
        dagster_home = get("dagster_home")
        return cls(
            inbox=Path(get("inbox") or DEFAULT_INBOX),
            reference=reference,
            warehouse=Path(get("warehouse") or DEFAULT_WAREHOUSE),
            reports=Path(get("reports") or DEFAULT_REPORTS),
            pseudonym_key=env.get(VARIABLES["pseudonym_key"]) or None,  # a key is taken as it is
            demo=_demo(get("demo")),
            compiler=get("compiler") or DEFAULT_COMPILER,
            lock_wait=_lock_wait(get("lock_wait")),
            schedule_cron=_cron(get("schedule_cron")),
            memory_limit=_memory_limit(get("memory_limit"), "TUOYU_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT),
            log_level=_log_level(get("log_level")),
            sql_timeout=_sql_timeout(get("sql_timeout")),
            sql_memory_limit=_memory_limit(get("sql_memory_limit"), "TUOYU_SQL_MEMORY_LIMIT",
                                           DEFAULT_SQL_MEMORY_LIMIT),
            first_month=_first_month(get("first_month") or DEFAULT_FIRST_MONTH),
            strict_checks=_flag(get("strict_checks"), "TUOYU_STRICT_CHECKS"),
            dagster_home=Path(dagster_home) if dagster_home else None,
        )

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)

    @property
    def demo_key_in_use(self) -> bool:
        """Whether the pseudonyms are made with the published demo key (its outputs are marked)."""
        return self.demo and not self.pseudonym_key

    def folders_environment(self) -> dict[str, str]:
        """The variables that give a program this process starts (`tuoyu dev` → `dagster dev`)
        these settings' folders and mode, which the command line may have changed (`--demo`)."""
        env = {VARIABLES["inbox"]: str(self.inbox), VARIABLES["warehouse"]: str(self.warehouse),
               VARIABLES["reports"]: str(self.reports), VARIABLES["demo"]: "1" if self.demo else "0"}
        if self.reference is not None:
            env[VARIABLES["reference"]] = str(self.reference)
        return env

    @property
    def archive(self) -> Path:
        """The raw archive: every file version as delivered. The one place with personal data."""
        return self.warehouse.parent / "raw-archive"

    @property
    def log_folder(self) -> Path:
        """The runs' log files: `logs` beside the warehouse."""
        return self.warehouse.parent / "logs"

    @property
    def instance_home(self) -> Path:
        """The Dagster instance's folder: DAGSTER_HOME, else `dagster_home` beside the warehouse."""
        return self.dagster_home or self.warehouse.parent / "dagster_home"

    def key(self) -> bytes:
        """The pseudonym key; the demo key only in demo/test mode; otherwise stop. A weak key
        (short, repetitive, or the published demo key outside demo mode) stops too."""
        if self.pseudonym_key:
            _check_key(self.pseudonym_key, self.demo)
            return self.pseudonym_key.encode("utf-8")
        if self.demo:
            return DEMO_KEY.encode("utf-8")
        raise ConfigError(
            "未配置假名化密钥：请设置环境变量 TUOYU_PSEUDONYM_KEY（密钥由单位保管，不得写入代码库或数据库），"
            "或仅在演示/测试时设置 TUOYU_DEMO=1。"
            " No pseudonym key: set TUOYU_PSEUDONYM_KEY, or TUOYU_DEMO=1 for demo/test data only."
        )


def setting_sources(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """{setting: where its value comes from}, in the office's words, for `tuoyu where`: the
    environment variable, the `.env` file that sets it, or the default. `env` stands for this
    process's environment (then no `.env` is read), as in `Settings.from_env`."""
    if env is None:
        environment, dotenv = os.environ, _dotenv_files()
    else:
        environment, dotenv = env, {}
    sources = {}
    for field, name in VARIABLES.items():
        if (environment.get(name) or "").strip():
            sources[field] = f"环境变量 {name}"
        elif (dotenv.get(name, ("", None))[0] or "").strip():
            sources[field] = f"{dotenv[name][1]} 中的 {name}"
        else:
            sources[field] = "默认"
    return sources


def variables_set() -> dict[str, str]:
    """{setting: variable} of the settings whose variable this process's environment sets (not
    `.env`): the fields of the Dagster resource that take an `EnvVar`. Dagster resolves an EnvVar
    from the process environment when a run starts, and loads `.env` into it itself."""
    return {field: name for field, name in VARIABLES.items() if os.environ.get(name, "").strip()}


def child_environment(**variables: str) -> dict[str, str]:
    """This process's environment with `variables` added: the environment of a program it starts
    (`tuoyu dev` starts `dagster dev` with its DAGSTER_HOME). Its own environment is left as is."""
    return {**os.environ, **variables}


def _check_key(key: str, demo: bool) -> None:
    how = f"请由专人生成一个随机密钥（例如运行 {MAKE_A_KEY}），设为 TUOYU_PSEUDONYM_KEY 并妥善保管。"
    if key == DEMO_KEY and not demo:
        raise ConfigError("TUOYU_PSEUDONYM_KEY 是公开的演示密钥，不能用于正式数据：" + how)
    if len(key) < MIN_KEY_CHARS or len(set(key)) < MIN_KEY_DISTINCT:
        raise ConfigError(
            f"TUOYU_PSEUDONYM_KEY 太弱（{len(key)} 个字符）：密钥至少 {MIN_KEY_CHARS} 个字符、"
            f"至少 {MIN_KEY_DISTINCT} 种不同字符，否则身份证号的假名可被推算。" + how)


def _dotenv() -> dict[str, str]:
    """The `.env` of the project folder, under the `.env` of the working folder (which wins)."""
    return {name: value for name, (value, _path) in _dotenv_files().items()}


def _dotenv_files() -> dict[str, tuple[str, Path]]:
    """{variable: (value, the `.env` file that sets it)}, the working folder's over the project's."""
    from dotenv import dotenv_values

    values: dict[str, tuple[str, Path]] = {}
    for path in dict.fromkeys([PROJECT_DIR / ".env", Path.cwd() / ".env"]):
        if path.is_file():
            values.update({k: (v, path) for k, v in dotenv_values(path).items() if v is not None})
    return values


def _demo(raw: str) -> bool:
    if raw.lower() in _YES:
        return True
    if not raw or raw.lower() in _NO:
        return False
    raise ConfigError(f"TUOYU_DEMO 应为 1（演示/测试模式，使用公开的演示密钥）或 0，现为 {raw!r}。"
                      f" TUOYU_DEMO must be 1 (demo/test mode) or 0, not {raw!r}.")


def _flag(raw: str, variable: str) -> bool:
    if raw.lower() in _YES:
        return True
    if not raw or raw.lower() in _NO:
        return False
    raise ConfigError(f"{variable} 应为 1 或 0，现为 {raw!r}。 {variable} must be 1 or 0, not {raw!r}.")


def _first_month(text: str) -> str:
    """TUOYU_FIRST_MONTH: files of earlier months are rejected (default 2019-01)."""
    from pipeline.period import is_period

    if not is_period(text) or text < "1949-10":
        raise ConfigError(
            f"TUOYU_FIRST_MONTH 应为 2019-01 这样的年-月（不早于 1949-10），现为 {text!r}；"
            "或删除该设置（默认 2019-01）。"
            f" TUOYU_FIRST_MONTH must be a month written YYYY-MM, not {text!r}."
        )
    return text


def _lock_wait(raw: str) -> float:
    """TUOYU_LOCK_WAIT: how long a second run waits for the first (seconds, default 600)."""
    if not raw:
        return DEFAULT_LOCK_WAIT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ConfigError(f"TUOYU_LOCK_WAIT 应为等待的秒数（如 600），现为 {raw!r}。"
                          f" TUOYU_LOCK_WAIT must be a number of seconds, not {raw!r}.")
    return value


def _cron(raw: str) -> str:
    """TUOYU_SCHEDULE_CRON, checked as Dagster checks a schedule's cron expression."""
    if not raw:
        return DEFAULT_CRON
    from dagster._utils.schedules import is_valid_cron_string

    if not is_valid_cron_string(raw):
        raise ConfigError(
            f"TUOYU_SCHEDULE_CRON 不是有效的 cron 表达式：{raw!r}（例如每月 5 日 8 点为 \"0 8 5 * *\"）。"
            f" TUOYU_SCHEDULE_CRON is not a valid cron expression: {raw!r}.")
    return raw


def _memory_limit(raw: str, variable: str, default: str) -> str:
    """A DuckDB memory cap, digits and a unit (e.g. "8GB"): TUOYU_MEMORY_LIMIT for the run,
    TUOYU_SQL_MEMORY_LIMIT for one analyst's query."""
    if not raw:
        return default
    if not _MEMORY.match(raw):
        raise ConfigError(f"{variable} 应写作如 3GB、512MB，现为 {raw!r}。"
                          f" {variable} must be a size such as 3GB or 512MB, not {raw!r}.")
    return raw


def _sql_timeout(raw: str) -> float:
    """TUOYU_SQL_TIMEOUT: seconds one `tuoyu sql` query may run (default 60)."""
    if not raw:
        return DEFAULT_SQL_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise ConfigError(f"TUOYU_SQL_TIMEOUT 应为正的秒数（如 60），现为 {raw!r}。"
                          f" TUOYU_SQL_TIMEOUT must be a positive number of seconds, not {raw!r}.")
    return value


def _log_level(raw: str) -> str:
    """TUOYU_LOG_LEVEL: the level of Python's and Dagster's console log (default WARNING)."""
    level = raw.upper() or DEFAULT_LOG_LEVEL
    if level == "WARN":
        level = "WARNING"
    if level not in LOG_LEVELS:
        raise ConfigError(f"TUOYU_LOG_LEVEL 应为 {'/'.join(LOG_LEVELS)} 之一，现为 {raw!r}。"
                          f" TUOYU_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}.")
    return level
