"""The package's public surface: `__all__` is pinned, and every name in it exists."""

from __future__ import annotations

import langchain_aichatfree

EXPORTED = [
    "AIChatFreeError",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "ChatAIChatFree",
    "InvalidRequestError",
    "RateLimitError",
    "StreamInterruptedError",
    "__version__",
    "generate_signature",
]
"""Adding or removing a public name is a decision: change this list with it."""


def test_all_is_pinned() -> None:
    assert sorted(langchain_aichatfree.__all__) == sorted(EXPORTED)


def test_every_exported_name_is_importable() -> None:
    for name in langchain_aichatfree.__all__:
        assert getattr(langchain_aichatfree, name) is not None, name


def test_public_names_are_all_exported() -> None:
    public = {
        name
        for name in vars(langchain_aichatfree)
        if not name.startswith("_")
        and not isinstance(
            getattr(langchain_aichatfree, name), type(langchain_aichatfree)
        )
    }
    assert public <= set(langchain_aichatfree.__all__) | {"annotations"}
