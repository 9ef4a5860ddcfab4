"""The one Settings: every variable parsed, every bad value refused in Chinese first, the
environment read by the settings module alone and written by nobody, and the same Settings
whether the CLI builds them or Dagster's resource does from its `EnvVar` fields."""

from __future__ import annotations

import os
import re
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster._serdes import serialize_value

from pipeline.commands import cli
from pipeline.orchestration.definitions import defs as load_definitions
from pipeline.orchestration.resources import Tuoyu, TuoyuResource
from pipeline.reference import default_reference_folder
from pipeline.settings import DEMO_KEY, PROJECT_DIR, VARIABLES, ConfigError, Settings
from pipeline.warehouse.lock import RunInProgress, lock_path, run_lock
from tests.conftest import REPO

# One value of every variable, none of them a default.
EVERY_VARIABLE = {
    "TUOYU_INBOX": "/srv/tuoyu/inbox",
    "TUOYU_REFERENCE": "/srv/tuoyu/reference",
    "TUOYU_WAREHOUSE": "/srv/tuoyu/db/warehouse.duckdb",
    "TUOYU_REPORTS": "/srv/tuoyu/reports",
    "TUOYU_PSEUDONYM_KEY": "a-key-of-the-office",
    "TUOYU_DEMO": "1",
    "TUOYU_COMPILER": "卫健局",
    "TUOYU_LOCK_WAIT": "3600",
    "TUOYU_SCHEDULE_CRON": "30 9 10 * *",
    "TUOYU_MEMORY_LIMIT": "8GB",
    "TUOYU_LOG_LEVEL": "info",
    "TUOYU_SQL_TIMEOUT": "30",
    "TUOYU_SQL_MEMORY_LIMIT": "1GB",
    "TUOYU_FIRST_MONTH": "2020-01",
    "TUOYU_STRICT_CHECKS": "1",
    "DAGSTER_HOME": "/srv/tuoyu/dagster",
}


@pytest.fixture
def environment(tmp_path, monkeypatch):
    """A working folder without .env and an environment without the project's variables."""
    monkeypatch.chdir(tmp_path)
    for name in VARIABLES.values():
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# ---------------------------------------------------------------- parsing


def test_every_setting_has_a_variable():
    fields = set(Settings.__dataclass_fields__)
    assert set(VARIABLES) == fields
    assert set(TuoyuResource.model_fields) == fields  # the resource has a field for each


def test_every_variable_is_read():
    settings = Settings.from_env(EVERY_VARIABLE)
    assert settings == Settings(
        inbox=Path("/srv/tuoyu/inbox"), reference=Path("/srv/tuoyu/reference"),
        warehouse=Path("/srv/tuoyu/db/warehouse.duckdb"), reports=Path("/srv/tuoyu/reports"),
        pseudonym_key="a-key-of-the-office", demo=True, compiler="卫健局", lock_wait=3600.0,
        schedule_cron="30 9 10 * *", memory_limit="8GB", log_level="INFO", sql_timeout=30.0,
        sql_memory_limit="1GB", first_month="2020-01", strict_checks=True, dagster_home=Path("/srv/tuoyu/dagster"))
    assert settings.instance_home == Path("/srv/tuoyu/dagster")


def test_defaults_of_an_empty_environment():
    settings = Settings.from_env({"TUOYU_INBOX": "", "TUOYU_LOCK_WAIT": "  "})  # empty is unset
    assert settings == Settings(
        inbox=PROJECT_DIR / "data/inbox", reference=default_reference_folder(),
        warehouse=PROJECT_DIR / "data/warehouse.duckdb", reports=PROJECT_DIR / "reports", pseudonym_key=None, demo=False, compiler="统计局", lock_wait=600.0,
        schedule_cron="0 8 5 * *", memory_limit="3GB", log_level="WARNING", sql_timeout=60.0,
        sql_memory_limit="2GB", first_month="2019-01", strict_checks=False, dagster_home=None)
    assert settings.instance_home == PROJECT_DIR / "data/dagster_home"  # beside the warehouse


@pytest.mark.parametrize(("raw", "demo"), [("1", True), ("yes", True), ("TRUE", True), ("0", False), ("off", False)])
def test_demo_mode_is_named_explicitly(raw, demo):
    assert Settings.from_env({"TUOYU_DEMO": raw}).demo is demo


@pytest.mark.parametrize(("variable", "value"), [
    ("TUOYU_DEMO", "maybe"),
    ("TUOYU_LOCK_WAIT", "ten minutes"),
    ("TUOYU_LOCK_WAIT", "-5"),
    ("TUOYU_LOCK_WAIT", "inf"),
    ("TUOYU_SCHEDULE_CRON", "61 8 5 * *"),
    ("TUOYU_SCHEDULE_CRON", "every month"),
    ("TUOYU_MEMORY_LIMIT", "lots"),
    ("TUOYU_MEMORY_LIMIT", "3GB'; drop table x; --"),
    ("TUOYU_LOG_LEVEL", "LOUD"),
    ("TUOYU_SQL_TIMEOUT", "0"),
    ("TUOYU_SQL_MEMORY_LIMIT", "much"),
    ("TUOYU_FIRST_MONTH", "2019-13"),
    ("TUOYU_FIRST_MONTH", "1900-01"),
    ("TUOYU_STRICT_CHECKS", "sometimes"),
])
def test_a_bad_value_is_refused_in_chinese_first(variable, value):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({variable: value})
    message = str(refused.value)
    assert message.startswith(variable) and re.match(rf"{variable} [\u4e00-\u9fff]", message), message
    assert repr(value) in message


def test_the_key_is_required_outside_demo_mode_only():
    with pytest.raises(ConfigError, match="^未配置假名化密钥"):
        Settings.from_env({}).key()
    assert Settings.from_env({"TUOYU_DEMO": "1"}).key() != b""
    assert Settings.from_env({"TUOYU_PSEUDONYM_KEY": STRONG_KEY, "TUOYU_DEMO": "1"}).key() == STRONG_KEY.encode()


STRONG_KEY = "5f0c9a1e7b3d42c8a6e1f0b9d2c7a4e3"


@pytest.mark.parametrize("key", ["123", "a-key-of-the-office", "a" * 40, "0123456789" * 3])
def test_a_weak_key_is_refused_with_how_to_make_one(key):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"TUOYU_PSEUDONYM_KEY": key}).key()
    message = str(refused.value)
    assert message.startswith("TUOYU_PSEUDONYM_KEY 太弱") and "secrets.token_hex(32)" in message


def test_the_demo_key_is_refused_as_an_offices_key():
    with pytest.raises(ConfigError, match="公开的演示密钥"):
        Settings.from_env({"TUOYU_PSEUDONYM_KEY": DEMO_KEY}).key()


def test_dotenv_is_read_under_the_environment_and_nothing_is_written(environment, tmp_path):
    (tmp_path / ".env").write_text("TUOYU_INBOX=/from/dotenv\nTUOYU_REPORTS=/from/dotenv/reports\n",
                                   encoding="utf-8")
    environment.setenv("TUOYU_REPORTS", "/from/environment")
    before = dict(os.environ)
    settings = Settings.from_env()
    assert settings.inbox == Path("/from/dotenv")
    assert settings.reports == Path("/from/environment")  # the environment wins
    assert dict(os.environ) == before  # .env is not loaded into the environment
    assert Settings.from_env(load_dotenv=False).inbox == PROJECT_DIR / "data/inbox"  # wherever it is started


# ---------------------------------------------------------------- the environment: read here only, written nowhere

_ENVIRONMENT = re.compile(r"\benviron\b|\bgetenv\b|\bputenv\b|\bunsetenv\b|load_dotenv\(")


def test_only_the_settings_module_reads_the_environment_and_none_writes_it():
    found = []
    for path in sorted((REPO / "pipeline").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _ENVIRONMENT.search(line) and rel != "pipeline/settings.py":
                found.append(f"{rel}:{number}: {line.strip()}")
    assert found == []
    settings = (REPO / "pipeline" / "settings.py").read_text(encoding="utf-8")
    assert "os.environ[" not in settings and "os.environ.update" not in settings
    assert not re.search(r"os\.environ\.(pop|setdefault|clear)|putenv|load_dotenv\(", settings)


def test_the_search_finds_what_it_looks_for():
    for line in ('os.environ["X"] = "1"', 'os.getenv("X")', "from os import environ", 'load_dotenv(".env")',
                 'os.putenv("X", "1")'):
        assert _ENVIRONMENT.search(line), line
    assert not _ENVIRONMENT.search("settings = Settings.from_env()  # the environment")


def test_a_command_leaves_the_environment_as_it_found_it(environment, tmp_path, capsys):
    environment.setenv("TUOYU_WAREHOUSE", str(tmp_path / "w" / "warehouse.duckdb"))
    before = dict(os.environ)
    assert cli.main(["-v", "run", "--demo"]) == 2  # no inbox: cannot run, after reading everything
    assert "收件箱文件夹不存在" in capsys.readouterr().err
    assert dict(os.environ) == before


def test_dev_starts_dagster_with_its_home_in_the_childs_environment(environment, tmp_path, monkeypatch):
    environment.setenv("TUOYU_WAREHOUSE", str(tmp_path / "w" / "warehouse.duckdb"))
    started = {}
    monkeypatch.setattr(os, "execvpe", lambda file, argv, env: started.update(file=file, argv=argv, env=env))
    before = dict(os.environ)
    cli.main(["dev", "--port", "3999"])
    home = tmp_path / "w" / "dagster_home"
    assert started["argv"][:4] == ["dagster", "dev", "-m", "pipeline.orchestration.definitions"]
    assert started["argv"][-2:] == ["-p", "3999"]
    assert started["env"]["DAGSTER_HOME"] == str(home) and started["env"]["TUOYU_WAREHOUSE"] == before["TUOYU_WAREHOUSE"]
    assert (home / "dagster.yaml").is_file()
    assert dict(os.environ) == before  # the child's environment, not this process's


def test_dev_on_the_demo_gives_dagster_the_demos_folders_and_key(environment, tmp_path, monkeypatch):
    # the office's own settings in the environment; `--demo` must not let Dagster's runs use them
    environment.setenv("TUOYU_WAREHOUSE", str(tmp_path / "office" / "warehouse.duckdb"))
    environment.setenv("TUOYU_PSEUDONYM_KEY", "an-office-key-that-is-long-and-varied-0123456789")
    monkeypatch.setattr(cli, "DEMO_DIR", tmp_path / "demo")
    started = {}
    monkeypatch.setattr(os, "execvpe", lambda file, argv, env: started.update(file=file, argv=argv, env=env))
    cli.main(["--demo", "dev"])
    env = started["env"]
    assert env["TUOYU_WAREHOUSE"] == str(tmp_path / "demo" / "warehouse.duckdb")
    assert env["TUOYU_INBOX"] == str(tmp_path / "demo" / "inbox") and env["TUOYU_DEMO"] == "1"
    assert "TUOYU_PSEUDONYM_KEY" not in env
    assert env["DAGSTER_HOME"] == str(tmp_path / "demo" / "dagster_home")
    assert Settings.from_env(env).warehouse == tmp_path / "demo" / "warehouse.duckdb"  # as Dagster reads it


# ---------------------------------------------------------------- Dagster's route: EnvVar fields


def _cli_settings(argv: list[str]) -> Settings:
    return cli.settings_of(cli.build_parser().parse_args(argv))


def test_the_resource_gives_the_clis_settings_for_the_same_environment(environment, tmp_path):
    for name, value in EVERY_VARIABLE.items():
        environment.setenv(name, value)
    environment.setenv("TUOYU_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))  # the resource takes its lock
    definitions = load_definitions()
    resource = definitions.resources["tuoyu"]
    assert isinstance(resource, TuoyuResource)
    # every field is an EnvVar: the values are read when a run starts, and never stored or shown
    assert {field: getattr(resource, field).env_var_name for field in VARIABLES} == VARIABLES
    snapshot = serialize_value(definitions.resolve_job_def("tuoyu_pipeline").get_job_snapshot())
    assert "TUOYU_PSEUDONYM_KEY" in snapshot and EVERY_VARIABLE["TUOYU_PSEUDONYM_KEY"] not in snapshot
    with dg.build_resources({"tuoyu": resource}) as resources:
        assert resources.tuoyu.settings() == _cli_settings(["run"])
    assert definitions.resolve_schedule_def("monthly_pipeline").cron_schedule == "30 9 10 * *"


def test_an_unset_variable_is_the_default_on_both_routes(environment, tmp_path):
    environment.setenv("TUOYU_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    environment.setenv("TUOYU_DEMO", "1")
    resource = load_definitions().resources["tuoyu"]
    assert set(resource.model_dump(exclude_defaults=True)) == {"warehouse", "demo"}  # no EnvVar of an unset one
    with dg.build_resources({"tuoyu": resource}) as resources:
        assert resources.tuoyu.settings() == _cli_settings(["run"]) == Settings.from_env()


def test_the_resource_takes_the_run_lock_for_a_run_dagster_launches(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    resource = TuoyuResource(warehouse=str(warehouse), lock_wait="0", demo="1")
    with run_lock(warehouse, 0):  # another run holds it
        with pytest.raises(dg.DagsterResourceFunctionError) as refused:
            with dg.build_resources({"tuoyu": resource}):
                pass
    assert isinstance(refused.value.__cause__, RunInProgress) and "另一次运行" in str(refused.value.__cause__)
    with dg.build_resources({"tuoyu": resource}) as resources:
        tuoyu = resources.tuoyu
        assert tuoyu.lock.held and lock_path(warehouse).read_text(encoding="utf-8").startswith(f"pid {os.getpid()},")
        with pytest.raises(RunInProgress):  # held for the whole run
            with run_lock(warehouse, 0):
                pass
    assert not tuoyu.lock.held
    with run_lock(warehouse, 0):  # and released after it
        pass


def test_the_runs_resource_uses_the_lock_it_is_handed_and_nothing_after(tmp_path):
    settings = Settings.from_env({"TUOYU_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
                                  "TUOYU_MEMORY_LIMIT": "512MB", "TUOYU_DEMO": "1"})
    capped = duckdb.connect()
    capped.execute("set memory_limit = '512MB'")
    with run_lock(settings.warehouse, 0) as lock:
        tuoyu = Tuoyu(settings, lock)
        with tuoyu.connection() as con:  # DuckDB's memory capped as the settings say
            assert con.execute(MEMORY).fetchone() == capped.execute(MEMORY).fetchone() != \
                duckdb.connect().execute(MEMORY).fetchone()
    with pytest.raises(RuntimeError, match="no longer held"):
        with tuoyu.connection():
            pass
    with run_lock(tmp_path / "other.duckdb", 0) as other:
        with pytest.raises(ValueError, match="not the one"):
            Tuoyu(settings, other)


MEMORY = "select current_setting('memory_limit')"


def test_a_command_line_argument_is_over_the_environment(environment):
    environment.setenv("TUOYU_LOG_LEVEL", "ERROR")
    assert _cli_settings(["run"]).log_level == "ERROR"
    assert _cli_settings(["-v", "run"]).log_level == "INFO"
    assert _cli_settings(["run", "--demo"]).demo is True
    assert _cli_settings(["run"]).demo is False

