"""Reading bodies without knowing their API (``_wire_body``): forms, multipart forms and
query strings as data, numbers in text, roles under other names, and which order counts."""

from __future__ import annotations

import json

from byom_sdk.testing.conformance._wire_body import Exchange, Request, has_number, order


def _exchange(*requests: Request, tag: str = "t1") -> Exchange:
    return Exchange("generate", tag, list(requests))


def test_a_form_a_multipart_form_and_a_query_string_are_read_as_data():
    form = Request(
        b"prompt=t1+hello&temperature=0.35&options=%7B%22k%22%3A+1%7D",
        {"content-type": "application/x-www-form-urlencoded"},
        "/generate?top_p=0.85",
    )
    exchange = _exchange(form)
    [body] = exchange.bodies
    assert body == {"prompt": "t1 hello", "temperature": 0.35, "options": {"k": 1}}
    assert exchange.queries == [{"top_p": 0.85}]
    boundary = "XyZ"
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="messages"\r\n\r\n'
        + json.dumps([{"role": "user", "content": "t1 line\n"}])
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="max_tokens"\r\n\r\n21\r\n--{boundary}--\r\n'
    ).encode()
    [parsed] = _exchange(Request(multipart, {"content-type": f"multipart/form-data; boundary={boundary}"})).bodies
    assert parsed == {"messages": [{"role": "user", "content": "t1 line\n"}], "max_tokens": 21}


def test_numbers_are_found_in_a_text_body_but_not_in_strings_of_a_json_one():
    assert has_number("temperature: 0.35, max 21 t1", 0.35)
    assert not has_number({"note": "tag 21"}, 21)
    assert has_number({"n": "21"}, 21) and has_number({"n": 21}, 21.0)


def test_only_requests_carrying_the_probe_to_the_first_destination_are_the_call():
    token = Request(b'{"grant": "client"}', {}, "/token", ("127.0.0.1", 1))
    call = Request(b'{"prompt": "t1"}', {}, "/generate", ("127.0.0.1", 1))
    forward = Request(b'{"inputs": "t1"}', {}, "/invocations", ("127.0.0.1", 2))  # a proxy passing it on
    exchange = _exchange(token, call, forward)
    assert exchange.bodies == [{"prompt": "t1"}]
    assert len(exchange.seen) == 3  # the identity check reads everything


def test_roles_under_other_names_count_only_when_they_name_a_role():
    exchange = _exchange(
        Request(b'{"messages": [{"type": "human", "content": "t1 a"}, {"type": "text", "text": "t1 b"}]}')
    )
    [a] = exchange.find("t1 a")
    [b] = exchange.find("t1 b")
    assert a.role == "human" and b.role is None


def test_order_counts_in_one_string_and_one_array_not_across_keys_or_requests():
    exchange = _exchange(Request(b'{"message": "t1 last", "history": [{"m": "t1 one"}, {"m": "t1 two t1 three"}]}'))
    [last], [one], [two], [three] = (exchange.places(t) for t in ("t1 last", "t1 one", "t1 two", "t1 three"))
    assert order(one, two) == -1 and order(two, one) == 1  # two items of one array
    assert order(two, three) == -1  # one string
    assert order(last, one) is None  # two keys of an object: unordered
    other = (1, one[1], 0)
    assert order(one, other) is None  # two requests
