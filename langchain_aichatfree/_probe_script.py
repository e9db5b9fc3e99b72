"""Reading a deployment's chat script (JavaScript): its family and its secret.

Pure functions, no I/O; `_probe` finds the scripts in the page and `_site`
fetches them. The chat script was built with the deployment's settings baked in
(PROTOCOL.md, "The site around the API"):

* it signs requests with ``generateSignature``, whose secret is inlined::

      const generateSignature=async r=>{const{t:e,m:t}=r,a=`${e}:${t}:s3cret-test`;...}

  or, with no secret set at build time, read from an empty ``env`` object::

      ...,n={}.PUBLIC_SECRET_KEY||"",a=`${e}:${t}:${n}`;...

* what it sends tells the family apart: ``parts:[{text}]`` with the roles
  ``user``/``model`` (GeminiProChat) or ``{role, content}`` (chatgpt-demo).

The secret is read by a small reader of the few JavaScript forms a build
produces (template literals, string literals with escapes, ``||`` fallbacks,
``void 0`` and the env object), never by running the script.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from langchain_aichatfree._probe import Dialect

__all__ = ["SecretSearch", "detect_dialect", "find_secret", "sends_to_api"]

_SIGNATURE_NAME: Final = "generateSignature"
_SIGNATURE_WINDOW: Final = 800
"""Characters after the function's name searched for its template literal."""

_SIGNED_TEMPLATE: Final = re.compile(r"`\$\{([\w$]+)\}:\$\{([\w$]+)\}:")
"""The start of `${time}:${text}:...`, whatever the minifier named the variables."""

_GEMINI_PARTS: Final = re.compile(r"parts\s*:\s*\[\s*\{\s*text\s*:")
_GEMINI_MODEL: Final = re.compile(r"""["'`]model["'`]""")
_OPENAI_TURN: Final = re.compile(
    r"""role\s*:\s*["'`](?:assistant|system)["'`]\s*,\s*content\s*:"""
)
_GENERATE_CALL: Final = re.compile(r"""["'`]/api/generate["'`]""")
_EXCERPT: Final = 160
"""Characters of a signing function quoted when its secret cannot be read."""


def detect_dialect(script: str) -> Dialect | None:
    """Recognise the web app family from what its chat script sends.

    GeminiProChat sends ``parts: [{text}]`` with the roles ``user`` and
    ``model`` (its own message list still says ``assistant``, so this is checked
    first); chatgpt-demo sends ``{role, content}`` turns with ``assistant`` and
    ``system`` roles.

    Args:
        script: A script's text.

    Returns:
        The dialect, or ``None`` if the script is neither family's chat script.
    """
    if _GEMINI_PARTS.search(script) and _GEMINI_MODEL.search(script):
        return "gemini"
    if _OPENAI_TURN.search(script):
        return "chatgpt-demo"
    return None


def sends_to_api(script: str) -> bool:
    """Whether a script posts to ``/api/generate`` (the chat script does)."""
    return _GENERATE_CALL.search(script) is not None


@dataclass(frozen=True, slots=True)
class SecretSearch:
    """What a script says about the signing secret.

    Attributes:
        secrets: The secrets read from its signing functions (normally one).
        unreadable: Excerpts of signing functions whose secret could not be
            read (a shape this reader does not know).
    """

    secrets: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = field(default=())

    @property
    def found_function(self) -> bool:
        """Whether the script has a signing function at all."""
        return bool(self.secrets or self.unreadable)


class _Unreadable(ValueError):
    """A piece of the minified code this reader cannot evaluate."""


def find_secret(script: str) -> SecretSearch:
    """Read the signing secret from a chat script's ``generateSignature``.

    Both shapes the real builds produce are read, whatever the minifier named
    the variables: the secret inlined in the template literal
    (``a=`${e}:${t}:s3cret-test```), and a variable set from the build's env
    object (``n={}.PUBLIC_SECRET_KEY||"",a=`${e}:${t}:${n}```), which gives the
    empty secret ("" from the ``||""`` fallback; JavaScript's ``"undefined"``
    without one, as the server computes it too). A secret set in the env object
    (``{PUBLIC_SECRET_KEY:"k"}.PUBLIC_SECRET_KEY``) and string literals with
    JavaScript escapes are read too.

    Args:
        script: A script's text.

    Returns:
        The secrets found (distinct, in order) and the excerpts of signing
        functions that could not be read.
    """
    secrets: list[str] = []
    unreadable: list[str] = []
    start = 0
    while (at := script.find(_SIGNATURE_NAME, start)) >= 0:
        start = at + len(_SIGNATURE_NAME)
        window = script[at : at + _SIGNATURE_WINDOW]
        match = _SIGNED_TEMPLATE.search(window)
        if match is None:
            continue  # a call site, or the name in another context
        if not _is_definition(script, at):
            continue  # a use: `sign:await generateSignature({t:i,m:s})`
        body = window[: match.start()]
        try:
            parts, _ = _read_template(window, match.start() + 1)
            secret = _template_secret(_after_time_and_text(parts), body)
        except _Unreadable:
            excerpt = window[: max(match.end() + 40, _EXCERPT)]
            unreadable.append(" ".join(excerpt.split())[:_EXCERPT])
            continue
        if secret not in secrets:
            secrets.append(secret)
    return SecretSearch(tuple(secrets), tuple(unreadable))


_FUNCTION_BEFORE: Final = re.compile(r"\bfunction\s*\*?\s*$")


def _is_definition(script: str, at: int) -> bool:
    """Whether the name at `at` is being defined (`name=`, `name:`, `function name`)."""
    after = script[at + len(_SIGNATURE_NAME) : at + len(_SIGNATURE_NAME) + 8].lstrip()
    if after.startswith((":", "=")) and not after.startswith(("==", "=>")):
        return True
    return _FUNCTION_BEFORE.search(script[max(0, at - 24) : at]) is not None


def _after_time_and_text(parts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The parts of `${time}:${text}:REST` that make REST (the secret)."""
    # parts: expr, ":", expr, ":REST..." (the regex matched this much)
    kind, text = parts[3]
    rest = text[1:]
    return ([(kind, rest)] if rest else []) + parts[4:]


def _template_secret(parts: Sequence[tuple[str, str]], body: str) -> str:
    """The text after ``${time}:${text}:``, with its ``${...}`` evaluated."""
    pieces = []
    for kind, value in parts:
        if kind == "text":
            pieces.append(_cook(value))
        else:
            pieces.append(_js_string(_evaluate(value.strip(), body)))
    return "".join(pieces)


def _read_template(text: str, start: int) -> tuple[list[tuple[str, str]], int]:
    """Split a template literal (opened just before `start`) into its parts.

    Returns:
        ``[("text", raw) | ("expr", source), ...]`` and the index after the
        closing backtick.

    Raises:
        _Unreadable: The literal does not end inside `text`.
    """
    parts: list[tuple[str, str]] = []
    raw: list[str] = []
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            raw.append(text[index : index + 2])
            index += 2
        elif char == "`":
            if raw:
                parts.append(("text", "".join(raw)))
            return parts, index + 1
        elif text.startswith("${", index):
            if raw:
                parts.append(("text", "".join(raw)))
                raw = []
            end = _expression_end(text, index + 2)
            parts.append(("expr", text[index + 2 : end]))
            index = end + 1
        else:
            raw.append(char)
            index += 1
    raise _Unreadable("unterminated template literal")


def _expression_end(text: str, start: int) -> int:
    """The index of the ``}`` that closes a ``${`` whose inside starts at `start`."""
    return _closing_brace(text, start, "${...}")


def _object_end(text: str, start: int) -> int:
    """The index after the object literal that opens at `start`."""
    return _closing_brace(text, start + 1, "object literal") + 1


def _closing_brace(text: str, start: int, what: str) -> int:
    """The index of the ``}`` closing a brace opened just before `start`.

    Braces inside string literals do not count.

    Raises:
        _Unreadable: The brace is not closed inside `text`.
    """
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char in "\"'":
            index = _string_end(text, index)
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return index
            depth -= 1
        index += 1
    raise _Unreadable(f"unterminated {what}")


def _string_end(text: str, start: int) -> int:
    """The index after the string literal that starts at `start`."""
    quote = text[start]
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
        elif char == quote:
            return index + 1
        elif char == "\n":
            break
        else:
            index += 1
    raise _Unreadable("unterminated string literal")


_UNDEFINED: Final = object()
"""JavaScript's `undefined`, as an evaluated value."""

_STRING_AT: Final = re.compile(r"""\s*(["'])""")
_ENV_READ: Final = re.compile(r"\s*\.\s*PUBLIC_SECRET_KEY\b")
_FALLBACK: Final = re.compile(r"""\s*\|\|\s*""")


def _evaluate(source: str, body: str) -> object:
    """The value of a ``${...}`` expression: a literal, or a variable of `body`."""
    if re.fullmatch(r"[\w$]+", source):
        if source == "undefined":
            return _UNDEFINED
        return _variable(source, body)
    value, end = _expression(source, 0)
    if source[end:].strip():
        raise _Unreadable(f"cannot evaluate ${{{source}}}")
    return value


def _variable(name: str, body: str) -> object:
    """The value the function assigns to `name` (its last assignment before use)."""
    pattern = re.compile(rf"(?<![\w$.]){re.escape(name)}\s*=(?![=>])")
    matches = list(pattern.finditer(body))
    if not matches:
        raise _Unreadable(f"no assignment to {name}")
    value, _ = _expression(body, matches[-1].end())
    return value


def _expression(text: str, start: int) -> tuple[object, int]:
    """Evaluate ``operand ( || operand )*`` at `start`; return it and its end."""
    value, index = _operand(text, start)
    while match := _FALLBACK.match(text, index):
        other, index = _operand(text, match.end())
        if value is _UNDEFINED or value == "":
            value = other
    return value, index


def _operand(text: str, start: int) -> tuple[object, int]:
    """A string literal, ``void 0``, or ``{...}.PUBLIC_SECRET_KEY``."""
    stripped = len(text[start:]) - len(text[start:].lstrip())
    index = start + stripped
    if _STRING_AT.match(text, index):
        end = _string_end(text, index)
        return _cook(text[index + 1 : end - 1]), end
    if text.startswith("void 0", index):
        return _UNDEFINED, index + len("void 0")
    if text.startswith("{", index):
        end = _object_end(text, index)
        read = _ENV_READ.match(text, end)
        if read is None:
            raise _Unreadable("an object that is not the build's env")
        found = re.search(
            r"""(?:^|[{,])\s*["']?PUBLIC_SECRET_KEY["']?\s*:\s*(["'])""",
            text[index:end],
        )
        if found is None:
            return _UNDEFINED, read.end()
        literal = index + found.start(1)
        return _cook(text[literal + 1 : _string_end(text, literal) - 1]), read.end()
    raise _Unreadable(f"cannot evaluate {text[index : index + 40]!r}")


def _js_string(value: object) -> str:
    """How a template literal prints an evaluated value."""
    if value is _UNDEFINED:
        return "undefined"
    assert isinstance(value, str)  # noqa: S101 - only strings and undefined exist
    return value


_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}
_ESCAPE: Final = re.compile(
    r"\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|\r\n|[\s\S])"
)


def _cook(raw: str) -> str:
    """The value of a string or template literal's raw text (JavaScript escapes)."""

    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape[0] in "ux" and len(escape) > 1:
            digits = escape[1:].strip("{}")
            return chr(int(digits, 16))
        if escape in ("\n", "\r", "\r\n", "\u2028", "\u2029"):
            return ""  # a line continuation
        if escape == "0":
            return "\0"
        return _ESCAPES.get(escape, escape)

    return _ESCAPE.sub(replace, raw)
