"""The Redis store's key layout and scripts (no Redis needed)."""

from __future__ import annotations

import pytest

from langchain_aichatfree._quota_redis_scripts import (
    ACQUIRE,
    COOL_DOWN,
    MERGE_COUNTS,
    RELEASE,
    STATUS,
    group_keys,
)


def test_group_keys_follow_the_documented_layout() -> None:
    keys = group_keys("aichatfree:", "proj-a")
    assert keys.cool == "aichatfree:proj-a:cool"
    assert keys.lease == "aichatfree:proj-a:lease"
    assert keys.rpm == "aichatfree:proj-a:rpm"
    assert keys.rpd("2026-11-30") == "aichatfree:proj-a:rpd:2026-11-30"
    assert keys.out == "aichatfree:proj-a:out"


@pytest.mark.parametrize("script", [ACQUIRE, COOL_DOWN, STATUS])
def test_scripts_that_need_the_time_read_it_the_same_way(script: str) -> None:
    assert "local now = tonumber(ARGV[1])" in script
    assert "redis.call('TIME')" in script


@pytest.mark.parametrize("script", [ACQUIRE, COOL_DOWN, RELEASE, STATUS, MERGE_COUNTS])
def test_every_script_names_its_keys_and_arguments(script: str) -> None:
    assert "-- KEYS:" in script
