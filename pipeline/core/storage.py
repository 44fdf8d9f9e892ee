"""Where files live: a local directory or an S3-compatible object store, behind one interface.

The lake's Delta tables (delta-rs), the raw archives and the warehouse's download cache all
reach object storage through the options built here, from the standard AWS variables
(`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
`AWS_ENDPOINT_URL`), so that one set of variables configures every reader and writer.

Commits on S3: delta-rs (1.x) writes each `_delta_log/<version>.json` with a conditional
PUT (`If-None-Match: *`), so two writers of one version cannot both succeed: the loser
re-reads the log and either retries or reports a conflict. AWS S3, MinIO, R2 and moto honour
the header; a store that ignores it would silently lose commits, so this module asks for it
explicitly (`conditional_put=etag`) and never sets `AWS_S3_ALLOW_UNSAFE_RENAME`, which would
switch delta-rs to a copy-then-delete commit that is only safe with a single writer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs

from pipeline.core.errors import ConfigError

# Passed through to delta-rs as given (it reads the same names from the environment too).
_AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
)
REMOTE_SCHEMES = ("s3", "s3a")
_CHUNK = 8 * 2**20


def is_remote(uri: str) -> bool:
    """Whether `uri` names object storage (`s3://bucket/prefix`) rather than a local path."""
    scheme = urlparse(uri).scheme.lower()
    if scheme in ("", "file") or len(scheme) == 1:  # `C:\...` parses with scheme "c"
        return False
    if scheme not in REMOTE_SCHEMES:
        raise ConfigError(
            f"unsupported storage location {uri!r}: use a local path or s3://bucket/prefix"
        )
    return True


def _aws(env: Mapping[str, str]) -> dict[str, str]:
    found = {name: env[name] for name in _AWS_VARIABLES if env.get(name)}
    if "AWS_REGION" not in found and env.get("AWS_DEFAULT_REGION"):
        found["AWS_REGION"] = env["AWS_DEFAULT_REGION"]
    return found


def storage_options(uri: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """delta-rs `storage_options` for `uri` ({} for a local path)."""
    if not is_remote(uri):
        return {}
    options = _aws(os.environ if env is None else env)
    options.setdefault("AWS_REGION", "us-east-1")
    # Every commit is a put-if-absent (see the module docstring).
    options["conditional_put"] = "etag"
    if options.get("AWS_ENDPOINT_URL", "").lower().startswith("http://"):
        # A plain-http endpoint (MinIO or moto on a private network, a test server).
        options["AWS_ALLOW_HTTP"] = "true"
    return options


def filesystem(uri: str, options: Mapping[str, str] | None = None) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the path inside it for `uri`, configured like delta-rs."""
    if not is_remote(uri):
        path = uri.removeprefix("file://")
        return pafs.LocalFileSystem(), os.path.abspath(path)
    opts = dict(options) if options is not None else storage_options(uri)
    parsed = urlparse(uri)
    endpoint = opts.get("AWS_ENDPOINT_URL")
    # Delayed open: an object smaller than one part is written with a single PUT on close
    # (one request, atomic) instead of a multipart upload.
    kwargs: dict[str, object] = {
        "region": opts.get("AWS_REGION", "us-east-1"),
        "allow_delayed_open": True,
    }
    if opts.get("AWS_ACCESS_KEY_ID"):
        kwargs["access_key"] = opts["AWS_ACCESS_KEY_ID"]
        kwargs["secret_key"] = opts.get("AWS_SECRET_ACCESS_KEY", "")
        if opts.get("AWS_SESSION_TOKEN"):
            kwargs["session_token"] = opts["AWS_SESSION_TOKEN"]
    if endpoint:
        target = urlparse(endpoint)
        kwargs["endpoint_override"] = target.netloc + target.path.rstrip("/")
        kwargs["scheme"] = target.scheme or "https"
    fs = pafs.S3FileSystem(**kwargs)
    return fs, f"{parsed.netloc}{parsed.path}".rstrip("/")


def join(uri: str, *parts: str) -> str:
    """`uri` with path parts appended ('/' whatever the platform: also object keys)."""
    return "/".join([uri.rstrip("/"), *(p.strip("/") for p in parts)])


def upload(path: Path, fs: pafs.FileSystem, target: str) -> None:
    """Copy a local file to `target` in `fs`: on object storage an object appears whole when
    the copy ends (one PUT for a small file, a multipart upload completed at the end), never
    half written."""
    with fs.open_output_stream(target, compression=None) as out, open(path, "rb") as source:
        while chunk := source.read(_CHUNK):
            out.write(chunk)
