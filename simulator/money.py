"""A workflow's Buzz: cost (base, factors, fixed, fees, tips, total), transactions and the
`lostBlobsRefund` of a storage incident.

Net spend is sum(debits) - sum(credits) per account type, as the real sample shows: a failed, expired or
canceled run is refunded in full (`cost.total` 0); a lost blob is refunded by a credit of
`lostBlobsRefund` while the run's cost stands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from random import Random
from typing import Any

from simulator import vocab
from simulator.ids import format_uuid
from simulator.model import REFUNDED_STATUSES, StepPlan, pick


@dataclass(slots=True)
class Money:
    planned_base: int
    tip_c: int
    tip_cr: int
    tips_rates: dict[str, float]
    debits: list[tuple[int, str]]
    txn_rand: list[int]
    transactions: dict[str, Any]
    cost: dict[str, Any]
    lost_refund: int | None

    def running(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(transactions, cost) while the workflow still runs: charged, nothing refunded."""
        txns = [
            _txn("debit", amount, self.txn_rand[n], acct)
            for n, (amount, acct) in enumerate(self.debits)
        ]
        cost = dict(self.cost)
        cost.update(
            base=self.planned_base,
            tips={"civitai": self.tip_c, "creators": self.tip_cr},
            total=self.planned_base + self.tip_c + self.tip_cr,
        )
        return {"list": txns}, cost


def txn_id(bits: int) -> str:
    return format_uuid(bits, version=4)


def _txn(kind: str, amount: int, bits: int, account: str) -> dict[str, Any]:
    return {"type": kind, "amount": amount, "id": txn_id(bits), "accountType": account}


def settle(
    rng: Random,
    plans: list[StepPlan],
    status: str,
    currencies: list[str],
    *,
    never_started: bool,
    api_user: bool,
    lost_blob: bool,
) -> Money:
    """Everything money-related about a finished workflow. The draws happen in a fixed order
    (the stream must not depend on the branch taken)."""
    planned_base = sum(p.cost for p in plans)
    tips_rates: dict[str, float] = {"civitai": 0, "creators": 0}
    tipping = not api_user and rng.random() < 0.1
    rate_a, rate_b = rng.random(), rng.random()
    if tipping:
        tips_rates = {
            "civitai": (0.1, 0.25)[rate_a < 0.5],
            "creators": (0.1, 0.25, 0.5)[int(rate_b * 3)],
        }
    tip_c = math.ceil(planned_base * tips_rates["civitai"])
    tip_cr = math.ceil(planned_base * tips_rates["creators"])
    charged = planned_base + tip_c + tip_cr
    split = len(currencies) > 1 and rng.random() < 0.15
    split_at = max(1, int(charged * (0.2 + rng.random() * 0.6)))
    txn_rand = [rng.getrandbits(122) for _ in range(5)]
    fee_draw, fee_air = rng.random(), pick(rng, vocab.LORAS)[0]
    checked = rng.random() < 0.3

    debits = (
        [(split_at, currencies[0]), (charged - split_at, currencies[1])]
        if split and charged > 1
        else [(charged, currencies[0])]
    )
    refunded = status in REFUNDED_STATUSES
    txns: list[dict[str, Any]] = []
    if not (status == "canceled" and never_started):
        txns = [_txn("debit", amount, txn_rand[n], acct) for n, (amount, acct) in enumerate(debits)]
        if refunded:
            txns += [_txn("credit", a, txn_rand[2 + n], acct) for n, (a, acct) in enumerate(debits)]
    # lostBlobsRefund: null = never checked; 0 = checked, nothing lost.
    lost_refund: int | None = None
    if status == "succeeded" and lost_blob:
        lost_refund = max(1, charged // max(1, plans[0].quantity))
        txns.append(_txn("credit", lost_refund, txn_rand[4], debits[0][1]))
    elif status == "succeeded" and checked:
        lost_refund = 0

    first = plans[0]
    cost: dict[str, Any] = {"base": 0 if refunded else planned_base, "factors": dict(first.factors)}
    if first.type == "training":
        cost["fixed"] = {"storage": 5 * int(first.factors.get("epochs", 1))}
    if fee_draw < 0.12 and first.type in ("textToImage", "comfy", "customComfy"):
        cost["fees"] = {fee_air: round(1 + fee_draw * 20, 2)}
    if refunded:
        cost.update(tips={"civitai": 0, "creators": 0}, total=0)
    else:
        cost.update(tips={"civitai": tip_c, "creators": tip_cr}, total=charged)
    return Money(
        planned_base,
        tip_c,
        tip_cr,
        tips_rates,
        debits,
        txn_rand,
        {"list": txns},
        cost,
        lost_refund,
    )
