"""Remote SSH for local IDEs: a real sshd, keys, a whitelist and a tunnel via the notebook URL."""

from .service import SSHService

CAPABILITY = SSHService

__all__ = ["CAPABILITY", "SSHService"]
