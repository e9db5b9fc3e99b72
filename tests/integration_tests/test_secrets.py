"""The site password appears nowhere but in the request body it is meant for."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run

from langchain_aichatfree import AIChatFreeError, ChatAIChatFree
from langchain_aichatfree.testing import UPSTREAM_ERRORS, LocalServer, Reply

PASSWORD = "PW-7f3a9c-recognisable"


class Everything(BaseCallbackHandler):
    """Records every callback's arguments."""

    def __init__(self) -> None:
        self.payloads: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("on_"):

            def record(*args: Any, **kwargs: Any) -> None:
                self.payloads.append(repr((name, args, kwargs)))

            return record
        return super().__getattribute__(name)


class Recorder(BaseTracer):
    """A tracer that keeps every run, as LangSmith would receive it."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[str] = []

    def _persist_run(self, run: Run) -> None:
        self.runs.append(run.model_dump_json())

    def _end_trace(self, run: Run) -> None:
        self.runs.append(run.model_dump_json())
        super()._end_trace(run)


def test_password_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with LocalServer(passwords=PASSWORD) as server:
        model = ChatAIChatFree(base_url=server.url, password=PASSWORD, max_retries=1)
        server.script(
            Reply(error=UPSTREAM_ERRORS["upstream_503"]),  # a retry, logged
            "fine",
            Reply(error=UPSTREAM_ERRORS["api_key_invalid"]),
        )
        callbacks = Everything()
        tracer = Recorder()
        config: Any = {"callbacks": [callbacks, tracer]}
        answer = model.invoke("hello", config=config)
        texts = [answer.model_dump_json()]
        errors: list[BaseException] = []
        with pytest.raises(AIChatFreeError) as info:
            model.invoke("again", config=config)
        errors.append(info.value)
        wrong = ChatAIChatFree(base_url=server.url, password=PASSWORD + "x")
        with pytest.raises(AIChatFreeError) as info:
            list(wrong.stream("x", config=config))
        errors.append(info.value)
        unreachable = ChatAIChatFree(
            base_url="http://127.0.0.1:9", password=PASSWORD, max_retries=0
        )
        with pytest.raises(AIChatFreeError) as info:
            unreachable.invoke("x")
        errors.append(info.value)

        sent = [r.payload["pass"] for r in server.requests]
        model.close()
        wrong.close()
        unreachable.close()

    assert PASSWORD in sent  # it was used where it belongs...
    texts += [repr(model), str(model), model.model_dump_json(), dumps(model)]
    texts += [json.dumps(dumpd(model)), json.dumps(model._get_ls_params())]
    texts += [json.dumps(model._get_invocation_params())]
    texts += [f"{e!r} {e} {e.body} {e.__cause__!r}" for e in errors]  # type: ignore[attr-defined]
    texts += [r.getMessage() + repr(r.args) for r in caplog.records]
    texts += callbacks.payloads + tracer.runs
    assert any("Retrying" in r.getMessage() for r in caplog.records)
    assert len(callbacks.payloads) > 5
    assert tracer.runs
    for text in texts:  # ...and nowhere else
        assert PASSWORD not in text
