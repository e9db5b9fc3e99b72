"""``aichatfree probe`` and ``aichatfree status``: what a site needs, how a pool is.

``probe URL`` reads a site (`_site.probe_site`) and prints the settings found
as environment lines and as Python (``--check``: after one tiny signed
question); ``status`` prints each deployment's quota state.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from typing import TYPE_CHECKING, Any, Final

from langchain_aichatfree import _sync
from langchain_aichatfree._cli_model import make_model, password_from
from langchain_aichatfree._cli_report import (
    ExitCode,
    LineTrackingWriter,
    error_details,
    exit_code_for,
    one_line,
    report_error,
    say,
)
from langchain_aichatfree._constants import (
    DEFAULT_CHUNK_TIMEOUT,
    ENV_BASE_URL,
    ENV_DIALECT,
    ENV_PASSWORD,
    ENV_SECRET,
)

if TYPE_CHECKING:
    from langchain_aichatfree._probe import SiteSettings
    from langchain_aichatfree.errors import AIChatFreeError

CHECK_QUESTION: Final = "Reply with the single word OK."
"""The one tiny question ``probe --check`` sends."""


def run_status(args: argparse.Namespace, out: LineTrackingWriter) -> ExitCode:
    """Print each deployment's quota state, as a table or one JSON list.

    Args:
        args: The parsed flags of ``status``.
        out: Where the states go (stdout).

    Returns:
        `ExitCode.OK` (failures are raised).
    """
    from langchain_aichatfree._pool_file import format_status

    model = make_model(args)
    try:
        rows = model.quota_status()
    finally:
        model.close()
    if args.json:
        out.write(json.dumps(rows) + "\n")
    else:
        out.write(format_status(rows) + "\n")
    return ExitCode.OK


def run_probe(args: argparse.Namespace, out: LineTrackingWriter) -> ExitCode:
    """Probe a site; print what it needs, and whether the password is accepted.

    Args:
        args: The parsed flags of ``probe``.
        out: Where the report (or ``--json``'s object) goes.

    Returns:
        The exit status: `ExitCode.AUTH` if the site refused the password,
        the ``--check`` failure's, or `ExitCode.OK`.
    """
    from langchain_aichatfree._site import probe_options, probe_site
    from langchain_aichatfree.errors import APIConnectionError

    password = password_from(args)
    finite = args.timeout is not None and math.isfinite(args.timeout)
    options = probe_options(
        timeout=args.timeout if finite else None,
        chunk_timeout=DEFAULT_CHUNK_TIMEOUT,
        verify_ssl=True,
        proxy=None,
    )
    try:
        settings = _sync.run(probe_site(args.url, password=password, options=options))
    except APIConnectionError as e:
        return _report_unreachable(e, args, out)
    check: dict[str, Any] | None = None
    failure: BaseException | None = None
    if args.check:
        check, failure = _check_site(settings, password, args.timeout)
    if args.json:
        out.write_json({**settings.to_dict(), "check": check})
    else:
        out.write(probe_report(settings, check))
    if failure is not None and not args.json:
        return report_error(failure, verbose=args.verbose, out=out)
    if failure is not None:
        return exit_code_for(failure)
    if settings.password_accepted is False:
        say(f"the site refused the password given; check {ENV_PASSWORD}.")
        return ExitCode.AUTH
    return ExitCode.OK


def _report_unreachable(
    error: AIChatFreeError, args: argparse.Namespace, out: LineTrackingWriter
) -> ExitCode:
    """The site could not be reached: say so, and that the URL is to check."""
    code = exit_code_for(error)
    message = (
        f"network error: {one_line(error.message).rstrip('.')}. Check the URL "
        "and your connection."
    )
    if args.verbose:
        import traceback

        traceback.print_exception(error, file=sys.stderr)
    if args.json:
        details = {"type": type(error).__name__, "message": message}
        out.write(json.dumps({"error": {**details, "exit_code": int(code)}}) + "\n")
    say(message)
    return code


def _check_site(
    settings: SiteSettings, password: str | None, timeout: float | None
) -> tuple[dict[str, Any], BaseException | None]:
    """Ask the site one tiny signed question; say whether it answered."""
    from pydantic import SecretStr

    from langchain_aichatfree.chat_models import ChatAIChatFree
    from langchain_aichatfree.errors import AIChatFreeError

    model = ChatAIChatFree(
        base_url=settings.base_url,
        dialect=settings.dialect,
        secret=settings.secret,
        password=SecretStr(password) if password is not None else None,
        max_retries=0,
        timeout=timeout,
    )
    try:
        answer = model.invoke(CHECK_QUESTION)
    except (AIChatFreeError, ValueError) as e:
        return {"answered": False, "error": error_details(e)}, e
    finally:
        model.close()
    return {"answered": True, "text": answer.text}, None


def probe_report(settings: SiteSettings, check: dict[str, Any] | None) -> str:
    """What the probe found, then the settings as environment lines and Python.

    Args:
        settings: What the probe found.
        check: ``--check``'s outcome, if it was asked for.

    Returns:
        The report, lines ending in newlines.
    """
    from langchain_aichatfree._probe import FAMILY_NAMES

    family = FAMILY_NAMES[settings.dialect]
    secret = (
        f"{settings.secret!r} (public: it is in the site's browser code)"
        if settings.secret
        else "none (the empty secret)"
    )
    if not settings.password_required:
        needed = "not required"
    elif settings.password_accepted:
        needed = "required; the one given is accepted"
    elif settings.password_accepted is False:
        needed = "required; the one given was REFUSED"
    else:
        needed = f"required; set {ENV_PASSWORD} (or use --ask-password) to check yours"
    lines = [
        f"Site:      {settings.base_url}",
        f"Family:    {family} (dialect {settings.dialect!r}), chat script "
        f"{settings.script_url}",
        f"Secret:    {secret}",
        f"Password:  {needed}",
    ]
    if check is not None:
        lines.append(
            f"Check:     answered {one_line(check['text'], limit=80)!r}"
            if check["answered"]
            else "Check:     no answer (see below)"
        )
    lines += [f"Note:      {note}" for note in settings.notes]
    lines += [
        "",
        "As environment lines:",
        f"  export {ENV_BASE_URL}={shlex.quote(settings.base_url)}",
        f"  export {ENV_DIALECT}={settings.dialect}",
        f"  export {ENV_SECRET}={shlex.quote(settings.secret)}",
    ]
    if settings.password_required:
        lines.append(
            f"  read -rs {ENV_PASSWORD} && export {ENV_PASSWORD}  # the site password"
        )
    lines += [
        "",
        "In Python:",
        "  from langchain_aichatfree import ChatAIChatFree",
        "",
        "  model = ChatAIChatFree(",
        f"      base_url={settings.base_url!r},",
        f"      dialect={settings.dialect!r},",
        f"      secret={settings.secret!r},",
    ]
    if settings.password_required:
        lines.append(f"      # password: read from ${ENV_PASSWORD}")
    lines.append("  )")
    return "\n".join(lines) + "\n"
