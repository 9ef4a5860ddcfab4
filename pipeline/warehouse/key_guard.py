"""One pseudonym key per warehouse. The first run records a keyed fingerprint of its key
(HMAC-SHA256 of a fixed label under the key: it tells keys apart and reveals nothing of the
key) in `audit.key_fingerprint`; every later run with another key is refused, since each
child's pseudonym would change and the months would no longer match. The published demo key
and an office's key are told apart in the message, so that the demo never runs on the
office's warehouse, nor the office's data into the demo's."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import duckdb

from pipeline.settings import DEMO_KEY, ConfigError
from pipeline.warehouse.connection import table_exists

LABEL = b"tuoyu pseudonym key fingerprint v1"
# No time of recording: a run killed and run again leaves the same warehouse (tests/test_kill.py).
DDL = """create table if not exists audit.key_fingerprint (
    fingerprint varchar not null,  -- HMAC-SHA256(key, LABEL), hex; never the key
    demo boolean not null           -- the published demo key
)"""


class KeyMismatch(ConfigError):
    """The key is not the one the warehouse's pseudonyms were made with."""


def fingerprint(key: bytes) -> str:
    return hmac.new(key, LABEL, hashlib.sha256).hexdigest()


def check_key(con: duckdb.DuckDBPyConnection, key: bytes, warehouse: Path | str, *, record: bool) -> None:
    """Refuse (KeyMismatch) a key other than the warehouse's; with `record`, remember this key
    when the warehouse has none yet (its first run, or a warehouse older than the fingerprint)."""
    demo = key == DEMO_KEY.encode("utf-8")
    row = None
    if table_exists(con, "audit", "key_fingerprint"):
        row = con.execute("select fingerprint, demo from audit.key_fingerprint limit 1").fetchone()
    if row is None:
        if record:
            con.execute("create schema if not exists audit")
            con.execute(DDL)
            con.execute("insert into audit.key_fingerprint values (?, ?)", [fingerprint(key), demo])
        return
    stored, stored_demo = row
    if hmac.compare_digest(stored, fingerprint(key)):
        return
    if stored_demo:
        raise KeyMismatch(f"数据仓库 {warehouse} 存放的是演示数据（用公开的演示密钥生成），不能载入正式数据："
                          "请把 TUOYU_WAREHOUSE 设为另一个文件（正式数据默认 data/warehouse.duckdb）。")
    if demo:
        raise KeyMismatch(f"数据仓库 {warehouse} 存放的是用单位密钥生成的正式数据，不能以演示模式（--demo 或 "
                          "TUOYU_DEMO=1）运行：演示请用 make demo（数据在 data/demo，查看用 tuoyu --demo status）。")
    raise KeyMismatch(f"TUOYU_PSEUDONYM_KEY 与数据仓库 {warehouse} 首次运行时使用的密钥不同，拒绝运行："
                      "换用密钥后同一幼儿的假名会改变，跨月统计将无法对应。请使用原来的密钥；"
                      "确需更换密钥，须用新密钥把全部报表载入一个新的数据仓库（另设 TUOYU_WAREHOUSE）。")
