"""First contact: a model for a site, its settings read from the site itself.

`from_site` reads the site's page and chat script to find the web app family
(`dialect`) and the signing secret, and asks its password check whether a
password is needed (the password, from AICHATFREE_PASSWORD or `password=`, is
sent there and nowhere else). `aichatfree probe URL` shows the same findings.

    AICHATFREE_BASE_URL=https://your.site python examples/from_site.py
"""

from __future__ import annotations

import os

from langchain_aichatfree import ChatAIChatFree

SITE = os.environ.get("AICHATFREE_BASE_URL", "https://aichatfree.info")


def main() -> None:
    model = ChatAIChatFree.from_site(SITE, max_retries=2)
    print(f"{model.base_url}: dialect {model.dialect!r}, secret {model.secret!r}")
    print("answer:", model.invoke("Hi!").content)
    model.close()


if __name__ == "__main__":
    main()
