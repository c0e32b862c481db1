"""Client configuration for the notebook's sshd: OpenSSH / VS Code, PyCharm, PuTTY, one-line ssh."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

#: Where ``ma-cli ssh-proxy`` reads the notebook URL and token on the user's machine.
DEFAULT_SERVER_FILE = "~/.modelarts/ma-notebook-server.yaml"
DEFAULT_ALIAS = "ma-notebook"


@dataclass
class ClientSettings:
    """What every generated client configuration is made from."""

    alias: str
    user: str
    host: str
    port: int
    key_name: str
    workspace: str
    tunnel: bool = False
    notebook_url: str = ""
    server_file: str = DEFAULT_SERVER_FILE
    interpreters: list[dict[str, str]] = field(default_factory=list)

    @property
    def identity_file(self) -> str:
        """The private key's path on the user's machine (the name the panel downloads)."""
        return f"~/.ssh/{self.key_name or DEFAULT_ALIAS}.pem"

    @property
    def proxy_command(self) -> str:
        """``ma-cli ssh-proxy`` for OpenSSH's ProxyCommand (``%`` doubled, as ssh expands it)."""
        return f"ma-cli ssh-proxy --server-file {shlex.quote(self.server_file)}".replace("%", "%%")


def openssh_block(s: ClientSettings) -> str:
    """A ``Host`` block for ~/.ssh/config (VS Code Remote-SSH and PyCharm read it too)."""
    lines = [f"Host {s.alias}"]
    if s.tunnel:
        lines += [
            f"    HostName {s.alias}",
            f"    User {s.user}",
            f"    ProxyCommand {s.proxy_command}",
            # The host key is filed under the alias, not under the bridge's address.
            f"    HostKeyAlias {s.alias}",
        ]
    else:
        lines += [f"    HostName {s.host}", f"    Port {s.port}", f"    User {s.user}"]
    lines += [
        f"    IdentityFile {s.identity_file}",
        "    IdentitiesOnly yes",
        "    ServerAliveInterval 60",
        "    ServerAliveCountMax 3",
    ]
    return "\n".join(lines) + "\n"


def ssh_command(s: ClientSettings) -> str:
    """One ``ssh`` command line that logs in without any config file."""
    if s.tunnel:
        proxy = shlex.quote(f"ProxyCommand={s.proxy_command}")
        return (
            f"ssh -i {s.identity_file} -o {proxy} -o HostKeyAlias={s.alias} "
            f"-o ServerAliveInterval=60 {s.user}@{s.alias}"
        )
    return f"ssh -i {s.identity_file} -p {s.port} -o ServerAliveInterval=60 {s.user}@{s.host}"


def vscode_url(s: ClientSettings) -> str:
    """Opens the workspace folder in VS Code Remote-SSH through the ``Host`` alias."""
    return f"vscode://vscode-remote/ssh-remote+{quote(s.alias, safe='')}{quote(s.workspace)}"


def pycharm(s: ClientSettings) -> dict[str, Any]:
    """The values PyCharm's SSH configuration, interpreter and deployment dialogs ask for."""
    return {
        "ssh_configuration": {
            "host": s.alias if s.tunnel else s.host,
            "port": 22 if s.tunnel else s.port,
            "username": s.user,
            "authentication_type": "Key pair (OpenSSH or PuTTY)",
            "private_key_file": s.identity_file,
            "parse_config_file": s.tunnel,
        },
        "interpreters": s.interpreters,
        "deployment": {
            "type": "SFTP",
            "root_path": "/",
            "mappings": [
                {"local_path": "<your local project folder>", "deployment_path": s.workspace}
            ],
        },
        "note": (
            "Through the notebook URL: add the OpenSSH block to ~/.ssh/config and tick "
            "'Parse config file ~/.ssh/config' so PyCharm uses its ProxyCommand."
            if s.tunnel
            else ""
        ),
    }


def _reg_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def putty_reg(s: ClientSettings) -> str:
    """A PuTTY saved session as a Windows .reg file (host, port, auto-login user, UTF-8, key)."""
    session = quote(s.alias, safe="")
    key_file = f"C:\\Users\\<you>\\.ssh\\{s.key_name or DEFAULT_ALIAS}.ppk"
    lines = [
        "Windows Registry Editor Version 5.00",
        "",
        f"[HKEY_CURRENT_USER\\Software\\SimonTatham\\PuTTY\\Sessions\\{session}]",
        f'"HostName"={_reg_string(s.host)}',
        f'"PortNumber"=dword:{s.port:08x}',
        '"Protocol"="ssh"',
        f'"UserName"={_reg_string(s.user)}',
        '"UserNameFromEnvironment"=dword:00000000',
        '"LineCodePage"="UTF-8"',
        f'"PublicKeyFile"={_reg_string(key_file)}',
        '"PingIntervalSecs"=dword:0000003c',
        "",
    ]
    return "\r\n".join(lines)


def putty(s: ClientSettings) -> dict[str, Any]:
    """The PuTTY session fields, as the PuTTY configuration dialog names them."""
    return {
        "host_name": s.host,
        "port": s.port,
        "connection_type": "SSH",
        "auto_login_username": s.user,
        "remote_character_set": "UTF-8",
        "private_key_file": f"{s.key_name or DEFAULT_ALIAS}.ppk",
        "seconds_between_keepalives": 60,
    }


def server_file_example(s: ClientSettings) -> str:
    """The file ``ma-cli ssh-proxy`` reads: the notebook URL and a Jupyter token (mode 0600)."""
    return (
        f"# {s.server_file} (chmod 600): how ma-cli reaches this notebook\n"
        f"url: {s.notebook_url or '<the JupyterLab URL, e.g. https://host/user/you/>'}\n"
        "token: <your Jupyter token>\n"
    )


def client_config(s: ClientSettings) -> dict[str, Any]:
    """Every client configuration for these settings, as GET ssh/config returns it."""
    return {
        "alias": s.alias,
        "tunnel": s.tunnel,
        "user": s.user,
        "host": s.host,
        "port": s.port,
        "identity_file": s.identity_file,
        "workspace": s.workspace,
        "openssh": openssh_block(s),
        "vscode_url": vscode_url(s),
        "ssh_command": ssh_command(s),
        "server_file": s.server_file,
        "server_file_example": server_file_example(s),
        "pycharm": pycharm(s),
        "putty_reg": putty_reg(s),
        "putty": putty(s),
    }
