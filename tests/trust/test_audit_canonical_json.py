"""The audit's canonical JSON is the stdlib encoder's form, whichever encoder writes it.

Record bodies are hashed as text, so the fast path (orjson) must write byte for byte what
``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)``
writes, and leave every value it would write differently — or not refuse — to the stdlib.
"""

from __future__ import annotations

import json
import math
from enum import Enum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byom_sdk.trust import _audit_format
from byom_sdk.trust._audit_format import canonical_json


def reference(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(exclude_categories=("Cs",)))  # a lone surrogate is no UTF-8
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=600, deadline=None)
@given(values)
def test_any_json_value_is_written_as_the_stdlib_writes_it(value: Any) -> None:
    assert canonical_json(value) == reference(value)


def test_the_fast_path_serves_a_whole_audit_record() -> None:
    pytest.importorskip("orjson")
    record = {
        "v": 2,
        "time": "2026-12-07T02:32:04.578+00:00",
        "boundary": {"endpoint": "https://runtime.sagemaker.eu-west-1.amazonaws.com", "tls": True},
        "decisions": [{"rule": "trust", "result": "off", "detail": "trust='off': no gate"}],
        "latency_ms": 0.112,
        "scores": {"toxicity": 0.0001, "prompt_injection": 0.5},
        "usage": {"input_tokens": 6, "output_tokens": 9, "source": "estimate"},
        "tags": {"team": "Zürich ✓"},
        "error_code": None,
    }
    assert _audit_format._plain(record)
    assert canonical_json(record) == reference(record)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ({"score": 3.3e-7}, "json writes 3.3e-07, orjson 3.3e-7"),
        ({"big": 1e16}, "json writes 1e+16"),
        ({"n": 2**64}, "beyond orjson's 64 bits"),
        ({1: "a"}, "a non-string key: json writes it as a string"),
        ({"t": (1, 2.5)}, "a tuple is an array"),
    ],
)
def test_values_orjson_would_write_otherwise_take_the_stdlib_path(value: Any, why: str) -> None:
    assert canonical_json(value) == reference(value), why


class Colour(str, Enum):
    RED = "red"


def test_a_str_subclass_is_written_by_the_stdlib() -> None:
    value = {"colour": Colour.RED}
    assert not _audit_format._plain(value)
    assert canonical_json(value) == reference(value)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused_as_before(bad: float) -> None:
    # orjson would write null; the record must not silently lose the value.
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json({"scores": {"x": bad}})


def test_without_orjson_the_stdlib_writes_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_audit_format, "_orjson_dumps", False)
    value = {"b": [1, 2.5, None], "a": "é"}
    assert canonical_json(value) == reference(value) == '{"a":"é","b":[1,2.5,null]}'


def test_a_value_that_contains_itself_is_refused_as_before() -> None:
    looped: dict[str, Any] = {"kind": "x"}
    looped["self"] = looped
    with pytest.raises(ValueError, match="Circular reference"):
        canonical_json(looped)
