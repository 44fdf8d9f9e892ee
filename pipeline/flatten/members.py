"""The API members that get typed columns, and the JSON types DuckDB reads them as.

Each `*_MAPPED` list names the members of one object that have a column of their own (see
pipeline.flatten.schemas); whatever else the object carries goes to its `extra_json`. The
`*_TYPE` descriptions are `from_json` structures: lenient, so a missing or mistyped member is
NULL, never an error.
"""

from __future__ import annotations

# Members with a column of their own; everything else of the object goes to its extra_json.
WORKFLOW_MAPPED = (
    "id",
    "createdAt",
    "startedAt",
    "completedAt",
    "deletedAt",
    "status",
    "nsfwLevel",
    "tags",
    "currencies",
    "upgradeMode",
    "externalId",
    "experimental",
    "allowMatureContent",
    "forceRefunded",
    "lostBlobsRefund",
    "metadata",
    "arguments",
    "steps",
)
# Workflow members copied whole into extra_json: some of their members have columns too.
WORKFLOW_CAPTURED = ("cost", "tips", "callbacks", "transactions")
STEP_MAPPED = (
    "$type",
    "name",
    "priority",
    "timeout",
    "retries",
    "status",
    "startedAt",
    "completedAt",
    "estimatedProgressRate",
    "metadata",
    "input",
    "output",
    "jobs",
)
JOB_MAPPED = (
    "id",
    "status",
    "cost",
    "startedAt",
    "completedAt",
    "estimatedProgressRate",
    "reason",
    "blockedReason",
)
QUEUE_MAPPED = ("support", "precedingJobs", "startAt", "completeAt")

WORKFLOW_TYPE = {
    "id": "VARCHAR",
    "createdAt": "TIMESTAMPTZ",
    "startedAt": "TIMESTAMPTZ",
    "completedAt": "TIMESTAMPTZ",
    "deletedAt": "TIMESTAMPTZ",
    "status": "VARCHAR",
    "nsfwLevel": "VARCHAR",
    "tags": "VARCHAR[]",
    "currencies": "VARCHAR[]",
    "cost": "JSON",
    "tips": "JSON",
    "callbacks": "JSON",
    "transactions": "JSON",
    "upgradeMode": "VARCHAR",
    "externalId": "VARCHAR",
    "experimental": "BOOLEAN",
    "allowMatureContent": "BOOLEAN",
    "forceRefunded": "BOOLEAN",
    "lostBlobsRefund": "BIGINT",
    "metadata": "JSON",
    "arguments": "JSON",
    "steps": "JSON[]",
}
COST_TYPE = {
    "base": "BIGINT",
    "total": "BIGINT",
    "tips": {"civitai": "BIGINT", "creators": "BIGINT"},
    "factors": "JSON",
    "fees": "JSON",
}
TXN_TYPE = {
    "list": [{"type": "VARCHAR", "amount": "BIGINT", "accountType": "VARCHAR", "id": "VARCHAR"}]
}
STEP_TYPE = {
    "$type": "VARCHAR",
    "name": "VARCHAR",
    "priority": "VARCHAR",
    "timeout": "VARCHAR",
    "retries": "INTEGER",
    "status": "VARCHAR",
    "startedAt": "TIMESTAMPTZ",
    "completedAt": "TIMESTAMPTZ",
    "estimatedProgressRate": "DOUBLE",
    "metadata": "JSON",
    "input": "JSON",
    "output": "JSON",
    "jobs": "JSON[]",
}
INPUT_TYPE = {
    "prompt": "VARCHAR",
    "negativePrompt": "VARCHAR",
    "model": "VARCHAR",
    "engine": "VARCHAR",
    "width": "INTEGER",
    "height": "INTEGER",
    "quantity": "INTEGER",
    "seed": "BIGINT",
}
JOB_TYPE = {
    "id": "VARCHAR",
    "status": "VARCHAR",
    "cost": "DOUBLE",
    "startedAt": "TIMESTAMPTZ",
    "completedAt": "TIMESTAMPTZ",
    "estimatedProgressRate": "DOUBLE",
    "reason": "VARCHAR",
    "blockedReason": "VARCHAR",
    "queuePosition": {
        "support": "VARCHAR",
        "precedingJobs": "INTEGER",
        "startAt": "TIMESTAMPTZ",
        "completeAt": "TIMESTAMPTZ",
    },
}
