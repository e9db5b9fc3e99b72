"""LangChain habits with this model: retrying, saving and loading, choosing it.

* `with_retry`: the model already retries what can succeed on a second try
  (`max_retries`, before any text was shown). Around a chain, LangChain's
  `with_retry()` retries *every* exception by default, a wrong password
  included; give it a predicate that reads `is_retryable`, or a tuple of our
  retryable classes.
* `dumpd`/`load`: the password is never in the dump; `load` needs our
  namespace in `valid_namespaces`, the class in `allowed_objects`, and the
  password from `secrets_map` (or `secrets_from_env=True`).
* `init_chat_model` cannot name this package (LangChain's list of providers is
  fixed): build `ChatAIChatFree` yourself and pass the instance where a model
  is taken (`create_agent(model, tools)`, a chain).

    python examples/langchain_habits.py
"""

from __future__ import annotations

import warnings

from langchain_core.load import dumpd, load

from langchain_aichatfree import (
    APIConnectionError,
    APIError,
    ChatAIChatFree,
    RateLimitError,
)


def main() -> None:
    model = ChatAIChatFree(max_retries=2)

    # Retry only what a retry can fix: the error says so itself...
    chain = model.with_retry(
        retry_if_exception_type=lambda e: getattr(e, "is_retryable", False),
        stop_after_attempt=3,
    )
    print("with_retry:", chain.invoke("Hi!").content)
    # ...or name the classes (AuthenticationError and InvalidRequestError are not).
    chain = model.with_retry(
        retry_if_exception_type=(RateLimitError, APIError, APIConnectionError),
    )
    print("with_retry by class:", chain.invoke("Hello!").content)

    # Save and load: the password is left out of the dump and given back on load.
    site = ChatAIChatFree(password="site-pw", secret="site-key")
    data = dumpd(site)
    with warnings.catch_warnings():  # langchain-core marks `load` as beta
        warnings.filterwarnings("ignore", "The function `load` is in beta")
        copy = load(
            data,
            allowed_objects=[ChatAIChatFree],
            valid_namespaces=["langchain_aichatfree"],
            secrets_map={"AICHATFREE_PASSWORD": "site-pw"},
        )
    print("loaded:", copy.secret, copy.password.get_secret_value() == "site-pw")

    model.close()


if __name__ == "__main__":
    main()
