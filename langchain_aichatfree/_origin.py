"""Pure: a URL's origin (scheme, host, port), and whether two URLs share one.

One rule for the whole package: a redirect the transport may follow, and the
pages and scripts the site probe may fetch, stay on the same origin, with an
explicit default port (``https://a.example:443``) the same as none.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

__all__ = ["DEFAULT_PORTS", "origin", "same_site"]

DEFAULT_PORTS: Final = {"http": 80, "https": 443}
"""The port a URL without one uses, per scheme."""


def _origin_of(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or DEFAULT_PORTS.get(scheme, 0)
    return scheme, (parts.hostname or "").lower(), port


def origin(url: str) -> str:
    """The site's root URL: scheme, host and port only (no trailing slash).

    Args:
        url: Any URL on the site.

    Returns:
        e.g. ``"https://your.site"`` or ``"http://127.0.0.1:8000"``.
    """
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower().rpartition('@')[2]}"


def same_site(base: str, url: str, *, upgrade: bool = False) -> bool:
    """Whether `url` is on the same site as `base` (scheme, host and port).

    Args:
        base: A URL of the site.
        url: The URL to check.
        upgrade: Also accept the move from ``http`` to ``https`` on the same
            host (a site's usual redirect), default ports on both sides.

    Returns:
        Whether it is the same site.
    """
    a, b = _origin_of(base), _origin_of(url)
    if a == b:
        return True
    return (
        upgrade
        and a[1] == b[1]
        and (a[0], b[0]) == ("http", "https")
        and (a[2], b[2]) == (80, 443)
    )
