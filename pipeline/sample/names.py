"""Made-up personal names: a common surname and one or two given-name characters.

Every name is a random combination; none is taken from a real register. A person keeps
the same three indices (surname, first and second given character) every month.
"""

from __future__ import annotations

import numpy as np
import polars as pl

# The hundred most common surnames, most frequent first; drawn with falling weights.
SURNAMES = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛"
    "郝龚邵万钱严覃武戴莫孔向汤"
)
_SURNAME_WEIGHTS = 1.0 / (np.arange(len(SURNAMES)) + 8.0)
_SURNAME_WEIGHTS /= _SURNAME_WEIGHTS.sum()

CHILD_GIVEN = tuple(
    "子梓浩宇轩涵欣怡诗雨思佳一睿博泽晨沐若依可语嘉俊铭宸瑞悦安乐芷萱琪妍航宁昊然彤霖煜皓奕熙辰锦楠希晗朵钰"
)
ADULT_GIVEN = tuple("丽芳娟敏静燕红玲霞华秀英伟强军磊勇杰洋艳梅兰凤萍婷雪琳倩慧丹颖莉晶明建国平亮鹏涛斌春美玉海")


def draw_names(rng: np.random.Generator, n: int, given: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Index columns ``sn``, ``g1``, ``g2`` (``g2`` = -1 for a one-character given name)."""
    two = rng.random(n) < 0.7
    return {
        "sn": rng.choice(len(SURNAMES), size=n, p=_SURNAME_WEIGHTS).astype(np.int16),
        "g1": rng.integers(0, len(given), n).astype(np.int16),
        "g2": np.where(two, rng.integers(0, len(given), n), -1).astype(np.int16),
    }


def name_series(sn: np.ndarray, g1: np.ndarray, g2: np.ndarray, given: tuple[str, ...]) -> pl.Series:
    """The names as text, built in one pass."""
    surnames = pl.Series(SURNAMES)
    chars = pl.Series((*given, ""))
    second = np.where(g2 < 0, len(given), g2)
    frame = pl.DataFrame(
        {
            "a": surnames.gather(sn.astype(np.int64)),
            "b": chars.gather(g1.astype(np.int64)),
            "c": chars.gather(second.astype(np.int64)),
        }
    )
    return frame.select(pl.concat_str(["a", "b", "c"]).alias("name")).to_series()


def one_name(rng: np.random.Generator, given: tuple[str, ...]) -> str:
    idx = draw_names(rng, 1, given)
    g2 = int(idx["g2"][0])
    return SURNAMES[int(idx["sn"][0])] + given[int(idx["g1"][0])] + (given[g2] if g2 >= 0 else "")
