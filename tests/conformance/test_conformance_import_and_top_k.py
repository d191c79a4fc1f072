"""Which module ``isolation.import`` loads, and what ``wire.top_k`` takes for a top_k."""

from __future__ import annotations

import pytest

from byom_sdk.testing.conformance._import import _entry_points, _shared_prefix
from byom_sdk.testing.conformance._wire import PROBE_TOP_K, _has_top_k


def test_the_plugin_is_found_through_the_class_a_test_file_subclasses():
    sagemaker = pytest.importorskip("byom_sagemaker")

    class LocalSageMaker(sagemaker.SageMakerModel):  # written in a test file, not shipped
        pass

    assert _entry_points(sagemaker.SageMakerModel) == ["byom_sagemaker._plugin"]
    assert _entry_points(LocalSageMaker) == ["byom_sagemaker._plugin"]


def test_a_provider_class_from_byom_sdk_itself_names_no_plugin():
    from byom_sdk.testing import ScriptedModel

    assert _entry_points(ScriptedModel) == []


def test_distributions_sharing_a_namespace_are_told_apart_by_the_longest_prefix():
    assert _shared_prefix("acme.alpha._plugin", "acme.alpha._model") == 2
    assert _shared_prefix("acme.beta._plugin", "acme.alpha._model") == 1
    assert _shared_prefix("acme", "acme.alpha") == 1


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ({"parameters": {"top_k": PROBE_TOP_K}}, True),
        ({"generationConfig": {"topK": PROBE_TOP_K}}, True),
        ({"k": str(PROBE_TOP_K)}, True),  # Cohere's name, as a form value
        ({"top_k": [str(PROBE_TOP_K)]}, True),  # a query string's one value
        ({"max_tokens": PROBE_TOP_K, "top_p": 0.85}, False),  # another field holding the same number
        ({"top_k": True}, False),
        ({"messages": [{"content": f"tag {PROBE_TOP_K}"}]}, False),
    ],
)
def test_top_k_is_looked_for_under_top_k_names_only(body, found):
    assert _has_top_k(body) is found
