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

    Each distinct number is hashed once, not once per row per month: `identify` keeps the
    numbers of the last file it saw with their pseudonyms and problems (a polars table in
    memory, for the run only; never written anywhere), joins each new file's numbers to it
    and hashes only the numbers it has not seen. Extracts arrive month by month and most
    children and staff appear in consecutive months, so nearly every number is hashed once
    per run, and no Python runs per row.
    """

    def __init__(self, key: bytes):
        self._hmac = hmac.new(key, digestmod=hashlib.sha256)
        self._last: dict[str, pl.DataFrame] = {}  # source column -> (number, pseudonym, problem)

    def one(self, number: str) -> str:
        mac = self._hmac.copy()
        mac.update(number.encode("utf-8"))
        return mac.hexdigest()

    def _pseudonyms(self, numbers: pl.Series) -> pl.Series:
        one = self.one
        return pl.Series(numbers.name, [one(v) for v in numbers.to_list()], dtype=pl.String)

    def identify(self, frame: pl.DataFrame, source: str, target: str, problem: str | None = None) -> pl.DataFrame:
        """Add `target` = pseudonym of the (already upper-cased) `source` column and, if
        named, `problem` = `id_problem(source)`; `source` stays (the caller drops it)."""
        distinct = frame.select(pl.col(source).drop_nulls().unique())
        last = self._last.get(source)
        if last is None:
            last = pl.DataFrame(schema={source: pl.String, "_pseudonym": pl.String, "_problem": pl.String})
        known = distinct.join(last, on=source, how="inner")
        new = distinct.join(last, on=source, how="anti")
        new = new.with_columns(self._pseudonyms(new.get_column(source)).alias("_pseudonym"),
                               id_problem(pl.col(source)).alias("_problem"))
        mapping = pl.concat([known, new], how="vertical")
        self._last[source] = mapping
        out = frame.join(mapping, on=source, how="left", nulls_equal=False, maintain_order="left")
        if problem is not None:  # a missing number has no mapping row: id_problem says `missing`
            out = out.with_columns(
                pl.when(pl.col(source).is_null()).then(pl.lit("missing")).otherwise(pl.col("_problem")).alias(problem))
        return out.drop("_problem").rename({"_pseudonym": target})

    def column(self, frame: pl.DataFrame, source: str, target: str) -> pl.DataFrame:
        """Add `target` = pseudonym of the (already upper-cased) `source` column; drop `source`."""
        return self.identify(frame, source, target).drop(source)
