"""Valid national id numbers (GB 11643) and unified social credit codes (GB 32100).

Id numbers are built a whole column at a time: an ``(n, 18)`` array of ASCII bytes viewed
as ``S18``, so a month of a large county costs a few numpy operations.
"""

from __future__ import annotations

import numpy as np

from pipeline.sample.calendar import ymd

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = "10X98765432"
_ID_CHECK_BYTES = np.frombuffer(ID_CHECK.encode("ascii"), dtype=np.uint8)

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# Sequence codes per (birth day, sex): digits 15–17 hold 000–999 and the 17th digit's
# parity is the sex, so each birth day has 500 codes per sex.
SEQUENCES_PER_SEX = 500
_SEQUENCE_STRIDE = 37  # coprime with 500: consecutive people get scattered-looking codes


def id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS.tolist()))
    return ID_CHECK[total % 11]


def id_number(area_prefix: str, birth_day: int, sequence: int, male: bool) -> str:
    """One id number; ``sequence`` is 0–499 within the birth day and sex."""
    ids = id_numbers(area_prefix, np.array([birth_day]), np.array([sequence]), np.array([male]))
    return ids[0].decode("ascii")


def id_numbers(area_prefix: str, birth_days: np.ndarray, sequences: np.ndarray, male: np.ndarray) -> np.ndarray:
    """``S18`` array of id numbers: area prefix, birth date, sequence code, check digit."""
    n = len(birth_days)
    digits = np.zeros((n, 17), dtype=np.int64)
    digits[:, :6] = np.array([int(c) for c in area_prefix], dtype=np.int64)
    year, month, day = ymd(birth_days)
    for col, (value, width) in enumerate(((year, 4), (month, 2), (day, 2))):
        start = 6 + sum((4, 2, 2)[:col])
        for k in range(width):
            digits[:, start + k] = value // 10 ** (width - 1 - k) % 10
    code = (np.asarray(sequences, dtype=np.int64) * _SEQUENCE_STRIDE + 123) % SEQUENCES_PER_SEX
    code = code * 2 + np.asarray(male, dtype=np.int64)
    digits[:, 14] = code // 100
    digits[:, 15] = code // 10 % 10
    digits[:, 16] = code % 10
    out = np.empty((n, 18), dtype=np.uint8)
    out[:, :17] = digits + ord("0")
    out[:, 17] = _ID_CHECK_BYTES[(digits @ ID_WEIGHTS) % 11]
    return out.view("S18").ravel()


class SequenceBook:
    """Hands out id sequence codes so that no two people share an id number."""

    def __init__(self, first_day: int, last_day: int) -> None:
        self._first = first_day
        self._used = np.zeros((last_day - first_day + 1, 2), dtype=np.int32)

    def take(self, birth_days: np.ndarray, male: np.ndarray) -> np.ndarray:
        """The next free sequence code for each (birth day, sex), in array order."""
        n = len(birth_days)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        keys = (np.asarray(birth_days, dtype=np.int64) - self._first) * 2 + male.astype(np.int64)
        if keys.min() < 0 or keys.max() >= self._used.size:
            raise ValueError("birth day outside the id sequence book")
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        group_start = np.repeat(starts, np.diff(np.r_[starts, n]))
        flat = self._used.reshape(-1)
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n) - group_start + flat[sorted_keys]
        np.add.at(flat, keys, 1)
        if rank.max() >= SEQUENCES_PER_SEX:
            raise ValueError(
                "more than 500 people of one sex born on one day: the scale is too large "
                "for unique id numbers within one county"
            )
        return rank


def credit_code(registration: str, area_prefix: str, org_digits: str) -> str:
    """A valid 18-character code: 2 characters of registering authority and kind, the
    6-digit area, a 9-character organisation code (GB 11714, with its own check) and the
    GB 32100 check character."""
    org_total = sum(int(c) * w for c, w in zip(org_digits, _ORG_WEIGHTS))
    org_check = 11 - org_total % 11
    org = org_digits + {10: "X", 11: "0"}.get(org_check, str(org_check))
    body = registration + area_prefix + org
    return body + credit_check_char(body)


def credit_check_char(first17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]
