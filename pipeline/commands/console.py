"""What the clerk sees of the command line itself: an argument parser whose help texts and usage
errors are Chinese, months typed in any of the forms the file names accept, and the refusal of
a command that needs the warehouse before the first run."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from pipeline.period import parse_period
from pipeline.settings import ConfigError

# argparse's own messages (Python 3.11), in the office's words. Each pattern is matched against
# the whole message; what is not listed is shown after "命令有误".
_MESSAGES = [
    (re.compile(r"the following arguments are required: (.+)"), "缺少必填的参数：{0}"),
    (re.compile(r"unrecognized arguments: (.+)"), "无法识别的参数：{0}"),
    (re.compile(r"argument (.+?): invalid choice: '?(.+?)'? \(choose from (.+)\)"),
     "{0} 没有“{1}”这一项，可选：{2}"),
    (re.compile(r"argument (.+?): expected one argument"), "{0} 后面要写一个值"),
    (re.compile(r"argument (.+?): expected at most one argument"), "{0} 后面最多写一个值"),
    (re.compile(r"argument (.+?): expected at least one argument"), "{0} 后面至少写一个值"),
    (re.compile(r"argument (.+?): invalid int value: '(.*)'"), "{0} 应为整数，现为“{1}”"),
    (re.compile(r"argument (.+?): invalid float value: '(.*)'"), "{0} 应为数字，现为“{1}”"),
    (re.compile(r"argument (.+?): not allowed with argument (.+)"), "{0} 不能和 {1} 同时使用"),
    (re.compile(r"argument (.+?): ignored explicit argument '(.*)'"), "{0} 后面不能写值（“{1}”）"),
    (re.compile(r"ambiguous option: (\S+) could match (.+)"), "选项 {0} 不明确，可能是：{1}"),
    (re.compile(r"argument (.+?): (.+)"), "{0}：{1}"),  # a type function's own (Chinese) message
]


def usage_error_zh(message: str) -> str:
    for pattern, text in _MESSAGES:
        match = pattern.fullmatch(message.strip())
        if match:
            return text.format(*(group.replace("'", "") for group in match.groups()))
    return message


class _Formatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)


class ChineseArgumentParser(argparse.ArgumentParser):
    """argparse with Chinese help headings, help option and usage errors (exit status 2)."""

    def __init__(self, *args, add_help: bool = True, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = "参数"
        self._optionals.title = "选项"
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help="显示本说明后退出")

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"命令有误：{usage_error_zh(message)}。\n查看说明：{self.prog} --help\n")


def period_argument(text: str) -> str:
    """An argparse `type`: `2024-06`, `2024-6`, `202406`, `2024年6月` → `2024-06`."""
    period = parse_period(text)
    if period is None:
        raise argparse.ArgumentTypeError(f"“{text}”不是月份，请写成 2024-06、202406 或 2024年6月")
    return period


def require_warehouse(warehouse: Path) -> None:
    """Stop a command that reads the warehouse before the first run, creating nothing."""
    if not Path(warehouse).is_file():
        raise ConfigError(f"还没有数据仓库（{warehouse}）：请先运行 tuoyu run 载入数据。"
                          "看演示数据请在命令前加 --demo，如 tuoyu --demo status。")
