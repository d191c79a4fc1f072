"""Codecs against golden payloads, and a user-supplied ``custom`` codec end to end."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from byom_sagemaker import (
    Codec,
    JumpStartCodec,
    LMICodec,
    OpenAICodec,
    SageMakerConfig,
    TEICodec,
    TGICodec,
    decode_stream,
    parse_vectors,
)
from byom_sagemaker._codecs import load_codec

from byom_sdk import ConfigError, EmbedRequest, FinishEvent, GenerateRequest, TextDelta, Usage, UsageEvent
from byom_sdk.wire import ContainerError


def body(codec, **fields):
    stream = fields.pop("stream", False)
    return codec.encode_generate(GenerateRequest(**fields), stream=stream)


def test_tgi_request_names():
    assert body(
        TGICodec(),
        prompt="p",
        max_tokens=9,
        temperature=0.7,
        top_p=0.9,
        top_k=40,
        seed=1,
        stop=("x",),
        stream=True,
        extra={"repetition_penalty": 1.1},
    ) == {
        "inputs": "p",
        "parameters": {
            "details": True,
            "return_full_text": False,
            "max_new_tokens": 9,
            "top_p": 0.9,
            "top_k": 40,
            "seed": 1,
            "stop": ["x"],
            "temperature": 0.7,
            "do_sample": True,
            "repetition_penalty": 1.1,
        },
        "stream": True,
    }


def test_tgi_decodes_list_response_with_details():
    decoded = TGICodec().decode_generate(
        json.loads(
            b'[{"generated_text":"hi","details":{"finish_reason":"length","generated_tokens":2,"prefill":[{},{},{}]}}]'
        )
    )
    assert (decoded.text, decoded.finish_reason) == ("hi", "length")
    assert decoded.usage == Usage(input_tokens=3, output_tokens=2, source="server")


def test_tgi_error_body_is_a_container_error():
    with pytest.raises(ContainerError, match="Model is overloaded"):
        TGICodec().decode_generate(json.loads(b'{"error":"Model is overloaded","error_type":"overloaded"}'))


def test_tgi_stream_skips_special_tokens_and_reads_final_details():
    wire = [
        b'data:{"index":1,"token":{"id":5,"text":"Hel","special":false},"generated_text":null,"details":null}\n\n',
        b'data: {"index":2,"token":{"id":6,"text":"lo","special":false},"generated_text":null,"details":null}\n\n',
        b'data:{"index":3,"token":{"id":2,"text":"</s>","special":true},"generated_text":"Hello",'
        b'"details":{"finish_reason":"eos_token","generated_tokens":3,"prefill":[{}]}}\n\n',
    ]
    events = decode_stream(TGICodec(), wire, prompt="x")
    assert events == [
        TextDelta(text="Hel"),
        TextDelta(text="lo"),
        UsageEvent(usage=Usage(input_tokens=1, output_tokens=3, source="server")),
        FinishEvent(finish_reason="stop", usage=Usage(input_tokens=1, output_tokens=3, source="server")),
    ]


def test_tgi_in_stream_error_raises_after_deltas():
    wire = [b'data:{"token":{"id":1,"text":"a"}}\n\n', b'data:{"error":"boom","error_type":"generation"}\n\n']
    with pytest.raises(ContainerError, match="boom"):
        decode_stream(TGICodec(), wire)


def test_lmi_request_and_object_response():
    assert body(LMICodec(), prompt="p", stop=("s",), temperature=0)["parameters"] == {
        "details": True,
        "stop_sequences": ["s"],
        "do_sample": False,
    }
    decoded = LMICodec().decode_generate(json.loads(b'{"generated_text":"x","details":{"finish_reason":"length"}}'))
    assert (decoded.text, decoded.finish_reason) == ("x", "length")


def test_lmi_jsonlines_legacy_outputs_and_error_record():
    events = decode_stream(LMICodec(), [b'{"outputs":["a"]}\n{"outputs":["b"]}\n'])
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["a", "b"]
    error = b'{"token":{"id":-1,"text":""},"generated_text":"CUDA OOM","details":{"finish_reason":"error"}}\n'
    with pytest.raises(ContainerError, match="CUDA OOM"):
        decode_stream(LMICodec(), [b'{"token":{"id":1,"text":"a"}}\n', error])


def test_openai_request_keeps_zero_temperature_and_asks_for_usage():
    sent = body(
        OpenAICodec(model="m"),
        messages=({"role": "user", "content": "q"},),
        temperature=0,
        max_tokens=4,
        stop=("\n",),
        stream=True,
    )
    assert sent == {
        "messages": [{"role": "user", "content": "q"}],
        "model": "m",
        "max_tokens": 4,
        "stop": ["\n"],
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_openai_stream_with_done_and_usage_chunk():
    wire = [
        b'data: {"choices":[{"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n',
        b'data: {"choices":[{"delta":{"content":"Hi"},"finish_reason":null}]}\n\n',
        b'data: {"choices":[{"delta":{},"finish_reason":"length"}]}\n\n',
        b'data: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":1}}\n\n',
        b"data: [DONE]\n\n",
    ]
    events = decode_stream(OpenAICodec(), wire)
    usage = Usage(input_tokens=4, output_tokens=1, source="server")
    assert events == [TextDelta(text="Hi"), UsageEvent(usage=usage), FinishEvent(finish_reason="length", usage=usage)]


def test_jumpstart_llama_chat_payload_and_eula():
    codec = JumpStartCodec(variant="llama-chat", accept_eula=True)
    assert codec.custom_attributes() == "accept_eula=true"
    sent = body(
        codec,
        messages=({"role": "system", "content": "s"}, {"role": "user", "content": "u"}),
        max_tokens=8,
        temperature=0.5,
    )
    assert sent == {
        "inputs": [[{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]],
        "parameters": {"max_new_tokens": 8, "temperature": 0.5, "do_sample": True},
    }
    assert codec.decode_generate(json.loads(b'[{"generation":{"role":"assistant","content":"ok"}}]')).text == "ok"
    assert JumpStartCodec(variant="llama-text").decode_generate(json.loads(b'[{"generation":"ok"}]')).text == "ok"
    assert JumpStartCodec(variant="text2text").decode_generate(json.loads(b'{"generated_texts":["ok"]}')).text == "ok"


def test_jumpstart_requires_a_known_variant():
    with pytest.raises(ValueError, match="unknown JumpStart variant"):
        JumpStartCodec(variant="gpt")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([1, 2], [[1.0, 2.0]]),
        ([[1, 2], [3, 4]], [[1.0, 2.0], [3.0, 4.0]]),
        ({"embedding": [[1, 2]]}, [[1.0, 2.0]]),
        ({"embeddings": [1, 2]}, [[1.0, 2.0]]),
        ([{"embedding": [1, 2]}, {"embedding": [3, 4]}], [[1.0, 2.0], [3.0, 4.0]]),
    ],
)
def test_parse_vectors_shapes(value, expected):
    assert parse_vectors(value) == expected


def test_parse_vectors_rejects_token_level_output():
    with pytest.raises(ValueError, match="unrecognised embedding shape"):
        parse_vectors([[[1.0, 2.0]]])


def test_tei_payload():
    codec = TEICodec(truncate=True)
    assert codec.encode_embed(EmbedRequest(texts=("a", "b"), normalize=False)) == {
        "inputs": ["a", "b"],
        "truncate": True,
        "normalize": False,
    }


# -- custom codec --------------------------------------------------------------------------

CUSTOM_MODULE = textwrap.dedent('''
    import json
    from byom_sagemaker import Chunk, Codec, Decoded
    from byom_sagemaker.testing import Personality


    class PipeCodec(Codec):
        """A house format: {"q": prompt, "n": max tokens} -> {"a": text}; stream "a" lines."""

        name = "pipe"
        generates = True
        streams = True
        stream_accept = "application/x-pipe"

        def __init__(self, *, shout=False):
            self.shout = shout

        def encode_generate(self, request, *, stream):
            return {"q": request.prompt, "n": request.max_tokens, "stream": stream}

        def decode_generate(self, body):
            text = body["a"]
            return Decoded(text=text.upper() if self.shout else text)

        def decode_chunk(self, record):
            return Chunk(text=record["a"], finish_reason="stop" if record.get("end") else None)


    class PipePersonality(Personality):
        name = "pipe"
        stream_content_type = "application/x-pipe"

        def invoke(self, model, body, headers):
            data = json.loads(body)
            reply = self.generate(model, self.request(data))
            return json.dumps({"a": reply.text}).encode(), "application/json"

        def stream(self, model, body, headers):
            for event in self.events(model, self.request(json.loads(body))):
                if event.type == "text":
                    yield json.dumps({"a": event.text}).encode() + b"\\n"
            yield b'{"a": "", "end": true}\\n'

        @staticmethod
        def request(data):
            from byom_sdk import GenerateRequest
            return GenerateRequest(prompt=data["q"], max_tokens=data["n"])
''')


@pytest.fixture
def custom_module(tmp_path, monkeypatch):
    (tmp_path / "house_codecs.py").write_text(CUSTOM_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "house_codecs"
    sys.modules.pop("house_codecs", None)


def test_custom_codec_end_to_end_through_the_client(server, make_client, custom_module):
    from byom_sdk.testing import ScriptedModel

    module = __import__(custom_module)
    server.add_endpoint("house", module.PipePersonality(), ScriptedModel(["alpha beta gamma"]))
    config = server.model_config(
        "house", codec="custom", codec_class="house_codecs:PipeCodec", codec_options={"shout": True}
    )
    model = make_client({"bot": config}).model("bot")
    assert model.generate("q", max_tokens=2).text == "ALPHA BETA"
    events = list(model.stream("q"))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "alpha beta gamma"
    assert events[-1].finish_reason == "stop"
    assert server.requests_for("house")[0].json == {"q": "q", "n": 2, "stream": False}
    assert server.requests_for("house")[1].header("x-amzn-sagemaker-accept") == "application/x-pipe"


def _custom(codec_class, **options):
    return SageMakerConfig(
        endpoint_name="e", region="eu-west-1", codec="custom", codec_class=codec_class, codec_options=options
    )


def test_custom_codec_errors_name_the_field(custom_module):
    with pytest.raises(ConfigError, match=r"field 'codec_class'.*cannot import"):
        load_codec(_custom("house_codecs:Missing"))
    with pytest.raises(ConfigError, match=r"field 'codec_class'.*not a subclass"):
        load_codec(_custom("json:JSONDecoder"))
    with pytest.raises(ConfigError, match=r"field 'codec_options'.*'pipe'"):
        load_codec(_custom("house_codecs:PipeCodec", volume=11))
    assert isinstance(load_codec(_custom("house_codecs:PipeCodec")), Codec)
