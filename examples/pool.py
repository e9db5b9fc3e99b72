"""A pool of deployments: a batch that one deployment's quota could not serve.

Three local servers each play a deployment whose Gemini key allows 3 requests
per window (a 4-second "minute", so the demo is quick). The same batch of 18
questions goes first to one of them, then to the pool of three, then to the
pool again without declared budgets, where the servers' rate limits steer it.
Each answer's `response_metadata["routing"]` says where its call went.

This example always runs on local servers (it needs three of them).

    python examples/pool.py
"""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import ExitStack
from typing import Any

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import BaseMessage

from langchain_aichatfree import ChatAIChatFree, Deployment, RateLimitError
from langchain_aichatfree.testing import LocalServer, Quota

WINDOW = 4.0
"""Seconds in the servers' (and the model's) per-minute window, shrunk."""

RPM = 3
MAX_WAIT = 6.0
QUESTIONS = [f"Question {n}: what is {n} + {n}?" for n in range(1, 19)]


def answer(turns: list[dict[str, str]]) -> str:
    number = int(turns[-1]["text"].split()[1].rstrip(":"))
    return f"{2 * number}."


async def ask_all(model: ChatAIChatFree) -> list[Any]:
    """Ask every question at once; keep the failures."""
    questions: list[LanguageModelInput] = list(QUESTIONS)
    return await model.abatch(
        questions,
        config={"max_concurrency": len(QUESTIONS)},
        return_exceptions=True,
    )


def report(
    title: str,
    results: list[Any],
    servers: list[LocalServer],
    names: dict[str, str],
) -> None:
    answered = [r for r in results if isinstance(r, BaseMessage)]
    limited = [r for r in results if isinstance(r, RateLimitError)]
    served = Counter(names[r.response_metadata["deployment"]] for r in answered)
    refused = sum(s.quota.refused for s in servers if s.quota is not None)
    print(f"{title}")
    print(
        f"  answered {len(answered)} of {len(results)}, rate limited "
        f"{len(limited)}; the servers refused {refused} requests"
    )
    print("  served by: " + ", ".join(f"{n} {served[n]}" for n in sorted(served)))
    for result in answered[:: max(1, len(answered) // 6)]:
        steps = []
        for attempt in result.response_metadata["routing"]:
            step = f"{names[attempt['deployment']]} {attempt['outcome']}"
            if attempt["waited"]:
                step = f"(waited {attempt['waited']:.1f} s) {step}"
            steps.append(step)
        print(f"  {result.text:>4} <- " + " -> ".join(steps))


async def run(declare: bool, count: int, title: str) -> None:
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                LocalServer(responder=answer, quota=Quota(rpm=RPM, window=WINDOW))
            )
            for _ in range(count)
        ]
        names = {s.url: "abc"[i] for i, s in enumerate(servers)}
        model = ChatAIChatFree(
            deployments=[
                Deployment(base_url=s.url, rpm=RPM if declare else None)
                for s in servers
            ],
            rpm_window=WINDOW,
            max_wait=MAX_WAIT,
        )
        async with model:
            results = await ask_all(model)
        report(title, results, servers, names)


def main() -> None:
    print(
        f"{len(QUESTIONS)} questions at once; each deployment allows {RPM} requests "
        f"per {WINDOW:g} s;\na call may wait {MAX_WAIT:g} s for a deployment to come "
        "free.\n"
    )
    asyncio.run(run(True, 1, "One deployment (rpm declared):"))
    asyncio.run(run(True, 3, "A pool of three (rpm declared):"))
    asyncio.run(run(False, 3, "A pool of three (nothing declared; 429s steer it):"))


if __name__ == "__main__":
    main()
