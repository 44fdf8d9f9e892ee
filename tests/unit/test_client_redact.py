"""Redaction of tokens and URL signatures (used for every client log line and error)."""

from __future__ import annotations

import pytest

from pipeline.core.redact import REDACTED, Redactor, redact, redact_url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi", f"Authorization: Bearer {REDACTED}"),
        ("bearer   xyz, then", f"bearer {REDACTED}, then"),
        (
            "https://b.example/v2/x.jpg?sig=ABC123&exp=9",
            f"https://b.example/v2/x.jpg?sig={REDACTED}&exp=9",
        ),
        ("GET /a?x=1&signature=S&token=T", f"GET /a?x=1&signature={REDACTED}&token={REDACTED}"),
        ("/f?X-Amz-Signature=abc", f"/f?X-Amz-Signature={REDACTED}"),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_redact_patterns(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_raw_token_is_masked_anywhere() -> None:
    token = "tok-123456"
    assert (
        redact(f"bad token {token} (was{token})", [token])
        == f"bad token {REDACTED} (was{REDACTED})"
    )


def test_redactor_masks_the_longest_secret_first_and_ignores_empty_ones() -> None:
    r = Redactor(["abc", "abcdef", None, ""])
    assert r("x abcdef y abc") == f"x {REDACTED} y {REDACTED}"
    assert "abc" not in repr(r)


def test_redact_url_keeps_the_path() -> None:
    assert redact_url("https://h/p/x.png?sig=1") == f"https://h/p/x.png?sig={REDACTED}"
