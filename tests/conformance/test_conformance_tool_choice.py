"""What ``wire.tool_choice`` takes for a named tool choice that reached the endpoint."""

import pytest

from byom_sdk.testing.conformance._wire import _holds_string, _names_under_choice

N = "byom_wire_forced_0123456789"


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ({"tool_choice": {"type": "function", "function": {"name": N}}}, True),  # OpenAI, Mistral
        ({"tool_choice": {"type": "tool", "name": N}}, True),  # Anthropic
        ({"toolChoice": {"tool": {"name": N}}}, True),  # Bedrock Converse
        ({"toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [N]}}}, True),  # Gemini
        ({"function_call": {"name": N}}, True),  # OpenAI's legacy functions
        ({"parameters": {"tool_choice": N}}, True),  # a container's parameters object
        ({"tool_choice": "required", "tools": [{"function": {"name": N}}]}, False),  # only offered
        ({"tool_choice": "auto"}, False),
        ({"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}, False),  # another tool
        ({"messages": [{"content": f"call {N} now"}], "tool_choice": "required"}, False),
    ],
)
def test_the_name_counts_under_a_tool_choice_key_only(body, found):
    assert _names_under_choice(body, N) is found


def test_other_tools_are_found_as_whole_strings_only():
    grammar = {"grammar": {"value": {"properties": {"tool_calls": {"items": {"properties": {"name": {"const": N}}}}}}}}
    assert not _holds_string(grammar, {"get_weather"})  # only the named tool in the grammar
    assert _holds_string({"tools": [{"function": {"name": "get_weather"}}]}, {"get_weather"})
    assert not _holds_string({"messages": [{"content": "use get_weather for Paris"}]}, {"get_weather"})
