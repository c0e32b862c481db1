"""Object-storage settings: traitlets config, then environment, then the ma-cli profile file."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .errors import ObsError

DEFAULT_PROFILE = "DEFAULT"
PROFILE_FILE_ENV = "MA_CLI_PROFILE_FILE"
#: Where the embedded store lives when nothing else says (the server exports its own root here).
LOCAL_ROOT_ENV = "MA_OBS_LOCAL_ROOT"

#: Environment variables read for each setting, first match wins.
ENV_NAMES: dict[str, tuple[str, ...]] = {
    "access_key": ("HUAWEICLOUD_SDK_AK", "OBS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
    "secret_key": ("HUAWEICLOUD_SDK_SK", "OBS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
    "security_token": ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "OBS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"),
    "endpoint": (
        "MA_OBS_ENDPOINT",
        "OBS_ENDPOINT",
        "S3_ENDPOINT",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL",
    ),
    "region": (
        "MA_OBS_REGION",
        "HUAWEICLOUD_SDK_REGION",
        "REGION_NAME",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ),
    "addressing_style": ("MA_OBS_ADDRESSING_STYLE",),
}
SECRET_FIELDS = ("secret_key", "security_token", "password")


def default_profile_file() -> Path:
    """``$MA_CLI_PROFILE_FILE`` or ``~/.modelarts/ma-cli-profile.yaml``."""
    env = os.environ.get(PROFILE_FILE_ENV)
    return Path(env).expanduser() if env else Path("~/.modelarts/ma-cli-profile.yaml").expanduser()


@dataclass
class ObsSettings:
    """Where objects live and how to reach them; secrets are excluded from repr."""

    endpoint: str = ""
    region: str = ""
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    security_token: str = field(default="", repr=False)
    addressing_style: str = "auto"
    local_root: str = ""
    #: Where the settings came from, per setting (config, env:NAME, profile:NAME).
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        """``embedded`` (a local directory) or ``endpoint`` (an S3-compatible service)."""
        return "endpoint" if (self.endpoint or self.access_key) else "embedded"

    @property
    def secrets(self) -> list[str]:
        """Secret values, for scrubbing messages."""
        return [s for s in (self.secret_key, self.security_token) if s]

    def effective_endpoint(self) -> str | None:
        """The endpoint URL; Huawei OBS's regional endpoint when only a region is known."""
        if self.endpoint:
            ep = self.endpoint
            return ep if "://" in ep else f"https://{ep}"
        if self.region and self.sources.get("access_key", "").startswith(
            ("env:HUAWEICLOUD", "profile")
        ):
            return f"https://obs.{self.region}.myhuaweicloud.com"
        return None

    def effective_addressing_style(self) -> str:
        """``path`` for IP/localhost endpoints, else ``virtual`` (OBS refuses path style)."""
        if self.addressing_style in ("path", "virtual"):
            return self.addressing_style
        host = urlparse(self.effective_endpoint() or "https://s3.amazonaws.com").hostname or ""
        if host == "localhost" or host.endswith(".localhost"):
            return "path"
        try:
            ipaddress.ip_address(host)
            return "path"
        except ValueError:
            return "virtual"

    def public_info(self) -> dict[str, Any]:
        """What may be shown to users: never a secret, nor the access key."""
        if self.mode == "embedded":
            return {"store": "embedded", "root": self.local_root}
        return {
            "store": "endpoint",
            "endpoint": self.effective_endpoint() or "(AWS default)",
            "region": self.region,
            "addressing_style": self.effective_addressing_style(),
            "credentials": self.sources.get("access_key", "anonymous"),
        }


def read_profiles(path: Path | str | None = None) -> dict[str, dict[str, Any]]:
    """All profiles of the profile file (empty when it does not exist)."""
    import yaml

    p = Path(path).expanduser() if path else default_profile_file()
    if not p.exists():
        return {}
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ObsError(f"Cannot read the profile file {p}: {e}", 400, "bad_profile") from None
    if not isinstance(data, dict):
        raise ObsError(f"The profile file {p} is not a mapping of profiles.", 400, "bad_profile")
    return {str(k): dict(v or {}) for k, v in data.items() if isinstance(v, dict) or v is None}


def write_profile(
    values: Mapping[str, Any], profile: str = DEFAULT_PROFILE, path: Path | str | None = None
) -> Path:
    """Merge ``values`` into one profile of the profile file, written with mode 0600."""
    import yaml

    p = Path(path).expanduser() if path else default_profile_file()
    profiles = read_profiles(p)
    current = profiles.get(profile, {})
    current.update({k: v for k, v in values.items() if v not in (None, "")})
    profiles[profile] = current
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = p.with_name(p.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(profiles, f, default_flow_style=False, sort_keys=True)
    os.chmod(tmp, 0o600)
    os.replace(tmp, p)
    return p


#: Profile-file keys for each setting (the first is what ma-cli configure writes).
PROFILE_KEYS: dict[str, tuple[str, ...]] = {
    "access_key": ("access_key", "ak"),
    "secret_key": ("secret_key", "sk"),
    "security_token": ("security_token",),
    "endpoint": ("obs_endpoint", "endpoint"),
    "region": ("region", "region_name"),
    "addressing_style": ("addressing_style",),
}


def resolve_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    profile: str | None = None,
    profile_file: Path | str | None = None,
    local_root: str | None = None,
) -> ObsSettings:
    """Settings from (in order) ``overrides`` (traitlets config), the environment, the profile."""
    env = os.environ if env is None else env
    profiles = read_profiles(profile_file)
    name = profile or env.get("MA_CLI_PROFILE") or DEFAULT_PROFILE
    if profile and profiles and profile not in profiles:
        raise ObsError(
            f"No profile {profile!r} in the profile file; known: {', '.join(sorted(profiles))}.",
            400,
            "no_profile",
        )
    prof = profiles.get(name, {})
    settings = ObsSettings()
    for attr in (
        "endpoint",
        "region",
        "access_key",
        "secret_key",
        "security_token",
        "addressing_style",
    ):
        value, source = "", ""
        if overrides and overrides.get(attr):
            value, source = str(overrides[attr]), "config"
        if not value:
            for var in ENV_NAMES[attr]:
                if env.get(var):
                    value, source = env[var], f"env:{var}"
                    break
        if not value:
            for key in PROFILE_KEYS[attr]:
                if prof.get(key):
                    value, source = str(prof[key]), f"profile:{name}"
                    break
        if value:
            setattr(settings, attr, value)
            settings.sources[attr] = source
    if settings.access_key and not settings.secret_key:
        raise ObsError(
            f"An access key is configured ({settings.sources['access_key']}) but no secret key.",
            400,
            "no_secret_key",
        )
    root = local_root or env.get(LOCAL_ROOT_ENV) or ""
    if not root:
        from jupyter_core.paths import jupyter_data_dir

        root = os.path.join(jupyter_data_dir(), "ma_notebook", "obs")
    return replace(settings, local_root=root)
