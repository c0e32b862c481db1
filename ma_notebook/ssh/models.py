"""Request and response models of the Remote SSH API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from ..api import QueryModel, RequestModel, ResponseModel, no_control

#: A key's name: letters, digits, '.', '_' and '-', starting with a letter or digit.
KEY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
#: An OpenSSH public key line is a few hundred bytes; RSA 16384 stays under 3 KiB.
MAX_PUBLIC_KEY = 4096
MAX_WHITELIST = 5


class KeyRequest(RequestModel):
    """Create a key pair (``type``, ``bits``) or register your own ``public_key`` under ``name``."""

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=KEY_NAME_PATTERN,
        description="Name of the key: letters, digits, '.', '_' and '-' (at most 64).",
    )
    public_key: str | None = Field(
        None,
        max_length=MAX_PUBLIC_KEY,
        description="An OpenSSH public key line to register; omit it to create a key pair.",
    )
    type: Literal["ed25519", "rsa"] = Field("ed25519", description="Type of a created key.")
    bits: Literal[2048, 4096] | None = Field(None, description="RSA key size (default 4096).")


class WhitelistRequest(RequestModel):
    """The addresses allowed to connect; empty means any."""

    entries: list[Annotated[str, Field(max_length=64), AfterValidator(no_control)]] = Field(
        max_length=MAX_WHITELIST,
        description="At most 5 IPv4 / IPv6 addresses or CIDR ranges.",
    )


class ConfigQuery(QueryModel):
    """Options of the generated client configuration."""

    tunnel: bool = Field(False, description="Reach sshd through the notebook URL (ma-cli).")
    alias: str = Field(
        "",
        max_length=64,
        pattern=r"^([A-Za-z0-9][A-Za-z0-9._-]{0,63})?$",
        description="Host alias in ~/.ssh/config (default ma-notebook).",
    )
    key: str = Field(
        "",
        max_length=64,
        pattern=r"^([A-Za-z0-9][A-Za-z0-9._-]{0,63})?$",
        description="Name of the key whose file the configuration points to.",
    )


class KeyModel(ResponseModel):
    """A registered public key."""

    name: str
    type: str
    bits: int | None = None
    fingerprint: str
    public_key: str
    created: float
    origin: Literal["created", "registered"]


class KeyList(ResponseModel):
    """The registered public keys."""

    keys: list[KeyModel]


class CreatedKey(ResponseModel):
    """A created key pair: the private key is in this answer only, never stored."""

    key: KeyModel
    private_key: str | None = None
    private_key_ppk: str | None = None
    ppk_error: str | None = None


class WhitelistModel(ResponseModel):
    """The whitelist in effect."""

    entries: list[str]


class StatusModel(ResponseModel):
    """State of the SSH service and how to reach it."""

    available: bool
    state: Literal["unavailable", "stopped", "starting", "running", "failed"]
    message: str = ""
    enabled: bool
    user: str
    is_root: bool
    host: str
    port: int
    address: str
    listen_port: int
    host_keys: list[dict[str, str]] = []
    keys: list[KeyModel] = []
    whitelist: list[str] = []
    tunnel_path: str
    log_tail: list[str] = []


class ClientConfigModel(ResponseModel):
    """Client configuration for OpenSSH / VS Code, PyCharm and PuTTY."""

    alias: str
    tunnel: bool
    user: str
    host: str
    port: int
    identity_file: str
    workspace: str
    openssh: str
    vscode_url: str
    ssh_command: str
    server_file: str
    server_file_example: str
    pycharm: dict[str, object]
    putty_reg: str
    putty: dict[str, object]
