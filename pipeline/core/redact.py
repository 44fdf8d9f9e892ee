"""Remove secrets from text before it reaches a log line, an exception or a file.

Three kinds of secret can show up in what the client handles: the API token itself (in an
`Authorization: Bearer ...` header, or echoed back in an error body), and the signatures of
pre-signed blob URLs (`?sig=...`), which grant access to content on their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"

_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+")
# Query parameters that carry a credential or a URL signature.
_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:sig|signature|token|access_token|api_key|apikey|key|"
    r"x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&#\s\"']*"
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Return `text` with bearer credentials, URL signatures and each of `secrets` masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _BEARER.sub(rf"\1 {REDACTED}", text)
    return _SECRET_PARAM.sub(rf"\1{REDACTED}", text)


def redact_url(url: str) -> str:
    """Mask signature and credential query parameters of a URL (for logs)."""
    return _SECRET_PARAM.sub(rf"\1{REDACTED}", url)


class Redactor:
    """`redact` bound to one set of secrets, so callers cannot forget the token."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # Longest first: a token that contains another secret must be masked whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        return redact(text, self._secrets)

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} secrets>)"
