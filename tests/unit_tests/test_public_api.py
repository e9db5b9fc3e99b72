"""The package's public surface: `__all__` is pinned, and every name in it exists."""

from __future__ import annotations

import subprocess
import sys

import pytest

import langchain_aichatfree

EXPORTED = [
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
"""Adding or removing a public name is a decision: change this list with it."""


def test_all_is_pinned() -> None:
    assert sorted(langchain_aichatfree.__all__) == sorted(EXPORTED)


@pytest.mark.parametrize("name", EXPORTED)
def test_every_exported_name_is_importable(name: str) -> None:
    value = getattr(langchain_aichatfree, name)
    assert value is not None
    assert name in dir(langchain_aichatfree)
    if name != "__version__":
        assert value.__name__ == name


def test_other_names_are_not_there() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = langchain_aichatfree.Nope


HEAVY = ("langchain_core", "aiohttp", "pydantic")


def test_importing_the_package_imports_no_dependency() -> None:
    """The names load on first use: `import` and `--help` stay fast."""
    code = (
        "import sys, langchain_aichatfree, langchain_aichatfree._cli\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
