"""Check digits (GB 11643, GB 32100) against published vectors and off-by-one corruptions,
and the keyed pseudonyms."""

from __future__ import annotations

import hashlib
import hmac

import polars as pl
import pytest

from pipeline.ingest.extracts.ids import (Pseudonymiser, credit_code_is_valid, credit_code_valid, id_is_valid,
                                   id_problem)

ID_VALID = "11010519491231002X"       # the standard's own example
CREDIT_VALID = "91350100M000100Y43"   # a published valid code


def _corruptions(text: str, alphabet: str):
    """Every single-character change of the code: each must be caught by its check character."""
    for i, ch in enumerate(text):
        for other in alphabet:
            if other != ch:
                yield text[:i] + other + text[i + 1:]


def test_known_valid_vectors():
    assert id_is_valid(ID_VALID)
    assert id_is_valid(ID_VALID.lower())  # lower-case x is the same number
    assert credit_code_is_valid(CREDIT_VALID)


def test_every_single_digit_change_of_an_id_is_caught():
    bad = list(_corruptions(ID_VALID[:17], "0123456789"))
    assert len(bad) == 17 * 9
    assert not any(id_is_valid(b + ID_VALID[17]) for b in bad)


def test_every_single_character_change_of_a_credit_code_is_caught():
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    assert not any(credit_code_is_valid(b) for b in _corruptions(CREDIT_VALID, alphabet))


def test_vectorised_checks_agree_with_scalar_ones():
    ids = [ID_VALID, ID_VALID[:-1] + "1", "3.70781E+17", "37078120000101123", "１１０１０５１９４９１２３１００２Ｘ".upper(), None]
    frame = pl.DataFrame({"x": ids}, schema={"x": pl.String}).with_columns(
        pl.col("x").str.normalize("NFKC"))
    problems = frame.select(id_problem(pl.col("x"))).to_series().to_list()
    assert problems == [None, "check_digit", "scientific", "format", None, "missing"]
    codes = pl.DataFrame({"c": [CREDIT_VALID, CREDIT_VALID[:-1] + "4", "91350100M000100I43", "short", None]})
    assert codes.select(credit_code_valid(pl.col("c"))).to_series().to_list() == [True, False, False, False, False]


def test_pseudonym_is_keyed_hmac_and_not_a_plain_hash():
    p = Pseudonymiser(b"k1")
    expected = hmac.new(b"k1", ID_VALID.encode(), hashlib.sha256).hexdigest()
    assert p.one(ID_VALID) == expected
    assert p.one(ID_VALID) != hashlib.sha256(ID_VALID.encode()).hexdigest()
    assert Pseudonymiser(b"k2").one(ID_VALID) != expected


def test_pseudonym_column_replaces_the_clear_column():
    frame = pl.DataFrame({"row": [1, 2, 3], "id": [ID_VALID, None, ID_VALID]})
    out = Pseudonymiser(b"k").column(frame, "id", "pseudo")
    assert "id" not in out.columns
    assert out.sort("row")["pseudo"].to_list() == [Pseudonymiser(b"k").one(ID_VALID), None, Pseudonymiser(b"k").one(ID_VALID)]


@pytest.mark.parametrize("number", ["110105194912310021", "11010519491231002"])
def test_invalid_numbers(number):
    assert not id_is_valid(number)
