"""The request signature: what is signed, and how JavaScript prints the time."""

from __future__ import annotations

import aiohttp
import pytest

from langchain_aichatfree.testing import (
    LocalServer,
)
from tests.integration_tests.local_server._helpers import (
    BAD_SIGNATURE,
    hi,
    post,
    sign,
)


async def test_signature_vector(server, session):
    vector = "b1ee74e587ce0ea68a55c8139688818b8f19d9f81db86c10dcd96d2bab297731"
    assert sign(1, "hi", "") == vector
    answer = await post(session, server, {**hi(), "sign": vector})
    assert (answer.status, answer.body) == (200, b"Echo: hi")


@pytest.mark.parametrize(
    ("time_json", "js_text"),
    [
        ("1", "1"),
        ("1732406400000", "1732406400000"),
        ("1.5", "1.5"),
        ("1.0e12", "1000000000000"),
        ("1e21", "1e+21"),
        ("1e-7", "1e-7"),
        ("0.000001", "0.000001"),
        ("-0.0", "0"),
        ("123456789012345678901234567890", "1.2345678901234568e+29"),
        ("null", "null"),
        ('"abc"', "abc"),
        ("true", "true"),
        ("[1,null,2]", "1,,2"),
        ("{}", "[object Object]"),
        (None, "undefined"),
    ],
)
async def test_time_is_signed_as_javascript_prints_it(
    server, session, time_json, js_text
):
    members = [
        '"messages":[{"role":"user","parts":[{"text":"hi"}]}]',
        f'"sign":"{sign(js_text, "hi")}"',
    ]
    if time_json is not None:
        members.append(f'"time":{time_json}')
    answer = await post(session, server, ("{" + ",".join(members) + "}").encode())
    assert (answer.status, answer.body) == (200, b"Echo: hi")


async def test_python_float_time_fails_the_signature(server, session):
    body = hi(time=1.0e12, signature=sign(str(1.0e12), "hi"))
    answer = await post(session, server, body)
    assert (answer.status, answer.body) == (401, BAD_SIGNATURE)


async def test_signature_covers_joined_text_parts_and_secret():
    async with LocalServer(secret="s3cret") as server, aiohttp.ClientSession() as s:
        parts = [{"text": "a"}, {"inline_data": {"data": "..."}}, {"text": "b"}]
        body = {
            "messages": [{"role": "user", "parts": parts}],
            "time": 7,
            "pass": None,
            "sign": sign(7, "ab", "s3cret"),
        }
        answer = await post(s, server, body)
        assert (answer.status, answer.body) == (200, b"Echo: ab")
        answer = await post(s, server, hi())  # signed without the secret
        assert (answer.status, answer.body) == (401, BAD_SIGNATURE)
