"""A self-hosted deployment, with a site password and a signing secret.

Any GeminiProChat (or older chatgpt-demo) site works. It may need:

* a site password (its SITE_PASSWORD setting), sent with every request; keep it
  in AICHATFREE_PASSWORD, never in code;
* a signing secret: its PUBLIC_SECRET_KEY, which the site publishes in its
  browser code (public by design); AICHATFREE_SECRET;
* the app family: `dialect="chatgpt-demo"` for the older OpenAI front end
  (this script reads it from AICHATFREE_DIALECT, its own variable).

    AICHATFREE_BASE_URL=https://chat.example.org AICHATFREE_PASSWORD=... \\
        AICHATFREE_SECRET=... python examples/self_hosted.py

`python -m langchain_aichatfree serve --password pw --secret s` runs a local one.
"""

from __future__ import annotations

import os

from langchain_aichatfree import ChatAIChatFree


def main() -> None:
    base_url = os.environ.get("AICHATFREE_BASE_URL")
    if not base_url:
        print("Set AICHATFREE_BASE_URL to your deployment's address.")
        return

    # The same as ChatAIChatFree() with those variables set; spelled out here.
    model = ChatAIChatFree(
        base_url=base_url,
        password=os.environ.get("AICHATFREE_PASSWORD"),
        secret=os.environ.get("AICHATFREE_SECRET", ""),
        dialect=(
            "chatgpt-demo"
            if os.environ.get("AICHATFREE_DIALECT") == "chatgpt-demo"
            else "gemini"
        ),
        timeout=120,
    )
    # The password is a SecretStr: it never shows in logs, reprs or tracing.
    print(f"deployment: {model.base_url} ({model.dialect}), password: {model.password}")

    answer = model.invoke(
        [
            ("system", "You are the help desk of this site. Be brief."),
            ("human", "What can you do?"),
        ]
    )
    print("answer:", answer.content)
    model.close()


if __name__ == "__main__":
    main()
