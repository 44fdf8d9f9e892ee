"""The API's words, one rule each (pipeline/api/vocabulary.py): which statuses are final and
which way a Buzz transaction counts, the same in Python and in the warehouse's SQL macros."""

from __future__ import annotations

import pytest

from pipeline.api.jobs import JobEvent
from pipeline.api.vocabulary import buzz_sign, is_final_status, sql_macros
from pipeline.core import duck

# (status or v1 event type, final?) as the API writes them.
STATUSES = [
    ("succeeded", True),
    ("Succeeded", True),
    ("failed", True),
    ("expired", True),
    ("canceled", True),
    ("Cancelled", True),
    ("deleted", True),
    ("processing", False),
    ("scheduled", False),
    ("preparing", False),
    ("unassigned", False),
    ("Rejected", False),  # re-queued after
    ("LateRejected", False),
    ("ClaimExpired", False),
    ("somethingNew", False),
    (None, False),
]
# (transaction type, amount, what it counts as spend)
TRANSACTIONS = [
    ("debit", 60, 60),
    ("credit", 60, -60),
    ("Debit", 5, 5),
    ("refundPending", 9, 0),
    (None, 7, 0),
]


@pytest.fixture(scope="module")
def con():
    connection = duck.connect()
    for statement in sql_macros():
        connection.execute(statement)
    yield connection
    connection.close()


@pytest.mark.parametrize(("status", "final"), STATUSES)
def test_final_statuses(con, status: str | None, final: bool) -> None:
    assert is_final_status(status) is final
    assert JobEvent(type=status).is_final is final
    (in_sql,) = con.execute("select is_final_status(?::varchar)", [status]).fetchone()
    assert bool(in_sql) is final


@pytest.mark.parametrize(("txn_type", "amount", "spend"), TRANSACTIONS)
def test_buzz_signs(con, txn_type: str | None, amount: int, spend: int) -> None:
    assert buzz_sign(txn_type) * amount == spend
    (in_sql,) = con.execute(
        "select signed_buzz(?::varchar, ?::bigint)", [txn_type, amount]
    ).fetchone()
    assert in_sql == spend
