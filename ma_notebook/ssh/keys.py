"""SSH keys: parsing registered public keys safely, creating key pairs, PuTTY .ppk conversion."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from ..api import ApiError, quote
from ..procenv import tool_env

#: Public key types sshd accepts here, with the short name shown to users.
KEY_TYPES: dict[str, str] = {
    "ssh-ed25519": "ed25519",
    "ssh-rsa": "rsa",
    "ecdsa-sha2-nistp256": "ecdsa",
    "ecdsa-sha2-nistp384": "ecdsa",
    "ecdsa-sha2-nistp521": "ecdsa",
    "sk-ssh-ed25519@openssh.com": "ed25519-sk",
    "sk-ecdsa-sha2-nistp256@openssh.com": "ecdsa-sk",
}
MIN_RSA_BITS = 2048
PUTTYGEN_INSTALL_HINT = "apt-get install putty-tools"


@dataclass(frozen=True)
class PublicKey:
    """A validated public key: its type, base64 blob, size and SHA256 fingerprint."""

    algorithm: str
    blob: str
    bits: int | None

    @property
    def type(self) -> str:
        """The short type name (ed25519, rsa, ecdsa ...)."""
        return KEY_TYPES[self.algorithm]

    @property
    def line(self) -> str:
        """``<algorithm> <base64>``, without a comment."""
        return f"{self.algorithm} {self.blob}"

    @property
    def fingerprint(self) -> str:
        """The SHA256 fingerprint as ``ssh-keygen -l`` prints it."""
        digest = hashlib.sha256(base64.b64decode(self.blob)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _first_string(blob: bytes) -> bytes:
    if len(blob) < 4:
        raise ValueError("too short")
    (length,) = struct.unpack(">I", blob[:4])
    if length > len(blob) - 4:
        raise ValueError("truncated")
    return blob[4 : 4 + length]


def parse_public_key(text: str) -> PublicKey:
    """An OpenSSH public key line checked strictly, or ApiError(400) saying what is wrong.

    Only ``<type> <base64> [comment]`` is accepted: anything that would become an
    authorized_keys option (``command=``, ``from=``, ``restrict`` ...) or a second line is refused.
    """
    if any(ch in text for ch in "\r\n"):
        raise ApiError(400, "The public key must be a single line: paste one key only.")
    if any(unicodedata.category(ch) == "Cc" and ch != "\t" for ch in text):
        raise ApiError(400, "The public key contains control characters.")
    parts = text.strip().split()
    if not parts:
        raise ApiError(400, "The public key is empty: paste the contents of your .pub file.")
    algorithm = parts[0]
    if algorithm not in KEY_TYPES:
        if "=" in algorithm or "," in algorithm or algorithm in ("restrict", "cert-authority"):
            raise ApiError(
                400,
                f"Options before the key type ({quote(algorithm, 20)}) are not accepted: paste "
                "only '<type> <base64> [comment]', e.g. 'ssh-ed25519 AAAA… you@laptop'.",
            )
        if algorithm.startswith("-----BEGIN"):
            raise ApiError(
                400,
                "That is a private key: paste the public key (the .pub file), never the private.",
            )
        raise ApiError(
            400,
            f"Unknown key type {quote(algorithm, 40)}: use one of {', '.join(KEY_TYPES)}.",
        )
    if len(parts) < 2:
        raise ApiError(400, f"The key data after {algorithm} is missing.")
    data = parts[1]
    try:
        blob = base64.b64decode(data, validate=True)
        inner = _first_string(blob)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"The {algorithm} key data is not valid base64 key data.") from None
    if inner != algorithm.encode():
        raise ApiError(
            400,
            f"The key data is a {quote(inner.decode(errors='replace'), 40)} key but the line says "
            f"{algorithm}: paste the .pub file unchanged.",
        )
    bits: int | None = None
    if not algorithm.startswith("sk-"):
        try:
            key = serialization.load_ssh_public_key(f"{algorithm} {data}".encode())
        except (ValueError, TypeError, struct.error):
            raise ApiError(
                400, f"The {algorithm} key data is damaged: paste the .pub file."
            ) from None
        if isinstance(key, rsa.RSAPublicKey):
            bits = key.key_size
            if bits < MIN_RSA_BITS:
                raise ApiError(
                    400, f"RSA keys need at least {MIN_RSA_BITS} bits; this one has {bits}."
                )
        elif hasattr(key, "key_size"):
            bits = int(key.key_size)
    return PublicKey(algorithm, data, bits)


def generate_key_pair(kind: str, bits: int | None, comment: str) -> tuple[str, PublicKey]:
    """A new private key in OpenSSH format (unencrypted) and its public half."""
    private: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    if kind == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=bits or 4096)
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return pem, parse_public_key(f"{public.decode()} {comment}")


def write_host_key(path: str, kind: str = "ed25519") -> None:
    """Write a host key (mode 0600) and its .pub next to it."""
    pem, public = generate_key_pair(kind, 3072 if kind == "rsa" else None, "ma-notebook")
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(pem)
    os.replace(path + ".tmp", path)
    with open(path + ".pub", "w") as f:
        f.write(public.line + " ma-notebook\n")


def puttygen_path() -> str | None:
    """Where PuTTY's ``puttygen`` is, if installed."""
    return shutil.which("puttygen")


def to_ppk(private_pem: str, comment: str, puttygen: str | None = None) -> str:
    """The private key as PuTTY's .ppk (format version 3), through ``puttygen``.

    The key only ever touches a private temporary folder (mode 0700) that is removed at once.
    """
    program = puttygen or puttygen_path()
    if not program:
        raise ApiError(
            409, f"puttygen is not installed, so no .ppk was made: {PUTTYGEN_INSTALL_HINT}."
        )
    with tempfile.TemporaryDirectory(prefix="ma-ppk-") as tmp:
        os.chmod(tmp, 0o700)
        src = os.path.join(tmp, "key")
        out = os.path.join(tmp, "key.ppk")
        fd = os.open(src, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(private_pem)
        proc = subprocess.run(
            [program, src, "-O", "private", "--ppk-param", "version=3", "-C", comment, "-o", out],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env=tool_env(),
            timeout=60,
            check=False,
        )
        if proc.returncode != 0 or not os.path.exists(out):
            raise ApiError(500, "puttygen could not convert the key to .ppk.")
        with open(out) as f:
            return f.read()
