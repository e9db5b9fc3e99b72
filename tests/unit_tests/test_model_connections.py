"""`ModelConnections`: the settings' sessions and router, a call planned over them.

The command line's one-shot question plans its call here, as the model does:
the same settings and turns give the same request and options.
"""

from __future__ import annotations

import asyncio

from langchain_core.messages import HumanMessage, SystemMessage

from langchain_aichatfree import ChatAIChatFree
from langchain_aichatfree._cli_ask import conversation, one_shot_turns
from langchain_aichatfree._model_connections import ModelConnections
from langchain_aichatfree._turns import message_turns

FIELDS = {"base_url": "http://a.example", "secret": "pub", "max_retries": 1}


def test_the_settings_alone_plan_the_call_the_model_plans() -> None:
    turns = one_shot_turns("Be brief.", "Hi")
    with ModelConnections(**FIELDS) as alone, ChatAIChatFree(**FIELDS) as model:
        plan = alone._plan_call(turns, None, {})
        expected = model._plan(conversation("Be brief.", [], "Hi"), None, {})
    assert plan.request == expected.request
    assert plan.model == expected.model
    assert plan.tools is None
    compared = ("url", "headers", "secret", "timeout", "chunk_timeout", "stop")
    for name in compared:
        assert getattr(plan.options, name) == getattr(expected.options, name)


def test_one_shot_turns_are_the_conversations_turns() -> None:
    for system in ("Be brief.", "", None):
        assert one_shot_turns(system, "Q") == message_turns(
            conversation(system, [], "Q")
        )
    assert [t.origin for t in one_shot_turns("S", "Q")] == [
        type(SystemMessage("S")).__name__,
        type(HumanMessage("Q")).__name__,
    ]


def test_the_router_is_made_once_and_closed_with_the_sessions() -> None:
    settings = ModelConnections(**FIELDS)
    router = settings._get_router()
    assert settings._get_router() is router
    settings.close()  # no loop running: closes synchronously
    asyncio.run(settings.aclose())
    settings.base_url = "http://b.example"
    assert settings._get_router() is not router
