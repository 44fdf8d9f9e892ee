"""Where the lake and the archives live: options for object storage built in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core import storage
from pipeline.core.errors import ConfigError
from pipeline.core.settings import Settings

AWS = {"AWS_ACCESS_KEY_ID": "key", "AWS_SECRET_ACCESS_KEY": "secret"}


def test_a_plain_http_endpoint_is_allowed_and_commits_are_conditional_puts() -> None:
    options = storage.storage_options(
        "s3://bucket/lake", {**AWS, "AWS_ENDPOINT_URL": "http://minio.lan:9000"}
    )
    assert options["conditional_put"] == "etag"
    assert options["AWS_ALLOW_HTTP"] == "true"
    assert options["AWS_ENDPOINT_URL"] == "http://minio.lan:9000"
    assert options["AWS_REGION"] == "us-east-1"  # delta-rs needs one even for MinIO
    assert "AWS_S3_ALLOW_UNSAFE_RENAME" not in options


def test_https_and_the_default_region_variable() -> None:
    options = storage.storage_options(
        "s3://bucket/lake",
        {**AWS, "AWS_ENDPOINT_URL": "https://s3.example", "AWS_DEFAULT_REGION": "eu-west-1"},
    )
    assert "AWS_ALLOW_HTTP" not in options and options["AWS_REGION"] == "eu-west-1"


def test_a_local_lake_needs_no_options_and_an_unknown_scheme_is_refused(tmp_path: Path) -> None:
    assert storage.storage_options(str(tmp_path), AWS) == {}
    assert not storage.is_remote(str(tmp_path)) and not storage.is_remote(f"file://{tmp_path}")
    with pytest.raises(ConfigError, match="s3://bucket/prefix"):
        storage.is_remote("gs://bucket/lake")


def test_the_raw_archives_follow_a_shared_lake(tmp_path: Path) -> None:
    local = Settings(data_dir=tmp_path)
    assert not local.shared_lake and local.raw_location == str((tmp_path / "raw").resolve())
    shared = Settings(data_dir=tmp_path, lake_uri="s3://bucket/civitai/")
    assert shared.shared_lake and shared.raw_location == "s3://bucket/civitai/_raw"


def test_the_pyarrow_filesystem_points_at_the_same_store() -> None:
    fs, path = storage.filesystem(
        "s3://bucket/lake/_raw",
        storage.storage_options(
            "s3://bucket/lake", {**AWS, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
        ),
    )
    assert fs.type_name == "s3" and path == "bucket/lake/_raw"
    local, where = storage.filesystem("/tmp/x/../lake")
    assert local.type_name == "local" and where == "/tmp/lake"
