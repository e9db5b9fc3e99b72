"""A chat with memory: an LCEL chain whose prompt template holds the history.

The deployment is stateless: every request carries the whole conversation. The
prompt template has a `MessagesPlaceholder` for the turns so far; after each
answer, the question and the answer are added to that session's history, which
is trimmed to a token budget before it is sent.

(`RunnableWithMessageHistory` did this bookkeeping, but langchain-core has
deprecated it, and its history classes, in favour of LangGraph's persistence;
for a script, a list per session is all it takes.)

    python examples/chat_history.py
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, trim_messages
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import Runnable

from langchain_aichatfree import ChatAIChatFree

histories: dict[str, list[BaseMessage]] = {}
"""Each session's turns (a database would go here in a real app)."""


def chat(
    chain: Runnable[dict[str, Any], str],
    model: ChatAIChatFree,
    session_id: str,
    question: str,
) -> str:
    """Ask within a session: stream the answer, then remember the exchange."""
    history = histories.setdefault(session_id, [])
    recent = trim_messages(
        history,
        max_tokens=2000,
        token_counter=model,
        strategy="last",
        start_on="human",
    )
    answer = ""
    for piece in chain.stream({"history": recent, "question": question}):
        print(piece, end="", flush=True)
        answer += piece
    print()
    history += [HumanMessage(question), AIMessage(answer)]
    return answer


def main() -> None:
    model = ChatAIChatFree()
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "You are a friendly assistant. Answer in one sentence."),
            MessagesPlaceholder("history"),
            ("human", "{question}"),
        ]
    )
    chain = prompt | model | StrOutputParser()

    for question in ["Hi! My name is Ada.", "What is my name?"]:
        print(f"ada: {question}\nbot: ", end="")
        chat(chain, model, "ada", question)

    # Another session starts from scratch.
    print("bob: What is my name?\nbot: ", end="")
    chat(chain, model, "bob", "What is my name?")

    for session_id, history in histories.items():
        print(f"history {session_id!r}: {len(history)} messages")
    model.close()


if __name__ == "__main__":
    main()
