"""The platform's storage rules: where a mount may go, how many, and how a disk may grow."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ..api import ApiError, quote

#: Where dynamic mounts go, as users see it.
DATA_ROOT = "/data"
#: Folders no mount may fall under.
FORBIDDEN = (
    "/cache/",
    "/dev/",
    "/etc/",
    "/bin/",
    "/lib/",
    "/sbin/",
    "/modelarts/",
    "/train-worker1-log/",
    "/var/",
    "/resource_info/",
    "/usr/",
    "/sys/",
    "/run/",
    "/tmp/",  # noqa: S108 - a rule about /tmp, not a use of it
    "/infer/",
    "/opt/",
)
MAX_PER_TYPE = 5
MAX_STEP_GB = 100
MAX_TOTAL_GB = 4096


def check_mount_path(mount_path: str, data_root: Path) -> tuple[str, Path]:
    """``mount_path`` normalised (``/data/<name>/``) and its real folder under ``data_root``.

    Raises ApiError(400) naming the rule that the path breaks.
    """
    shown = quote(mount_path)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in mount_path):
        raise ApiError(
            400, f"Mount path {shown} must not contain control characters.", reason="bad_path"
        )
    try:
        mount_path.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, "Mount path is not valid UTF-8.", reason="bad_path") from None
    if not mount_path.startswith("/"):
        raise ApiError(
            400,
            f"Mount path {shown} must be absolute: use /data/<name>/.",
            reason="not_absolute",
        )
    if ".." in PurePosixPath(mount_path).parts:
        raise ApiError(400, f"Mount path {shown} must not contain '..'.", reason="dotdot")
    norm = os.path.normpath(mount_path)
    norm = "/" + norm.lstrip("/")
    for prefix in FORBIDDEN:
        if (norm + "/").startswith(prefix):
            raise ApiError(
                400,
                f"Mount path {shown} falls under {prefix}, where mounts are not allowed: "
                "use /data/<name>/.",
                reason="forbidden_folder",
            )
    if norm == DATA_ROOT:
        raise ApiError(
            400,
            f"{DATA_ROOT} itself is not a mount point: use a subfolder, /data/<name>/.",
            reason="data_root",
        )
    if not norm.startswith(DATA_ROOT + "/"):
        raise ApiError(
            400,
            f"Mount path {shown} is not under /data/: only subfolders of /data/ can be mounted.",
            reason="not_under_data",
        )
    parts = PurePosixPath(norm).relative_to(DATA_ROOT).parts
    if any(p.startswith(".") for p in parts):
        raise ApiError(
            400, f"Mount path {shown} must not have hidden parts ('.').", reason="hidden"
        )
    if any(len(p.encode()) > 255 for p in parts):
        raise ApiError(400, f"Mount path {shown} has a part over 255 bytes.", reason="bad_path")
    root = data_root.resolve()
    real = root.joinpath(*parts)
    resolved = real.resolve()
    if root not in resolved.parents:
        raise ApiError(
            400,
            f"Mount path {shown} leads outside /data/ through a symbolic link.",
            reason="symlink_escape",
        )
    if resolved != real:
        raise ApiError(
            400,
            f"Mount path {shown} goes through a symbolic link: mount on a real folder.",
            reason="symlink",
        )
    return norm + "/", real


def check_increase(increase_gb: int, current_gb: float) -> float:
    """The size after growing by ``increase_gb``; ApiError(400) naming the broken rule."""
    if increase_gb <= 0:
        raise ApiError(
            400,
            f"The increase must be a positive number of GB (got {increase_gb}): disks only grow.",
            reason="not_positive",
        )
    if increase_gb > MAX_STEP_GB:
        raise ApiError(
            400,
            f"At most {MAX_STEP_GB} GB can be added in one step (asked {increase_gb} GB).",
            reason="step_too_large",
        )
    after = current_gb + increase_gb
    if after > MAX_TOTAL_GB:
        raise ApiError(
            400,
            f"The disk can be at most {MAX_TOTAL_GB} GB in total: {current_gb:g} GB + "
            f"{increase_gb} GB is {after:g} GB.",
            reason="total_too_large",
        )
    return after
