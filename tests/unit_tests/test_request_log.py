"""`testing/_request_log.py`: records added, replaced by copies; disconnects counted."""

from __future__ import annotations

import threading

from langchain_aichatfree.testing._request_log import RecordedRequest, RequestLog


def record(**changes: object) -> RecordedRequest:
    base = RecordedRequest(
        time=1.0,
        path="/api/generate",
        headers={},
        body=b"{}",
        payload={},
        status=200,
        connection=1,
        outcome="pending",
    )
    return RecordedRequest(**{**base.__dict__, **changes})


def test_add_appends_and_returns_the_record() -> None:
    log = RequestLog(threading.Lock())
    first = record()
    assert log.add(first) is first
    assert log.records == [first]


def test_update_replaces_the_record_by_a_copy_and_keeps_the_old_one_intact() -> None:
    log = RequestLog(threading.Lock())
    first, second = log.add(record()), log.add(record(connection=2))
    done = log.update(first, outcome="ok")
    assert log.records == [done, second]
    assert (done.outcome, first.outcome) == ("ok", "pending")


def test_update_of_a_record_no_longer_logged_changes_nothing() -> None:
    log = RequestLog(threading.Lock())
    first = log.add(record())
    log.records.clear()
    assert log.update(first, outcome="ok").outcome == "ok"
    assert log.records == []


def test_a_client_leaving_is_counted_and_recorded() -> None:
    log = RequestLog(threading.Lock())
    first = log.add(record())
    left = log.client_left(first)
    assert log.disconnects == 1
    assert left.outcome == "client_disconnected"
    assert log.records == [left]
