"""`_transport`'s parts that need no network: origins, and a closed session."""

from __future__ import annotations

import aiohttp
import pytest
from langchain_core.messages import HumanMessage

from langchain_aichatfree._protocol import prepare_request
from langchain_aichatfree._stream import AnswerState
from langchain_aichatfree._transport import CallOptions, stream_answer
from langchain_aichatfree._turns import message_turns
from langchain_aichatfree.errors import ClientClosedError


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
