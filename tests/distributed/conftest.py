"""Servers shared by the distributed tests (started once per session, stopped at the end),
and a fresh S3 bucket with the AWS variables set for each test that asks for one."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from tests.distributed.servers import (
    Server,
    missing,
    start_moto,
    start_postgres,
    start_redis,
)

# The `deploy` extra: without it the deployment cannot run at all.
DEPLOY_MODULES = ("dagster_celery", "dagster_postgres", "redis", "moto")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.distributed)


@pytest.fixture(autouse=True, scope="session")
def _deploy_extra() -> None:
    for module in DEPLOY_MODULES:
        if importlib.util.find_spec(module) is None:
            missing(f"the Python module {module} (the deploy extra)")


@pytest.fixture(scope="session")
def moto() -> Iterator[Server]:
    server = start_moto()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Server]:
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture
def s3_env(moto: Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A new bucket; the AWS variables pointing at it are set for this test and returned
    (with CIVITAI_SYNC_LAKE_URI) for subprocesses."""
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    env = {
        **AWS_ENV,
        "AWS_ENDPOINT_URL": moto.extra["endpoint"],
        "AWS_REGION": "us-east-1",
        "CIVITAI_SYNC_LAKE_URI": f"s3://{bucket}/lake",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    fs = pafs.S3FileSystem(
        access_key="testing",
        secret_key="testing",
        endpoint_override=f"127.0.0.1:{moto.port}",
        scheme="http",
        region="us-east-1",
        allow_bucket_creation=True,
    )
    fs.create_dir(bucket)
    return env
