"""LangChain's standard integration tests, against the local server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_aichatfree import ChatAIChatFree
from langchain_aichatfree.testing import LocalServer

_SERVER: dict[str, LocalServer] = {}


@pytest.fixture(scope="module", autouse=True)
def _server() -> Iterator[LocalServer]:
    with LocalServer(secret="standard-secret", passwords="standard-pw") as server:
        _SERVER["server"] = server
        yield server
        _SERVER.clear()


class TestChatAIChatFreeIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatAIChatFree]:
        return ChatAIChatFree

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "base_url": _SERVER["server"].url,
            "secret": "standard-secret",
            "password": "standard-pw",
            "model": "gemini-1.5-pro",
        }

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def supports_image_inputs(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_model_override(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "gemini-2.0-flash"
