"""Names and codes of institutions: 机构编号, 机构名称 and 统一社会信用代码.

Names are made from the 镇街's name, a type-specific pattern and a made-up brand, and
differ between scale copies; credit codes are valid GB 32100 codes with the county's
area code.
"""

from __future__ import annotations

import numpy as np

from pipeline.sample.codes import credit_code
from pipeline.sample.reference import County
from pipeline.sample.story import (
    COMMUNITY,
    EMPLOYER,
    FAMILY,
    KINDERGARTEN,
    MCH,
    SOCIAL,
    Institution,
)

# Registering authority + kind, the first two characters of the credit code.
TYPE_REGISTRATION = {
    SOCIAL: ("52", "91"),
    KINDERGARTEN: ("12", "52"),
    EMPLOYER: ("91",),
    MCH: ("12",),
    COMMUNITY: ("52",),
    FAMILY: ("92",),
}
BRANDS = (
    "小太阳",
    "爱贝",
    "童乐",
    "启航",
    "贝乐",
    "蒲公英",
    "小橡树",
    "七彩",
    "金摇篮",
    "乐育",
    "心悦",
    "安琪",
    "博雅",
    "嘉禾",
    "禾苗",
    "星辰",
    "暖阳",
    "彩虹",
    "萌芽",
    "贝贝",
    "童心",
    "亲亲",
    "红苹果",
    "好孩子",
)
KINDERGARTENS = ("中心", "实验", "第一", "第二", "阳光", "育才", "明德", "新星")
EMPLOYERS = ("人民医院", "经济开发区", "第一中学", "供电公司", "纺织集团", "食品有限公司", "汽车零部件公司", "中医院")
COMMUNITIES = ("和平", "幸福", "建设", "文化", "新村", "东关", "西苑", "南苑", "北海", "花园")


def area_short(name: str) -> str:
    for suffix in ("街道办事处", "街道", "镇", "乡"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def institution_identity(county: County, inst: Institution, copy: int, seed: int) -> tuple[str, str, str]:
    """(机构编号, 机构名称, 统一社会信用代码) of an institution in one scale copy."""
    rng = np.random.default_rng([seed, 102, inst.number, copy])
    ident = f"JG{inst.number:04d}" if copy == 0 else f"JG{inst.number:04d}-{copy + 1}"
    place = area_short(county.areas[inst.area].name)
    county_short = area_short(county.name).removesuffix("市").removesuffix("县") or county.name
    brand = BRANDS[int(rng.integers(len(BRANDS)))]
    if inst.type == KINDERGARTEN:
        name = f"{place}{KINDERGARTENS[int(rng.integers(len(KINDERGARTENS)))]}幼儿园托班"
    elif inst.type == EMPLOYER:
        name = f"{county_short}{EMPLOYERS[int(rng.integers(len(EMPLOYERS)))]}职工托育室"
    elif inst.type == MCH:
        name = f"{county.name}妇幼保健院托育园"
    elif inst.type == COMMUNITY:
        name = f"{place}{COMMUNITIES[int(rng.integers(len(COMMUNITIES)))]}社区托育点"
    elif inst.type == FAMILY:
        name = f"{place}{brand}家庭托育点"
    else:
        name = f"{place}{brand}{('托育中心', '托育园', '婴幼儿照护中心', '托育服务中心')[int(rng.integers(4))]}"
    registrations = TYPE_REGISTRATION[inst.type]
    code = credit_code(
        registrations[int(rng.integers(len(registrations)))],
        county.id_prefix,
        "".join(str(d) for d in rng.integers(0, 10, 8)),
    )
    return ident, name, code
