"""The one builder of table-driven errors: a row's class, message and status.

The failures met on the way to an answer (`_failures`), the ways a site probe
gives up (`_probe_failures`) and the upstream failures a deployment passes on
(`_status`) are each a table of `ErrorRow`; `error_from_row` builds the error
of any row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_aichatfree.errors._advice import Advice, with_advice
from langchain_aichatfree.errors._classes import AIChatFreeError


@dataclass(frozen=True, slots=True)
class ErrorRow:
    """One row of an error table.

    Attributes:
        cls: The class of the error.
        template: Its message, a `str.format` template of the row's fields.
        status: The HTTP status it carries, unless the caller gives one (200
            once an answer had begun).
        advice: What the caller can do, appended to the message.
    """

    cls: type[AIChatFreeError]
    template: str
    status: int | None = None
    advice: Advice | None = None


def error_from_row(
    row: ErrorRow, fields: Mapping[str, object], **attributes: Any
) -> AIChatFreeError:
    """Build the error of one table row.

    Args:
        row: The row.
        fields: The values its template names.
        **attributes: The attributes of the row's class (`status_code` if the
            caller knows it, else the row's; `partial_text`, `body`,
            `retry_after`, a probe's `url`, ...).

    Returns:
        The error, its message filled in and followed by the row's advice.
    """
    attributes.setdefault("status_code", row.status)
    if row.advice is not None:
        attributes["advice"] = row.advice
    return row.cls(
        with_advice(row.template.format_map(fields), row.advice), **attributes
    )
