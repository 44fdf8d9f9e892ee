"""The secret rules of pipeline/core/redact.py: the URL rule (one table, checked in its str,
bytes and DuckDB forms), token echoes in stored bytes, and redaction of messages."""

from __future__ import annotations

import duckdb
import orjson
import pytest

from pipeline.core.redact import (
    REDACTED,
    SIGNED_URL_PATTERN,
    Redactor,
    redact,
    redact_url,
    strip_url_queries,
    strip_url_queries_bytes,
)

# (text as it may appear in JSON or a message, the same with every URL query string removed)
URL_RULE = [
    ("https://b.example/v2/x.jpg?sig=ABC123&exp=9", "https://b.example/v2/x.jpg"),
    ('{"url":"https://b.example/x.jpg?sig=a%2Bb%3D"}', '{"url":"https://b.example/x.jpg"}'),
    ('{"u":"http://127.0.0.1:8787/b/c?sig=1","n":2}', '{"u":"http://127.0.0.1:8787/b/c","n":2}'),
    ("see HTTPS://B.example/x?Sig=1 and Http://c/y?z=2.", "see HTTPS://B.example/x and Http://c/y"),
    # .NET's encoder writes & and + as \u0026 and \u002B: they are part of the query.
    (r'"https://b/x.jpg?sig=a\u002Bb\u0026exp=1"', r'"https://b/x.jpg"'),
    # JSON that escapes slashes.
    (r'"https:\/\/b\/x.jpg?sig=1\/2"', r'"https:\/\/b\/x.jpg"'),
    # A URL inside a JSON string inside JSON: the escaped quote ends the query.
    (r'"{\"u\":\"https://b/x?sig=1\"}"', r'"{\"u\":\"https://b/x\"}"'),
    (
        r'"{\u0022u\u0022:\u0022https://b/x?sig=1\u0022}"',
        r'"{\u0022u\u0022:\u0022https://b/x\u0022}"',
    ),
    ("(https://b/x?sig=1) next", "(https://b/x) next"),
    ("<https://b/x?sig=1>", "<https://b/x>"),
    ("https://b/x?sig=1#frag", "https://b/x"),
    ("https://b/x??a=1?b", "https://b/x"),
    ("https://b/x?sig=1 https://c/y?sig=2", "https://b/x https://c/y"),
    ("https://b/x?sig=1écrit", "https://b/xécrit"),
    ("https://b/x.jpg", "https://b/x.jpg"),
    ("what? no URL here?", "what? no URL here?"),
    ("ftp://b/x?sig=1 and //b/x?sig=1", "ftp://b/x?sig=1 and //b/x?sig=1"),
    ("xhttps://b/x?sig=1", "xhttps://b/x"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), URL_RULE)
def test_the_url_rule_in_every_form(text: str, expected: str) -> None:
    assert strip_url_queries(text) == expected
    assert strip_url_queries_bytes(text.encode()) == expected.encode()
    with duckdb.connect() as con:
        (sql,) = con.execute(
            "SELECT regexp_replace(?, ?, '\\1', 'g')", [text, SIGNED_URL_PATTERN]
        ).fetchone()  # type: ignore[misc]
    assert sql == expected


def test_a_raw_page_and_its_decoded_form_lose_the_same_characters() -> None:
    # What the archive strips from raw bytes and what the flattening strips from DuckDB's
    # re-serialisation of the same document must agree, so a rebuild gives the same rows.
    raw = (
        rb'{"items":[{"id":"w1","url":"https://b/x.jpg?sig=a\u002Bb\u0026exp=1",'
        rb'"note":"caf\u00e9 https://b/y?sig=2\u00e9","meta":"{\u0022u\u0022:\u0022https://b/z?s=1\u0022}"}]}'
    )
    stripped_raw = orjson.loads(strip_url_queries_bytes(raw))
    decoded_then_stripped = orjson.loads(
        strip_url_queries(orjson.dumps(orjson.loads(raw)).decode())
    )
    assert stripped_raw == decoded_then_stripped
    assert "sig" not in orjson.dumps(stripped_raw).decode()


@pytest.mark.parametrize(
    "echo",
    [
        b"tok+en/=1",
        rb"tok\u002Ben\/=1",
        rb"tok\u002ben/=1",
    ],
)
def test_scrub_bytes_replaces_every_json_form_of_the_token(echo: bytes) -> None:
    body = b'{"detail":"Bearer ' + echo + b'","items":[]}'
    scrubbed = Redactor(["tok+en/=1"]).scrub_bytes(body)
    assert scrubbed == b'{"detail":"Bearer [REDACTED]","items":[]}'
    assert orjson.loads(scrubbed)["items"] == []


def test_scrub_bytes_without_secrets_still_strips_urls() -> None:
    assert Redactor().scrub_bytes(b'"https://b/x?sig=1"') == b'"https://b/x"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi", f"Authorization: Bearer {REDACTED}"),
        ("bearer   xyz, then", f"bearer {REDACTED}, then"),
        ("GET https://b.example/v2/x.jpg?sig=ABC123&exp=9", "GET https://b.example/v2/x.jpg"),
        (
            "instance /v2/x?x=1&signature=S&token=T",
            f"instance /v2/x?x=1&signature={REDACTED}&token={REDACTED}",
        ),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_redact_messages(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_raw_token_is_masked_anywhere_in_a_message() -> None:
    token = "tok-123456"
    assert redact(f"bad token {token} (was{token})", [token]) == (
        f"bad token {REDACTED} (was{REDACTED})"
    )


def test_redactor_masks_the_longest_secret_first_and_ignores_empty_ones() -> None:
    r = Redactor(["abc", "abcdef", None, ""])
    assert r("x abcdef y abc") == f"x {REDACTED} y {REDACTED}"
    assert "abc" not in repr(r)


def test_redact_url_keeps_the_path() -> None:
    assert redact_url("https://h/p/x.png?sig=1") == "https://h/p/x.png"
