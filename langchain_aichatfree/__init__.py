"""LangChain integration for AIChatFree and every deployment of the same web app.

The names are imported on first use (PEP 562), so that ``import
langchain_aichatfree`` and the ``aichatfree`` command's ``--help`` do not pay
for langchain-core and aiohttp; ``from langchain_aichatfree import
ChatAIChatFree`` imports what it needs, as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from langchain_aichatfree._version import __version__

if TYPE_CHECKING:
    from langchain_aichatfree._deployment import Deployment
    from langchain_aichatfree._protocol import generate_signature
    from langchain_aichatfree.chat_models import ChatAIChatFree
    from langchain_aichatfree.errors import (
        AIChatFreeError,
        APIConnectionError,
        APIError,
        APITimeoutError,
        AuthenticationError,
        ClientClosedError,
        DeadlineExceededError,
        DeploymentError,
        InvalidRequestError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        ResponseTooLargeError,
        SiteProbeError,
        StreamInterruptedError,
        UnexpectedResponseError,
    )

__all__ = [
    "AIChatFreeError",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "ChatAIChatFree",
    "ClientClosedError",
    "DeadlineExceededError",
    "Deployment",
    "DeploymentError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "SiteProbeError",
    "StreamInterruptedError",
    "UnexpectedResponseError",
    "__version__",
    "generate_signature",
]

_WHERE: dict[str, str] = {
    "AIChatFreeError": "errors",
    "APIConnectionError": "errors",
    "APIError": "errors",
    "APITimeoutError": "errors",
    "AuthenticationError": "errors",
    "ClientClosedError": "errors",
    "DeadlineExceededError": "errors",
    "DeploymentError": "errors",
    "InvalidRequestError": "errors",
    "NotFoundError": "errors",
    "PermissionDeniedError": "errors",
    "RateLimitError": "errors",
    "ResponseTooLargeError": "errors",
    "SiteProbeError": "errors",
    "StreamInterruptedError": "errors",
    "UnexpectedResponseError": "errors",
    "ChatAIChatFree": "chat_models",
    "Deployment": "_deployment",
    "generate_signature": "_protocol",
}
"""The module that defines each public name (imported on first use)."""


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
