"""`_transport`'s parts that need no network: origins, and a closed session."""

from __future__ import annotations

import aiohttp
import pytest
from langchain_core.messages import HumanMessage

from langchain_aichatfree._protocol import prepare_request
from langchain_aichatfree._stream import AnswerState
from langchain_aichatfree._transport import CallOptions, _same_origin, stream_answer
from langchain_aichatfree._turns import message_turns
from langchain_aichatfree.errors import ClientClosedError

ORIGINS = [
    ("https://a.example/api/generate", "https://a.example/v2/api/generate", True),
    ("https://a.example/x", "http://a.example/x", False),
    ("https://a.example/x", "https://b.example/x", False),
    ("http://127.0.0.1:8000/x", "http://127.0.0.1:8000/y?z=1", True),
    ("http://127.0.0.1:8000/x", "http://127.0.0.1:8001/x", False),
]


@pytest.mark.parametrize(("a", "b", "same"), ORIGINS)
def test_same_origin_is_scheme_host_and_port(a: str, b: str, same: bool) -> None:
    assert _same_origin(a, b) is same
    assert _same_origin(b, a) is same


async def test_an_attempt_on_a_closed_session_sends_nothing() -> None:
    session = aiohttp.ClientSession()
    await session.close()
    options = CallOptions(
        url="http://127.0.0.1:1/api/generate",
        headers={},
        secret="",
        password=None,
        timeout=None,
        chunk_timeout=None,
        max_retries=0,
    )
    request = prepare_request(message_turns([HumanMessage("hi")]), dialect="gemini")
    with pytest.raises(ClientClosedError, match="before the first byte"):
        async for _ in stream_answer(session, options, request, AnswerState(), set()):
            pass
