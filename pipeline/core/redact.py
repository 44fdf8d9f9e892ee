"""Remove secrets from text before it reaches a log line, an exception or a file.

Two kinds of secret show up in what the pipeline handles: the API token (in an
`Authorization: Bearer ...` header, or echoed back by a server or gateway), and signed URLs
(blob `url`/`previewUrl` with `?sig=...`), which grant access to content on their own.

The rule for URLs is written once, here: **the query string of every http(s) URL inside a
text is removed** (`https://h/b/x.jpeg?sig=abc&exp=9` -> `https://h/b/x.jpeg`). It is applied
to raw JSON bytes as served (the page archive), to JSON text re-serialised by DuckDB (the
flattening, through `SIGNED_URL_PATTERN`) and to messages, and gives the same result on each:

* the query ends at the first character that cannot be part of it: a quote (the end of the
  JSON string), a backslash escape of a nested string (`\\"`), whitespace, `<`, `>`, `(`,
  `)` or anything outside printable ASCII;
* the JSON escapes a .NET server writes inside URLs (`\\u0026` for `&`, `\\u002B` for `+`)
  and `\\/` are part of the URL, so a raw page and its decoded form lose the same characters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import AnyStr

REDACTED = "[REDACTED]"

# One character of a URL (before its query, and in it): RFC 3986's characters minus the
# parentheses, which wrap URLs in prose far more often than they occur in a signed URL.
_URL_CHARS = r"[A-Za-z0-9\-._~:/\[\]@!$&*+,;=%]"
_QUERY_CHARS = r"[A-Za-z0-9\-._~:/\[\]@!$&*+,;=%?#]"
# The JSON escapes that stand for URL characters in a raw body.
_ESCAPE = r"(?:\\/|\\u0026|\\u002[bB])"


# Group 1 is what stays: the URL up to its query. Written "unrolled" (runs of plain characters
# between escapes) so that a backtracking engine stays linear. For DuckDB (RE2):
# `regexp_replace(text, SIGNED_URL_PATTERN, '\1', 'g')`.
SIGNED_URL_PATTERN = (
    rf"(?i)(https?:(?:\\?/){{2}}{_URL_CHARS}*(?:{_ESCAPE}{_URL_CHARS}*)*)"
    rf"\?{_QUERY_CHARS}*(?:{_ESCAPE}{_QUERY_CHARS}*)*"
)

# Python applies the same rule from each `://` (or `:\/\/`) preceded by a scheme of any case:
# its engine cannot skip ahead to a case-insensitive prefix, which made SIGNED_URL_PATTERN
# itself ~5x slower on a page (a page is stripped in ~1 ms this way).
_SEPARATOR = r":(?:\\?/){2}"
_REST = (
    rf"(?:\\?/){{2}}{_URL_CHARS}*(?:{_ESCAPE}{_URL_CHARS}*)*"
    rf"(\?{_QUERY_CHARS}*(?:{_ESCAPE}{_QUERY_CHARS}*)*)?"
)
_STR = (re.compile(_SEPARATOR), re.compile(_REST))
_BYTES = (re.compile(_SEPARATOR.encode("ascii")), re.compile(_REST.encode("ascii")))

_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+")
# Credentials in the query of a relative reference (`/v2/x?sig=...` in an error body), which
# the URL rule does not see: masked in messages only.
_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:sig|signature|token|access_token|api_key|apikey|key|"
    r"x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&#\s\"']*"
)


def _strip(text: AnyStr, separator: re.Pattern[AnyStr], rest: re.Pattern[AnyStr]) -> AnyStr:
    schemes = ("http", "https") if isinstance(text, str) else (b"http", b"https")
    kept: list[AnyStr] = []
    done = 0
    for found in separator.finditer(text):
        colon = found.start()
        if colon < done or not text[max(0, colon - 5) : colon].lower().endswith(schemes):
            continue
        url = rest.match(text, colon + 1)
        if url is not None and url.group(1) is not None:
            kept.append(text[done : url.start(1)])
            done = url.end()
    if not kept:
        return text
    kept.append(text[done:])
    return text[:0].join(kept)


def strip_url_queries(text: str) -> str:
    """`text` with the query string of every http(s) URL removed (see the module docstring)."""
    return text if "?" not in text else _strip(text, *_STR)


def strip_url_queries_bytes(data: bytes) -> bytes:
    """`strip_url_queries` for raw bytes (a page as served); UTF-8 is never split."""
    return data if b"?" not in data else _strip(data, *_BYTES)


def _json_forms(secret: str) -> set[str]:
    """The secret as it may appear inside a JSON string: as is, escaped the standard way,
    escaped the way .NET's default encoder writes it (`+`, `&`, `'`, `<`, `>`, `"` and
    non-ASCII as `\\uXXXX`, either case of hex), each also with `/` written as `\\/`."""
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    for hex_format in ("04X", "04x"):
        forms.add(
            "".join(
                f"\\u{ord(ch):{hex_format}}" if ch in "+&'<>\"" or not ch.isascii() else ch
                for ch in secret
            )
        )
    forms |= {form.replace("/", "\\/") for form in forms}
    return {form for form in forms if form}


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with each of `secrets`, bearer credentials and URL query strings removed."""
    return Redactor(secrets)(text)


def redact_url(url: str) -> str:
    """A URL without its query string (for logs and messages)."""
    return _SECRET_PARAM.sub(rf"\1{REDACTED}", strip_url_queries(url))


class Redactor:
    """The redaction rules bound to one set of secrets (the token), so callers cannot forget
    it: `redactor(text)` for messages, `redactor.scrub_bytes(data)` for what is written."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        forms = {form for s in secrets if s for form in _json_forms(s)}
        # Longest first: a secret that contains another must be masked whole.
        self._secrets = sorted(forms, key=len, reverse=True)
        self._secret_bytes = [s.encode("utf-8") for s in self._secrets]
        self._redacted_bytes = REDACTED.encode("ascii")

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = _BEARER.sub(rf"\1 {REDACTED}", text)
        return _SECRET_PARAM.sub(rf"\1{REDACTED}", strip_url_queries(text))

    def scrub_bytes(self, data: bytes) -> bytes:
        """Raw JSON as it may be stored: every echo of a secret replaced by `[REDACTED]` (still
        valid JSON: the secret sat inside a string) and URL query strings removed."""
        for secret in self._secret_bytes:
            if secret in data:
                data = data.replace(secret, self._redacted_bytes)
        return strip_url_queries_bytes(data)

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} secret forms>)"
