"""The PII scorer's span-matching rules (bench/pii/scorer.py), and the corpus generator."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.pii.generator import generate
from bench.pii.scorer import score_corpus, score_document

TEXT = "call +49 221 64792002 or mail ann@example.com, v1.2.3.4 ok"
PHONE = (5, 21, "PHONE")
EMAIL = (30, 45, "EMAIL")
VERSION = (47, 55, "version")
TYPES = ("PHONE", "EMAIL")


def score(predicted, gold=(PHONE, EMAIL), negatives=(VERSION,), **kwargs):
    return score_document(TEXT, list(gold), list(predicted), list(negatives), types=TYPES, **kwargs)


def test_spans_of_the_fixture():
    assert TEXT[5:21] == "+49 221 64792002" and TEXT[30:45] == "ann@example.com" and TEXT[47:55] == "v1.2.3.4"


def test_exact_predictions_score_one():
    s = score([PHONE, EMAIL])
    assert s.recall() == 1.0 and s.precision() == 1.0 and s.negative_rate() == 0.0


def test_strict_recall_needs_every_character_masked():
    cut = (5, 17, "PHONE")  # "+49 221 6479" leaves "2002" in clear text
    s = score([cut, EMAIL])
    assert s.recall("PHONE") == 0.0 and s.recall("PHONE", strict=False) == 1.0
    assert s.precision("PHONE") == 1.0  # what it masked was part of the phone


def test_punctuation_outside_the_value_may_be_left_or_taken():
    s = score([(6, 21, "PHONE"), (29, 45, "EMAIL")])  # "+" left out; the space before the mail taken
    assert s.recall() == 1.0 and s.precision() == 1.0


def test_a_value_split_over_two_predictions_of_its_type_is_found():
    s = score([(5, 12, "PHONE"), (12, 21, "PHONE"), EMAIL])
    assert s.recall("PHONE") == 1.0 and s.precision("PHONE") == 1.0


def test_wrong_type_is_a_miss_and_a_false_positive():
    s = score([(5, 21, "EMAIL"), EMAIL])
    assert s.recall("PHONE") == 0.0 and s.precision("EMAIL") == 0.5


def test_over_masking_a_neighbouring_word_is_a_false_positive():
    s = score([(0, 21, "PHONE"), EMAIL])  # "call" masked too
    assert s.recall("PHONE") == 1.0 and s.precision("PHONE") == 0.0


def test_hard_negatives_and_other_types():
    s = score([PHONE, EMAIL, (48, 55, "IP_ADDRESS"), (30, 45, "URL")], gold=(PHONE, EMAIL))
    assert s.negatives_hit["version"] == 0  # IP_ADDRESS is not an evaluated type here
    assert s.other_types == {"IP_ADDRESS": 1, "URL": 1}
    s = score_document(TEXT, [PHONE], [PHONE, (48, 55, "PHONE")], [VERSION], types=TYPES)
    assert s.negative_rate() == 1.0 and s.precision("PHONE") == 0.5


def test_aliases_map_other_names():
    s = score(
        [(5, 21, "PHONE_NUMBER"), (30, 45, "EMAIL_ADDRESS")],
        aliases={"PHONE_NUMBER": "PHONE", "EMAIL_ADDRESS": "EMAIL"},
    )
    assert s.recall() == 1.0 and s.precision() == 1.0


def test_missing_predictions_give_nan_precision_not_zero():
    s = score([])
    assert s.recall() == 0.0 and s.precision() != s.precision()  # NaN


@pytest.fixture(scope="module")
def corpus():
    return generate(300, seed=7)


def test_corpus_is_deterministic_and_its_spans_hold_their_values(corpus):
    assert generate(300, seed=7) == corpus
    assert generate(50, seed=8) != corpus[:50]
    langs = {d["lang"] for d in corpus}
    genres = {d["genre"] for d in corpus}
    assert len(langs) >= 6 and len(genres) == 8
    for doc in corpus:
        text = doc["text"]
        spans = sorted(doc["spans"] + doc["negatives"])
        for (_, e1, _), (s2, _, _) in itertools.pairwise(spans):
            assert e1 <= s2, doc["id"]  # no overlapping labels
        for start, end, _ in spans:
            assert 0 <= start < end <= len(text) and text[start:end].strip() == text[start:end]


def test_corpus_scores_itself_perfectly(corpus):
    gold = [[tuple(s) for s in d["spans"]] for d in corpus]
    s = score_corpus(corpus, gold, types=("PHONE", "EMAIL", "IBAN", "PERSON"))
    assert s.recall() == 1.0 and s.precision() == 1.0 and s.negative_rate() == 0.0
