"""The routing decision, pure: a 90/10 split of 10,000 sticky keys within ±2 %, every key
on one side always, the same choices in another process, and a canary ramp that only
moves keys onto the canary as it grows."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone

import pytest

from byom_sdk.routing import RouteConfig, Router, parse_route

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=timezone.utc).timestamp()
SPLIT = {"targets": ["v1", "v2"], "weights": [90, 10], "sticky": "user"}
KEYS = [f"user-{i}" for i in range(10_000)]


def router(**table) -> Router:
    return Router(parse_route("support", table, source="test"))


def test_ten_thousand_keys_split_90_10_within_two_percent():
    chosen = [router(**SPLIT).choose(key, NOW) for key in KEYS]
    share = Counter(c.target for c in chosen)["v2"] / len(KEYS)
    assert 0.08 <= share <= 0.12, share
    assert {c.why for c in chosen} == {"sticky"}
    # the bucket explains the choice: below 9000 basis points is v1
    assert all((c.bucket < 9000) == (c.target == "v1") for c in chosen)


def test_every_sticky_key_always_lands_on_one_side():
    a, b = router(**SPLIT), router(**SPLIT)  # two routers built alike: two processes' worth
    first = {key: a.choose(key, NOW).target for key in KEYS}
    for later in (NOW, NOW + 86_400):
        assert all(b.choose(key, later).target == first[key] for key in KEYS)


def test_the_choices_are_the_same_in_another_process():
    """A keyed BLAKE2b, not hash(): another interpreter with another hash seed agrees."""
    code = (
        "from byom_sdk.routing import Router, parse_route\n"
        "r = Router(parse_route('support', {'targets': ['v1', 'v2'], 'weights': [90, 10], 'sticky': 'user'}, "
        "source='x'))\n"
        "print(''.join('1' if r.choose(f'user-{i}', 0).target == 'v1' else '2' for i in range(2000)))\n"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": seed}
        ).stdout.strip()
        for seed in ("1", "2")
    }
    here = "".join("1" if router(**SPLIT).choose(f"user-{i}", 0).target == "v1" else "2" for i in range(2000))
    assert runs == {here}


def test_the_salt_reshuffles_keys():
    default = [router(**SPLIT).choose(k, NOW).target for k in KEYS[:2000]]
    salted = [router(**SPLIT, salt="2026-05").choose(k, NOW).target for k in KEYS[:2000]]
    assert default != salted


def test_calls_without_a_key_are_drawn_at_random():
    r = router(**SPLIT)
    chosen = [r.choose(None, NOW) for _ in range(10_000)]
    share = Counter(c.target for c in chosen)["v2"] / len(chosen)
    assert 0.08 <= share <= 0.12 and {c.why for c in chosen} == {"weight"}


def test_a_zero_weight_drains_a_target():
    r = router(targets=["v1", "v2", "v3"], weights=[0, 1, 0], sticky="tenant")
    assert {r.choose(k, NOW).target for k in KEYS[:2000]} == {"v2"}


CANARY = {
    **SPLIT,
    "canary": {
        "target": "v3",
        "start": "2026-05-04T12:00:00Z",
        "ramp": [{"after": "0s", "percent": 5}, {"after": "1h", "percent": 25}, {"after": "1d", "percent": 100}],
    },
}


def test_the_canary_ramp_is_a_time_schedule():
    r = router(**CANARY)
    assert [r.canary_percent(NOW + t) for t in (-1, 0, 3599, 3600, 86_399, 86_400)] == [0, 5, 5, 25, 25, 100]
    assert r.weights_at(NOW + 3600) == {"v1": 67.5, "v2": 7.5, "v3": 25}
    for t, expected in ((0, 0.05), (3600, 0.25)):
        share = Counter(r.choose(k, NOW + t).target for k in KEYS)["v3"] / len(KEYS)
        assert abs(share - expected) <= 0.02, (t, share)
    assert {r.choose(k, NOW + 86_400).target for k in KEYS[:500]} == {"v3"}


def test_a_growing_canary_keeps_its_keys_and_leaves_the_others_where_they_were():
    r = router(**CANARY)
    early = {k: r.choose(k, NOW) for k in KEYS}
    later = {k: r.choose(k, NOW + 3600) for k in KEYS}
    assert all(later[k].target == "v3" for k in KEYS if early[k].target == "v3")
    assert all(later[k].target == early[k].target for k in KEYS if later[k].target != "v3")
    assert {c.canary_percent for c in later.values()} == {25}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"targets": ["a", "b"], "weights": [1]}, "1 weight(s) for 2 target(s)"),
        ({"targets": ["a"], "weights": [0]}, "at least one weight must be above 0"),
        ({"targets": ["a"], "weights": [float("inf")]}, "every weight must be a finite number"),
        ({"targets": ["a", "b"], "weights": [1, float("nan")]}, "every weight must be a finite number"),
        ({"targets": ["a"], "fallback_on": ["Nope"]}, "fallback_on"),
        ({"targets": ["a"], "sticky": "ip"}, "sticky"),
        (
            {
                "targets": ["a"],
                "canary": {"target": "a", "start": "2026-01-01T00:00:00Z", "ramp": [{"after": 0, "percent": 1}]},
            },
            "already one of the targets",
        ),
        (
            {
                "targets": ["a"],
                "canary": {"target": "b", "start": "2026-01-01T00:00:00", "ramp": [{"after": 0, "percent": 1}]},
            },
            "time zone",
        ),
        (
            {
                "targets": ["a"],
                "canary": {
                    "target": "b",
                    "start": "2026-01-01T00:00:00Z",
                    "ramp": [{"after": "1h", "percent": 1}, {"after": "5m", "percent": 2}],
                },
            },
            "increasing",
        ),
        (
            {
                "targets": ["a"],
                "canary": {"target": "b", "start": "2026-01-01T00:00:00Z", "ramp": [{"after": "soon", "percent": 1}]},
            },
            "not a duration",
        ),
        ({"targets": ["a"], "colour": "blue"}, "colour"),
    ],
)
def test_invalid_routes_are_refused_naming_the_field(table, message):
    from byom_sdk import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        parse_route("support", table, source="byom.toml")
    assert "route 'support'" in str(caught.value) and caught.value.field.startswith("routes.support.")


def test_config_defaults():
    config = RouteConfig(name="r", targets=("a",))
    assert config.fallback_on == ("Throttled", "Unavailable") and config.circuit.failures == 3
