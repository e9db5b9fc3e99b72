"""The chat session (`_cli_chat`): the conversation kept, /commands, /save and /load."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from langchain_aichatfree._cli_chat import ChatSession, run_chat_command


def test_session_save_and_load_round_trip(tmp_path: Path) -> None:
    session = ChatSession(system="Be brief.")
    session.add_exchange("Hi", "Hello!")
    path = tmp_path / "chat.json"
    assert session.save(path) == 3
    other = ChatSession()
    assert other.load(path) == 3
    assert other == session
    assert [type(m) for m in other.to_messages()] == [
        SystemMessage,
        HumanMessage,
        AIMessage,
    ]


def test_session_load_rejects_other_json(tmp_path: Path) -> None:
    session = ChatSession(system="kept")
    path = tmp_path / "not-a-chat.json"
    for content in ('{"a": 1}', '[{"type": "nonsense"}]', "[1, 2]"):
        path.write_text(content)
        with pytest.raises(ValueError, match="not a conversation"):
            session.load(path)
    assert session == ChatSession(system="kept")


@pytest.mark.parametrize(
    ("lines", "printed", "system", "turns"),
    [
        (["/help"], "/save FILE", "kept", 2),
        (["/reset"], "Conversation cleared (system instructions kept).", "kept", 0),
        (["/system"], "System instructions: 'kept'", "kept", 2),
        (["/system -"], "System instructions removed.", None, 2),
        (["/system -", "/reset"], "Conversation cleared.", None, 0),
        (["/system -", "/system"], "No system instructions.", None, 2),
        (["/system  Be a pirate "], "System instructions set.", "Be a pirate", 2),
    ],
)
def test_chat_commands(
    lines: list[str],
    printed: str,
    system: str | None,
    turns: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    session = ChatSession(system="kept")
    session.add_exchange("Hi", "Hello!")
    for line in lines:
        assert run_chat_command(line, session) is True
    assert printed in capsys.readouterr().out
    assert (session.system, len(session.history)) == (system, turns)


@pytest.mark.parametrize("line", ["/exit", "/quit", "/exit now"])
def test_chat_commands_that_end_the_session(line: str) -> None:
    assert run_chat_command(line, ChatSession()) is False


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("/save", "aichatfree: error: /save needs a file name"),
        ("/load", "aichatfree: error: /load needs a file name"),
        ("/nope", "aichatfree: unknown command /nope; /help lists them"),
    ],
)
def test_chat_command_mistakes_are_said_and_the_session_goes_on(
    line: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_chat_command(line, ChatSession()) is True
    assert said in capsys.readouterr().err


def test_save_and_load_failures_are_said_and_change_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = ChatSession(system="kept")
    missing = tmp_path / "missing.json"
    assert run_chat_command(f"/load {missing}", session) is True
    err = capsys.readouterr().err
    assert f"aichatfree: error: /load {missing}: No such file or directory" in err
    (tmp_path / "bad.json").write_text("[1]")
    run_chat_command(f"/load {tmp_path / 'bad.json'}", session)
    assert "not a conversation" in capsys.readouterr().err
    run_chat_command(f"/save {tmp_path / 'no-dir' / 'x.json'}", session)
    assert "No such file or directory" in capsys.readouterr().err
    assert session == ChatSession(system="kept")


def test_save_then_load_through_the_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = ChatSession(system="Be brief.")
    session.add_exchange("Hi", "Hello!")
    path = tmp_path / "chat.json"
    run_chat_command(f"/save {path}", session)
    other = ChatSession()
    run_chat_command(f"/load {path}", other)
    out = capsys.readouterr().out
    assert f"Saved 3 messages to {path}." in out
    assert f"Loaded 3 messages from {path}." in out
    assert other == session


def test_messages_for_a_question() -> None:
    session = ChatSession(system="Be brief.")
    session.add_exchange("Hi", "Hello!")
    assert session.messages_for("And?") == [
        SystemMessage("Be brief."),
        HumanMessage("Hi"),
        AIMessage("Hello!"),
        HumanMessage("And?"),
    ]
    assert ChatSession().messages_for("Q") == [HumanMessage("Q")]
