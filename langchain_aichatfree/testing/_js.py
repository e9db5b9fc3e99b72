"""How the real (Node) server turns JSON values into strings and bytes.

The signature covers ``f"{time}:{text}:{secret}"`` as JavaScript builds it, so the
local server has to print values the way JavaScript does: ``String(1.0e12)`` is
``"1000000000000"``, ``String(null)`` is ``"null"``, a missing key is
``"undefined"``, and ``[a, b].join("")`` prints ``null`` and ``undefined`` as
nothing. Pure functions, no I/O.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any, Final


class _Undefined:
    """JavaScript's ``undefined``: what reading a missing key gives."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED: Final = _Undefined()

_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def get(value: Any, key: str) -> Any:
    """Read ``value[key]`` like JavaScript's property access on a JSON value.

    Args:
        value: A parsed JSON value other than ``null`` (reading a property of
            ``null`` is a ``TypeError`` in JavaScript; callers check first).
        key: The property name.

    Returns:
        The value, or ``UNDEFINED`` when there is no such property.
    """
    if isinstance(value, dict):
        return value.get(key, UNDEFINED)
    return UNDEFINED


def is_falsy(value: Any) -> bool:
    """Return whether JavaScript would treat a JSON value as false."""
    if value is UNDEFINED or value is None or value is False:
        return True
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value == 0
    return isinstance(value, str) and not value


def number_to_string(value: float) -> str:
    """Print a number like JavaScript's ``String(number)``.

    Args:
        value: The number, as JavaScript holds it (a double).

    Returns:
        ``"1"`` for ``1.0``, ``"1.5"``, ``"1e+21"``, ``"1e-7"``, ``"Infinity"``...
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    if value < 0:
        return "-" + number_to_string(-value)
    # repr() gives the shortest digits that round-trip, as ECMAScript asks.
    decimal = Decimal(repr(value)).normalize()
    _, digit_tuple, exponent = decimal.as_tuple()
    if not isinstance(exponent, int):  # pragma: no cover - finite by now
        raise ValueError(f"not a finite number: {value!r}")
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = exponent + k
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return f"{digits[:n]}.{digits[n:]}"
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    suffix = f"e{'+' if e >= 0 else '-'}{abs(e)}"
    if k == 1:
        return digits + suffix
    return f"{digits[0]}.{digits[1:]}{suffix}"


def to_string(value: Any) -> str:
    """Convert a parsed JSON value (or ``UNDEFINED``) like JavaScript's ``String()``.

    Args:
        value: A value from ``json.loads`` or ``UNDEFINED``.

    Returns:
        The string JavaScript would build, e.g. in a template literal.
    """
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        try:
            return number_to_string(float(value))
        except OverflowError:  # JSON.parse makes such a literal Infinity
            return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, float):
        return number_to_string(value)
    if isinstance(value, list):
        return join(value, ",")
    return "[object Object]"


def join(values: list[Any], separator: str) -> str:
    """Join values like JavaScript's ``Array.prototype.join``.

    Args:
        values: The array elements; ``null`` and ``undefined`` print as nothing.
        separator: The separator.

    Returns:
        The joined string.
    """
    return separator.join(
        "" if value is None or value is UNDEFINED else to_string(value)
        for value in values
    )


def encode_utf8(text: str) -> bytes:
    """Encode like JavaScript's ``TextEncoder``: lone surrogates become U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    """Parse a request body like ``await request.json()`` in the real server.

    The body is decoded as UTF-8 (bad bytes become U+FFFD, a leading BOM is
    dropped) and parsed strictly: ``NaN`` and ``Infinity`` are rejected, as
    ``JSON.parse`` rejects them.

    Args:
        body: The raw request body.

    Returns:
        The parsed value.

    Raises:
        ValueError: The body is not JSON.
    """
    text = body.decode("utf-8", errors="replace").removeprefix("\ufeff")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError as e:
        raise ValueError("JSON nested too deeply") from e


def dumps(value: Any) -> bytes:
    """Serialise like ``JSON.stringify`` (compact, non-ASCII kept), as UTF-8.

    Args:
        value: A JSON-compatible value.

    Returns:
        The UTF-8 bytes.
    """
    return encode_utf8(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
