"""Error handling: what can fail, how to tell, and what is retried for you.

Every failure raises a subclass of `AIChatFreeError` that is also the matching
langchain-core `ModelError`, so `is_retryable` can be read without knowing this
package:

    AuthenticationError       password or secret refused           not retryable
      PermissionDeniedError   403                                  not retryable
    InvalidRequestError       the request was rejected             not retryable
      NotFoundError           404: check base_url                  not retryable
    RateLimitError            quota exhausted (see retry_after)    retryable
    APIError                  the deployment or its model failed   retryable
      StreamInterruptedError  answer cut short (see partial_text)  retryable
      DeploymentError         the site's own model key refused     not retryable
      UnexpectedResponseError a page, not an answer                not retryable
      ResponseTooLargeError   over max_response_bytes              not retryable
    APIConnectionError        the deployment is unreachable        retryable
      APITimeoutError         too slow (timeout, chunk_timeout)    retryable
      ClientClosedError       the model was closed during the call not retryable

`max_retries` (default 2) retries the retryable ones with exponential backoff,
honouring the server's "retry in N s" up to a minute (`max_wait`), but only
while no text has reached you: a stream is never restarted once it showed text,
so a cut-off answer raises `StreamInterruptedError` with the text so far in
`partial_text`.

A rate limit cools the deployment down for every model of the process (or of
every process sharing a Redis `quota_store`): until it ends, further calls wait
for it (up to `max_wait`) or fail at once, without a request.

    python examples/error_handling.py
"""

from __future__ import annotations

from langchain_aichatfree import (
    AIChatFreeError,
    APIConnectionError,
    AuthenticationError,
    ChatAIChatFree,
    DeploymentError,
    RateLimitError,
    StreamInterruptedError,
)


def ask(model: ChatAIChatFree, question: str) -> str | None:
    """Ask one question; on failure, say what happened and return None."""
    try:
        return model.invoke(question).text
    except AuthenticationError as e:
        print(f"  refused, check AICHATFREE_PASSWORD / AICHATFREE_SECRET: {e}")
    except DeploymentError as e:
        print(f"  the site itself is misconfigured, tell its operator: {e}")
    except RateLimitError as e:
        wait = f"{e.retry_after:g} s" if e.retry_after is not None else "a while"
        print(f"  rate limited; try again in {wait}")
    except AIChatFreeError as e:
        print(f"  {type(e).__name__}, retryable={e.is_retryable}: {e.message}")
    return None


def stream(model: ChatAIChatFree, question: str) -> str:
    """Stream an answer; if it is cut short, keep what arrived and say so."""
    pieces: list[str] = []
    try:
        for chunk in model.stream(question):
            print(chunk.text, end="", flush=True)
            pieces.append(chunk.text)
    except StreamInterruptedError as e:
        # partial_text is everything received: here, what was printed.
        print(f"\n  [cut short after {len(e.partial_text)} characters; ask again]")
        return e.partial_text
    print()
    return "".join(pieces)


def main() -> None:
    # Up to 3 retries, with backoff, before any text was shown.
    model = ChatAIChatFree(max_retries=3)

    for question in ["Hello!", "Name a colour."]:
        print(f"{question}")
        answer = ask(model, question)
        if answer is not None:
            print(f"  -> {answer}")

    print("Tell me a long story.\n  -> ", end="")
    stream(model, "Tell me a long story.")

    # A long rate limit: the deployment now cools down for as long as it said.
    print("What is 2 + 2?")
    ask(model, "What is 2 + 2?")
    model.close()

    # A network failure, for real: nothing listens on port 9 of this machine.
    offline = ChatAIChatFree(
        base_url="http://127.0.0.1:9", max_retries=0, chunk_timeout=5
    )
    try:
        offline.invoke("Hello?")
    except APIConnectionError as e:
        print(f"offline: {type(e).__name__}, retryable={e.is_retryable}")
    finally:
        offline.close()


if __name__ == "__main__":
    main()
