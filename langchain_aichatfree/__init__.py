"""LangChain integration for AIChatFree and every deployment of the same web app."""

from langchain_aichatfree._deployment import Deployment
from langchain_aichatfree._protocol import generate_signature
from langchain_aichatfree._version import __version__
from langchain_aichatfree.chat_models import ChatAIChatFree
from langchain_aichatfree.errors import (
    AIChatFreeError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
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
