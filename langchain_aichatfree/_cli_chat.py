"""``aichatfree chat``: the interactive session, its /commands, /save and /load.

Each turn streams like ``ask`` (`stream_answer`); only complete exchanges are
kept. Ctrl-C stops the answer being written (it is not kept in the
conversation), Ctrl-D or ``/exit`` ends the session.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from langchain_aichatfree._cli_ask import (
    conversation,
    deadline,
    model_pieces,
    stream_answer,
)
from langchain_aichatfree._cli_model import make_model
from langchain_aichatfree._cli_report import (
    PROG,
    ExitCode,
    LineTrackingWriter,
    one_line,
    report_error,
)

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from langchain_aichatfree.chat_models import ChatAIChatFree

CHAT_HELP: Final = """\
Commands:
  /reset         forget the conversation (the system instructions stay)
  /system TEXT   set the system instructions; /system shows them, /system - removes
  /save FILE     save the conversation (and system instructions) as JSON
  /load FILE     replace the conversation with one saved by /save
  /help          this help
  /exit          leave (or Ctrl-D)
Ctrl-C stops an answer; it is then not kept. Start a message with // to send
one that begins with a slash."""


@dataclass
class ChatSession:
    """An interactive conversation: the system instructions and the turns.

    Only complete exchanges are kept: a question whose answer failed or was
    interrupted is dropped with its partial answer.

    Attributes:
        system: The system instructions, if any.
        history: The completed turns, human and AI messages alternating.
    """

    system: str | None = None
    history: list[BaseMessage] = field(default_factory=list)

    def messages_for(self, question: str) -> list[BaseMessage]:
        """The conversation to send for a new question."""
        return conversation(self.system, self.history, question)

    def add_exchange(self, question: str, answer: str) -> None:
        """Keep a question and its complete answer."""
        from langchain_core.messages import AIMessage, HumanMessage

        self.history += [HumanMessage(question), AIMessage(answer)]

    def to_messages(self) -> list[BaseMessage]:
        """Everything there is to save: the system message first, if any."""
        from langchain_core.messages import SystemMessage

        head: list[BaseMessage] = [SystemMessage(self.system)] if self.system else []
        return [*head, *self.history]

    def save(self, path: Path) -> int:
        """Write the conversation as JSON (`messages_to_dict`); return its size."""
        from langchain_core.messages import messages_to_dict

        messages = self.to_messages()
        text = json.dumps(messages_to_dict(messages), ensure_ascii=False, indent=2)
        path.write_text(text + "\n", encoding="utf-8")
        return len(messages)

    def load(self, path: Path) -> int:
        """Replace the conversation with a saved one; return its size.

        Raises:
            ValueError: The file does not hold a saved conversation (the
                session is then unchanged).
        """
        from langchain_core.messages import SystemMessage, messages_from_dict

        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise ValueError("not a conversation: expected a JSON list of messages")
        try:
            messages = messages_from_dict(data)
        except (KeyError, TypeError, ValueError) as e:
            msg = f"not a conversation saved by /save ({type(e).__name__}: {e})"
            raise ValueError(msg) from e
        system = None
        if messages and isinstance(messages[0], SystemMessage):
            system = messages[0].text
            messages = messages[1:]
        self.system, self.history = system, list(messages)
        return len(data)


def run_chat_command(line: str, session: ChatSession) -> bool:
    """Run a /command typed in the session.

    Args:
        line: The line typed, starting with its /command.
        session: The session it acts on.

    Returns:
        False when the session should end.
    """
    name, _, rest = line.partition(" ")
    rest = rest.strip()
    if name in ("/exit", "/quit"):
        return False
    if name == "/help":
        print(CHAT_HELP)
    elif name == "/reset":
        session.history.clear()
        kept = " (system instructions kept)" if session.system else ""
        print(f"Conversation cleared{kept}.")
    elif name == "/system":
        _set_system(rest, session)
    elif name in ("/save", "/load"):
        _save_or_load(name, rest, session)
    else:
        print(
            f"{PROG}: unknown command {name}; /help lists them (// sends a "
            "message that starts with a slash)",
            file=sys.stderr,
        )
    return True


def _set_system(text: str, session: ChatSession) -> None:
    """``/system``: show (no text), remove (``-``) or set the instructions."""
    if not text:
        print(
            f"System instructions: {session.system!r}"
            if session.system
            else "No system instructions."
        )
    elif text == "-":
        session.system = None
        print("System instructions removed.")
    else:
        session.system = text
        print("System instructions set.")


def _save_or_load(name: str, file_name: str, session: ChatSession) -> None:
    """``/save FILE`` or ``/load FILE``; a failure is said, the session goes on."""
    if not file_name:
        print(f"{PROG}: error: {name} needs a file name", file=sys.stderr)
        return
    path = Path(file_name).expanduser()
    try:
        if name == "/save":
            print(f"Saved {session.save(path)} messages to {path}.")
        else:
            loaded = session.load(path)
            print(f"Loaded {loaded} messages from {path}.")
    except (OSError, ValueError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        print(f"{PROG}: error: {name} {path}: {one_line(reason)}", file=sys.stderr)


def _chat_turn(
    model: ChatAIChatFree,
    session: ChatSession,
    question: str,
    *,
    verbose: bool,
    seconds: float | None = None,
) -> None:
    """Ask one question in the session, keeping the exchange only if complete."""
    from langchain_aichatfree.errors import AIChatFreeError

    out = LineTrackingWriter(sys.stdout)
    try:
        messages = session.messages_for(question)
        answer = stream_answer(
            model,
            lambda: model_pieces(model, messages),
            out,
            seconds=seconds,
            notice=not verbose,
        )
    except KeyboardInterrupt:
        out.end_line()
        print("[interrupted: this answer is not kept in the conversation]", flush=True)
        return
    except (AIChatFreeError, ValueError) as e:
        report_error(e, verbose=verbose, out=out)
        print("(Not kept in the conversation; the session goes on.)", file=sys.stderr)
        return
    out.end_line()
    session.add_exchange(question, answer)
    print()


def _enable_line_editing() -> None:
    """Arrow keys and history for input(), where the platform has readline."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401 - importing it is what enables it


def run_chat(args: argparse.Namespace, out: LineTrackingWriter) -> ExitCode:
    """Hold an interactive session until Ctrl-D or ``/exit``.

    Args:
        args: The parsed flags of ``chat``.
        out: The command's stdout writer (each turn writes through its own).

    Returns:
        `ExitCode.OK`: a failed turn is reported and the session goes on.
    """
    model = make_model(args)
    session = ChatSession(system=args.system)
    interactive = sys.stdin.isatty()
    if interactive:
        _enable_line_editing()
        print(
            f"Chatting with {model.base_url} ({model.dialect}). /help lists the "
            "commands; Ctrl-C stops an answer, Ctrl-D exits.",
            flush=True,
        )
    prompt = "> " if interactive else ""
    try:
        while True:
            try:
                line = input(prompt)
            except EOFError:
                if interactive:
                    print()
                return ExitCode.OK
            except KeyboardInterrupt:
                print("\n(Ctrl-D or /exit leaves the session.)", flush=True)
                continue
            line = line.strip()
            if not line:
                continue
            if line.startswith("/") and not line.startswith("//"):
                if not run_chat_command(line, session):
                    return ExitCode.OK
                continue
            question = line[1:] if line.startswith("//") else line
            _chat_turn(
                model, session, question, verbose=args.verbose, seconds=deadline(args)
            )
    finally:
        model.close()
