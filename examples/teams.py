"""Teams and batch jobs: a pool of deployments, and their quota shared by workers.

Each deployment declares the quota its Gemini key has (`rpm`, `rpd`); calls go
to one with budget left and not cooling down, and fail over when one refuses.
With a Redis `quota_store`, every worker process on every machine shares the
cooldowns and budgets (`pip install langchain-aichatfree[redis]`).

    python examples/teams.py
    AICHATFREE_QUOTA_STORE=redis://127.0.0.1:6379/0 python examples/teams.py

The deployments here are two entries for AICHATFREE_BASE_URL (a local server in
`make demo`), as if two keys of two projects served the same site.
"""

from __future__ import annotations

import os

from langchain_aichatfree import ChatAIChatFree, Deployment

BASE_URL = os.environ.get("AICHATFREE_BASE_URL", "https://aichatfree.info")


def main() -> None:
    model = ChatAIChatFree(
        deployments=[
            Deployment(base_url=BASE_URL, rpm=10, rpd=250),
            Deployment(base_url=BASE_URL, quota_group="project-b", rpm=10),
        ],
        quota_store=os.environ.get("AICHATFREE_QUOTA_STORE", "memory"),
        max_wait=60.0,
    )
    for answer in model.batch([f"Summarise document {n}." for n in range(1, 5)]):
        print(answer.response_metadata["deployment"], "->", answer.text)
        print("   routing:", answer.response_metadata["routing"])
    for row in model.quota_status():
        print(row["quota_group"], row["rpm_used"], "this minute;", row["reason"])
    model.close()


if __name__ == "__main__":
    main()
