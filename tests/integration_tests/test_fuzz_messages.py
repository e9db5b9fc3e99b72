"""Arbitrary conversations: either the server accepts them, or ValueError first.

The local server enforces the upstream's strict history rules (roles, strict
alternation starting with the user, no empty text, last turn the user's), so a
conversion bug shows as a server-side 400/500 of the history kind.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from langchain_aichatfree import ChatAIChatFree, InvalidRequestError
from langchain_aichatfree.testing import LocalServer

texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "\u202e evil rtl", "🌍", "\ud800", "a\ud83d"]),
    st.text(min_size=5000, max_size=20000, alphabet="ab c"),
)
blocks = st.one_of(
    texts,
    st.builds(lambda t: {"type": "text", "text": t}, texts),
    st.builds(lambda t: {"type": "reasoning", "reasoning": t}, texts),
    st.sampled_from(
        [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
            {"type": "image", "url": "https://x/y.png"},
            {"type": "file", "file_id": "f1"},
            {"type": "mystery"},
            {"type": "tool_use", "id": "t", "name": "f", "input": {}},
        ]
    ),
)
contents = st.one_of(texts, st.lists(blocks, max_size=4))
names = st.one_of(st.none(), st.text(max_size=8))
tool_calls = st.lists(
    st.builds(
        lambda n, i: {"name": n or "f", "args": {"q": i}, "id": f"call_{i}"},
        st.text(max_size=6),
        st.integers(0, 99),
    ),
    max_size=2,
)

messages = st.one_of(
    st.builds(lambda c, n: HumanMessage(content=c, name=n), contents, names),
    st.builds(lambda c, n: SystemMessage(content=c, name=n), contents, names),
    st.builds(lambda c, tc: AIMessage(content=c, tool_calls=tc), contents, tool_calls),
    st.builds(
        lambda c, i, s: ToolMessage(content=c, tool_call_id=f"call_{i}", status=s),
        contents,
        st.integers(0, 99),
        st.sampled_from(["success", "error"]),
    ),
    st.builds(lambda c: FunctionMessage(content=c, name="fn"), texts),
    st.builds(
        lambda c, r: ChatMessage(content=c, role=r),
        contents,
        st.sampled_from(["user", "assistant", "system", "ai", "critic", "tool"]),
    ),
)


@pytest.fixture(scope="module", params=["gemini", "chatgpt-demo"])
def model(request: pytest.FixtureRequest) -> Iterator[ChatAIChatFree]:
    with LocalServer(dialect=request.param) as server:
        m = ChatAIChatFree(base_url=server.url, dialect=request.param, max_retries=0)
        yield m
        m.close()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(conversation=st.lists(messages, max_size=8))
def test_conversation_is_accepted_or_rejected_before_sending(
    model: ChatAIChatFree, conversation: list[BaseMessage]
) -> None:
    try:
        answer = model.invoke(conversation)
    except ValueError:
        event("rejected before sending")
        return  # rejected before any request, with a clear message
    except InvalidRequestError as e:  # the server's history checks said no
        pytest.fail(f"server rejected a converted conversation: {e}")
    event("accepted by the server")
    assert isinstance(answer.content, str)
    assert answer.content.startswith("Echo: ")
