"""What `ChatAIChatFree` can do, told once to LangChain's standard test suites.

The unit suite (`tests/unit_tests/test_standard.py`) and the integration suite
(`tests/integration_tests/test_standard.py`) both take their capability flags
from `Capabilities`, so the two cannot disagree about the model.
"""

from __future__ import annotations

from typing import Any

from langchain_aichatfree import ChatAIChatFree


class Capabilities:
    """The standard suites' capability flags for `ChatAIChatFree` (a mixin)."""

    @property
    def chat_model_class(self) -> type[ChatAIChatFree]:
        return ChatAIChatFree

    @property
    def has_tool_calling(self) -> bool:
        return True  # emulated in the prompt

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True  # through the same emulation

    @property
    def structured_output_kwargs(self) -> dict[str, Any]:
        return {"method": "json_schema"}

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return False  # the deployment takes text only

    @property
    def returns_usage_metadata(self) -> bool:
        return True  # estimates: the server reports no usage

    @property
    def supports_model_override(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "gemini-2.0-flash"
