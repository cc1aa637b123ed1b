"""Checking ``X-Webhook-Signature``: an HMAC of the raw body with the shared secret (reference F.2.7).

Amili has not published its scheme; the emulator's (lowercase hex HMAC-SHA256 of the raw body, no
prefix) is the default, and the header and hash are configurable. A ``sha256=`` style prefix is
tolerated when it names the configured hash. Comparison is constant-time, over the raw bytes, before
anything parses the body.
"""

from __future__ import annotations

import hashlib
import hmac

ALGORITHMS = frozenset({"sha1", "sha256", "sha384", "sha512"})


def sign(secret: bytes, body: bytes, algorithm: str = "sha256") -> str:
    return hmac.new(secret, body, getattr(hashlib, algorithm)).hexdigest()


def signature_matches(secret: bytes, body: bytes, header_value: str | None, algorithm: str = "sha256") -> bool:
    """Whether ``header_value`` is the body's signature under ``secret``."""
    if not header_value:
        return False
    value = header_value.strip()
    prefix, sep, rest = value.partition("=")
    if sep:
        if prefix.strip().lower() != algorithm:
            return False
        value = rest.strip()
    expected = sign(secret, body, algorithm).encode("ascii")
    return hmac.compare_digest(expected, value.lower().encode("ascii", errors="replace"))
