"""Where a download may be redirected, and short forms of URLs for messages."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from ..errors import ProtocolError
from ..payload import is_http_url

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def next_hop(first: str, current: str, location: str | None) -> str:
    """Where a redirect of a download leads, or ProtocolError if it is not a safe http(s) hop.

    >>> next_hop("https://cdn.example/o.png", "https://cdn.example/o.png", "/p.png")
    'https://cdn.example/p.png'
    """
    if not location:
        raise ProtocolError(f"download of {first!r:.200}: a redirect without a Location")
    location = location.strip()
    try:
        # An absolute Location stands on its own: joining would lend "http:///x" our host.
        target = location if urlsplit(location).scheme else urljoin(current, location)
    except ValueError:
        target = location
    if not is_http_url(target):
        raise ProtocolError(
            f"download of {first!r:.200}: redirected to {target!r:.200}, which is not an "
            "http(s) URL with a host; refusing to follow it"
        )
    if urlsplit(current).scheme == "https" and urlsplit(target).scheme == "http":
        raise ProtocolError(
            f"download of {first!r:.200}: redirected from https to plain http "
            f"({target!r:.200}); refusing to follow it"
        )
    return target


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL (what messages name, never a path or query).

    >>> origin("http://127.0.0.1:8/api/v3/balance?x=1")
    'http://127.0.0.1:8'
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def path_of(url: str) -> str:
    return urlsplit(url).path
