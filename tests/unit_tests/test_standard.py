"""LangChain's standard unit tests for chat models."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.unit_tests import ChatModelUnitTests

from tests.standard_capabilities import Capabilities


class TestChatAIChatFreeStandard(Capabilities, ChatModelUnitTests):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"base_url": "http://127.0.0.1:9", "model": "gemini-1.5-pro"}

    @property
    def init_from_env_params(
        self,
    ) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {
                "AICHATFREE_BASE_URL": "https://chat.example.org",
                "AICHATFREE_PASSWORD": "env-password",
                "AICHATFREE_SECRET": "env-secret",
            },
            {},
            {"base_url": "https://chat.example.org", "secret": "env-secret"},
        )

    @pytest.mark.xfail(
        reason=(
            "loads with allowed_objects='all', which admits only classes in "
            "langchain-core's own mapping; test_chat_models.py::test_serdes_round_trip "
            "runs the same round trip with an explicit allowlist"
        ),
        strict=True,
    )
    def test_serdes(self, model: Any, snapshot: Any) -> None:
        super().test_serdes(model, snapshot)
