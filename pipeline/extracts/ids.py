"""Check digits and pseudonyms for the two code systems in the extracts.

- GB 11643-1999 citizen identity numbers: 17 digits and a check character (ISO 7064
  MOD 11-2). Checked *before* pseudonymisation: the clear number never reaches the warehouse.
- GB 32100-2015 unified social credit codes (institutions, not personal): 18 characters
  of a 31-symbol alphabet, the last a MOD 31 check character.

Both are written as polars expressions (vectorised over a column); the scalar functions
are the same algorithms, for tests and documentation.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

import polars as pl

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_SCIENTIFIC = r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$"


def id_check_char(first17: str) -> str:
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS)) % 11]


def id_is_valid(number: str) -> bool:
    n = unicodedata.normalize("NFKC", number).strip().upper()
    return len(n) == 18 and n[:17].isdigit() and n[17] in "0123456789X" and id_check_char(n[:17]) == n[17]


def credit_check_char(first17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def credit_code_is_valid(code: str) -> bool:
    c = unicodedata.normalize("NFKC", code).strip().upper()
    return len(c) == 18 and all(ch in CREDIT_ALPHABET for ch in c) and credit_check_char(c[:17]) == c[17]


def normalise_id(col: pl.Expr) -> pl.Expr:
    """NFKC (already applied at read), upper-case: a lower-case `x` is the same number."""
    return col.str.to_uppercase()


def id_problem(col: pl.Expr) -> pl.Expr:
    """NULL for a valid number, else why not: missing | scientific | format | check_digit."""
    n = normalise_id(col)
    total = pl.sum_horizontal(n.str.slice(i, 1).cast(pl.Int64, strict=False) * w for i, w in enumerate(ID_WEIGHTS))
    expected = pl.lit(ID_CHECK).str.slice((total % 11).cast(pl.Int64), 1)
    return (
        pl.when(n.is_null()).then(pl.lit("missing"))
        .when(n.str.contains(_SCIENTIFIC)).then(pl.lit("scientific"))
        .when(~n.str.contains(r"^\d{17}[\dX]$")).then(pl.lit("format"))
        .when(n.str.slice(17, 1) != expected).then(pl.lit("check_digit"))
        .otherwise(None)
    )


def credit_code_valid(col: pl.Expr) -> pl.Expr:
    c = col.str.to_uppercase()
    values = {ch: i for i, ch in enumerate(CREDIT_ALPHABET)}
    digits = [c.str.slice(i, 1).replace_strict(values, default=None, return_dtype=pl.Int64) for i in range(18)]
    total = pl.sum_horizontal(d * w for d, w in zip(digits, CREDIT_WEIGHTS))
    check = (31 - total % 31) % 31
    shape_ok = c.str.contains(r"^[0-9A-HJ-NP-RTUWXY]{18}$")
    return (shape_ok & (digits[17] == check)).fill_null(False)


class Pseudonymiser:
    """HMAC-SHA256 of the normalised id number under the office's secret key, as hex.

    Each distinct number is hashed once per run (a dict cache), not once per row per month.
    The cache lives only in memory for the run.
    """

    def __init__(self, key: bytes):
        self._key = key
        self._cache: dict[str, str] = {}

    def one(self, number: str) -> str:
        value = self._cache.get(number)
        if value is None:
            value = hmac.new(self._key, number.encode("utf-8"), hashlib.sha256).hexdigest()
            self._cache[number] = value
        return value

    def column(self, frame: pl.DataFrame, source: str, target: str) -> pl.DataFrame:
        """Add `target` = pseudonym of the (already upper-cased) `source` column; drop `source`."""
        distinct = frame.get_column(source).drop_nulls().unique()
        mapping = pl.DataFrame(
            {source: distinct, target: [self.one(v) for v in distinct.to_list()]},
            schema={source: pl.String, target: pl.String},
        )
        return frame.join(mapping, on=source, how="left", nulls_equal=False).drop(source)
