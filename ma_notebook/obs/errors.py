"""Object-storage errors a user can act on, and translation of client exceptions into them."""

from __future__ import annotations

from collections.abc import Iterable

from ..api import ApiError

NO_PERMISSION = (
    "no permission: is the bucket in the same region as the endpoint, and can these "
    "credentials read it?"
)


class ObsError(ApiError):
    """An object-storage failure with a message for the user and an HTTP status."""

    def __init__(self, message: str, status: int = 400, reason: str = "obs_error") -> None:
        super().__init__(status, message, reason=reason)


class ObsNotFound(ObsError, FileNotFoundError):
    """A bucket, object or folder that does not exist."""

    def __init__(self, message: str, reason: str = "not_found") -> None:
        ObsError.__init__(self, message, 404, reason)


class ObsCancelled(Exception):
    """A transfer stopped because the user cancelled it."""


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def translate(exc: BaseException, where: str = "", secrets: Iterable[str] = ()) -> ObsError:
    """An ObsError explaining ``exc`` (a botocore/OS error) at ``where`` (an obs:// path)."""
    if isinstance(exc, ObsError):
        return exc
    secrets = list(secrets)
    at = f" ({where})" if where else ""
    try:
        from botocore import exceptions as bx
    except ImportError:  # pragma: no cover - botocore is a dependency
        bx = None  # type: ignore[assignment]
    if bx is not None and isinstance(exc, bx.ClientError):
        err = exc.response.get("Error", {}) or {}
        code = str(err.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400) or 400)
        msg = scrub(str(err.get("Message", "")), secrets)
        if code in ("NoSuchBucket",):
            return ObsNotFound(f"The bucket does not exist{at}.", "no_such_bucket")
        if code in ("NoSuchKey", "404", "NotFound"):
            return ObsNotFound(f"The object does not exist{at}.", "no_such_key")
        if code == "NoSuchUpload":
            return ObsNotFound(
                f"The multipart upload does not exist (completed or aborted){at}.", "no_such_upload"
            )
        if code in ("RequestTimeTooSkewed",):
            return ObsError(
                "The request was refused because this machine's clock differs too much from the "
                "server's: synchronise the clock (NTP) and retry.",
                403,
                "clock_skew",
            )
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return ObsError(
                f"The endpoint refused the credentials ({code}): check the access key and secret "
                "key (ma-cli configure --auth AKSK).",
                403,
                "bad_credentials",
            )
        if code in ("AccessDenied", "403", "Forbidden") or status == 403:
            return ObsError(f"{NO_PERMISSION}{at}", 403, "no_permission")
        if code in ("BucketAlreadyExists", "BucketAlreadyOwnedByYou"):
            return ObsError(f"The bucket already exists{at}.", 409, "bucket_exists")
        if code in ("InvalidRange",):
            return ObsError(f"The requested range is not in the object{at}.", 416, "bad_range")
        if code in ("InvalidBucketName",):
            return ObsError(f"The bucket name is not valid{at}.", 400, "bad_bucket_name")
        if status >= 500:
            return ObsError(
                f"The object store failed ({code or status}): {msg or 'try again later'}{at}",
                502,
                "store_failed",
            )
        return ObsError(f"The object store refused the request ({code}): {msg}{at}", 400, "refused")
    if bx is not None and isinstance(
        exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ConnectionClosedError)
    ):
        return ObsError(
            "The object storage endpoint is unreachable: check the endpoint address and the "
            "network (ma-cli configure, or c.ObsService.endpoint).",
            400,
            "endpoint_unreachable",
        )
    if bx is not None and isinstance(exc, bx.ReadTimeoutError):
        return ObsError(
            "The object storage endpoint did not answer in time; try again.", 400, "timeout"
        )
    if bx is not None and isinstance(exc, bx.NoCredentialsError):
        return ObsError(
            "No credentials for the object storage endpoint: run `ma-cli configure --auth AKSK` "
            "or set HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK.",
            400,
            "no_credentials",
        )
    if isinstance(exc, FileNotFoundError):
        return ObsNotFound(f"Not found{at}.")
    if isinstance(exc, PermissionError):
        return ObsError(f"Permission denied{at}.", 403, "no_permission")
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return ObsError(
            f"The object storage endpoint is unreachable: {scrub(str(exc), secrets)}",
            400,
            "endpoint_unreachable",
        )
    return ObsError(f"{type(exc).__name__}: {scrub(str(exc), secrets)}{at}", 400, "obs_error")
