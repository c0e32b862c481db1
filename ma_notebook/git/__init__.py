"""Git cloning into the workspace: branches, file previews, sparse clones, private repos."""

from .service import GitService

CAPABILITY = GitService

__all__ = ["CAPABILITY", "GitService"]
