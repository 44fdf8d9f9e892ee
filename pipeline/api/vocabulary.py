"""What the API's words mean, written once: the statuses after which a workflow, step or job
never changes, and which way a Buzz transaction counts.

The warehouse's SQL models use the same two rules as DuckDB macros made from these values
(`is_final_status(status)`, `signed_buzz(txn_type, amount)`: `sql_macros()`), so that the
Python and the SQL side cannot drift apart.
"""

from __future__ import annotations

# v2 workflow, step and job statuses (lowercase) and v1 job event types (PascalCase), compared
# without case. "cancelled" is the spelling some v1 events carry. `Rejected`, `LateRejected`
# and `ClaimExpired` events are followed by a re-queue, so they are not final.
FINAL_STATUSES = frozenset({"succeeded", "failed", "expired", "canceled", "cancelled", "deleted"})

# A debit is spend; a credit is a refund that cancels spend; any other type counts for nothing.
BUZZ_SIGNS = {"debit": 1, "credit": -1}


def is_final_status(value: str | None) -> bool:
    """Whether a status (or a v1 event type) is one after which nothing changes any more."""
    return value is not None and value.lower() in FINAL_STATUSES


def buzz_sign(txn_type: str | None) -> int:
    """+1 for spend, -1 for a refund, 0 for a transaction type that moves no Buzz we count."""
    return BUZZ_SIGNS.get((txn_type or "").lower(), 0)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_macros() -> list[str]:
    """The DuckDB statements that define the two rules for SQL."""
    statuses = ", ".join(_literal(s) for s in sorted(FINAL_STATUSES))
    signs = " ".join(f"when {_literal(t)} then {sign} * amount" for t, sign in BUZZ_SIGNS.items())
    return [
        f"create or replace macro is_final_status(status) as lower(status) in ({statuses})",
        f"create or replace macro signed_buzz(txn_type, amount) as "
        f"case lower(txn_type) {signs} else 0 end",
    ]
