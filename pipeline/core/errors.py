"""The pipeline's one error hierarchy.

    PipelineError
    ├── ConfigError                 missing token, bad option value, refused API URL
    │   └── UsageError              a value the user typed cannot be used (an id): CLI exit 2
    ├── ApiError                    anything that went wrong talking to the API
    │   ├── ApiConnectionError      transport failure after retries (DNS, refused, reset)
    │   │   └── ApiTimeoutError
    │   └── ApiStatusError          a non-2xx answer (status_code, request_id, body excerpt)
    │       ├── BadRequestError         400
    │       ├── AuthenticationError     401: the token was refused
    │       ├── PermissionDeniedError   403
    │       ├── NotFoundError           404
    │       ├── UnprocessableError      422
    │       ├── RateLimitError          429 after retries
    │       └── ServerError             5xx after retries
    ├── ResponseValidationError     a 2xx body that is not the shape we expect (endpoint, page)
    ├── WindowError                 a sync window failed (window, page, cause)
    │   └── WindowBusyError         another process holds the window's lock (nothing changed)
    ├── ModelBuildError             a SQL model file could not be parsed or built (model, path)
    │   └── ModelGraphError         a model reads an unknown table, or models depend on each other in a cycle
    └── WarehouseNotFoundError      no warehouse file (or not its report tables) to read a report from

Messages say what to do. None of them ever contains the API token: the client redacts it
before an error is built.
"""

from __future__ import annotations

import errno
import os


class PipelineError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(PipelineError):
    """A setting is missing or invalid."""


class UsageError(ConfigError):
    """A value given on the command line (or by a caller) cannot be used as it is, such as an
    id that is not a single path segment; refused before any request."""


class ApiError(PipelineError):
    """Talking to the Orchestration API failed."""


class ApiConnectionError(ApiError):
    """The API could not be reached (after retries)."""


class ApiTimeoutError(ApiConnectionError):
    """The API did not answer in time (after retries)."""


class ApiStatusError(ApiError):
    """The API answered with a non-success status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        method: str = "GET",
        url: str = "",
        request_id: str | None = None,
        body: str = "",
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.method = method
        self.url = url
        self.request_id = request_id
        self.body = body


class BadRequestError(ApiStatusError):
    """400: the request was invalid."""


class AuthenticationError(ApiStatusError):
    """401: the token was refused."""


class PermissionDeniedError(ApiStatusError):
    """403: the token may not do this."""


class NotFoundError(ApiStatusError):
    """404: unknown id, or not visible to this token."""


class UnprocessableError(ApiStatusError):
    """422: invalid parameters."""


class RateLimitError(ApiStatusError):
    """429: still rate-limited after every retry."""


class ServerError(ApiStatusError):
    """5xx: the service kept failing after every retry."""


class ResponseValidationError(PipelineError):
    """A success response whose body is not the shape the pipeline expects."""

    def __init__(self, message: str, *, endpoint: str = "", page: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.page = page


class WindowError(PipelineError):
    """A sync window failed; the previous data of that window is left intact."""

    def __init__(self, message: str, *, window: str, page: int | None = None) -> None:
        super().__init__(message)
        self.window = window
        self.page = page


class WindowBusyError(WindowError):
    """Another process is syncing (or enriching) the window; this run left it untouched."""


class ModelBuildError(PipelineError):
    """A SQL model could not be parsed or built; the message names the file and DuckDB's error."""

    def __init__(self, message: str, *, model: str = "", path: str = "") -> None:
        super().__init__(message)
        self.model = model
        self.path = path


class ModelGraphError(ModelBuildError):
    """The models' dependencies are broken: an unknown table, or a cycle."""


class WarehouseNotFoundError(PipelineError):
    """There is no warehouse to report from yet (or it was built without the SQL models)."""


class LakeError(PipelineError):
    """The lake (Delta tables, raw archive, ledger) could not be read or written."""


# What to do about a failure of the disk under the data dir, by errno; the message says the
# path and the OS's own words first. Any other errno is said as the OS says it.
_STORAGE_ADVICE = {
    errno.ENOSPC: "free some space and run again",
    errno.EDQUOT: "free some space and run again",
    errno.EACCES: "run as the user that owns the data dir, or set CIVITAI_SYNC_DATA_DIR to a "
    "directory this user may write",
    errno.EPERM: "run as the user that owns the data dir, or set CIVITAI_SYNC_DATA_DIR to a "
    "directory this user may write",
    errno.EROFS: "set CIVITAI_SYNC_DATA_DIR to a writable directory",
    errno.ENOTDIR: "CIVITAI_SYNC_DATA_DIR must name a directory, not a file",
    errno.EISDIR: "a directory stands where a file was expected; move it away",
}
# The same failures as the Delta Lake library reports them (its own text, with the errno).
_DELTA_OS_ERRORS = {f"(os error {code})": code for code in _STORAGE_ADVICE}
_UNCHANGED = "The previous data is unchanged."


def storage_failure(exc: BaseException) -> str | None:
    """One line saying which file could not be read or written, why (the OS's words) and what
    to do, when `exc` is a failure of the disk (an OSError, or the Delta Lake library's error
    about one); None for anything else, which is left to surface as the bug it is.

    The CLI and the runs meet these at their boundary rather than at each write: every
    module of the lake, archive, ledger and warehouse writes files, and the advice depends
    only on the errno. Nothing was published by the failed step (every publish is a rename
    or a Delta commit, made last), so the previous data is said to be unchanged."""
    if isinstance(exc, OSError) and exc.errno is not None:
        where = f" {exc.filename}" if exc.filename else ""
        said = exc.strerror or os.strerror(exc.errno)
        advice = _STORAGE_ADVICE.get(exc.errno)
        return f"cannot write or read{where}: {said}{f'; {advice}' if advice else ''}. {_UNCHANGED}"
    from deltalake.exceptions import DeltaError  # here: the CLI's start does not need it

    if isinstance(exc, DeltaError):
        text = " ".join(str(exc).split())[:300]
        for marker, code in _DELTA_OS_ERRORS.items():
            if marker in text:
                return (
                    f"the lake could not be written: {os.strerror(code)}; "
                    f"{_STORAGE_ADVICE[code]} ({text}). {_UNCHANGED}"
                )
        return f"the lake could not be read or written ({text})."
    return None
