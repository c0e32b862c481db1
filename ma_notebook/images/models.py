"""Request and response models of the images API."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..api import RequestModel, ResponseModel, Text

#: Docker's grammar for a repository path component (lower case, separators inside).
COMPONENT = r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$"
REPOSITORY = r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
TAG = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"


class SaveImageRequest(RequestModel):
    """Save the running environment as ``<registry>/<organization>/<name>:<tag>``."""

    organization: Annotated[str, Field(min_length=1, max_length=64, pattern=COMPONENT)]
    name: Annotated[str, Field(min_length=1, max_length=128, pattern=REPOSITORY)]
    tag: Annotated[str, Field(max_length=128, pattern=TAG)] = "latest"
    description: Annotated[Text, Field(max_length=1000)] = ""
    squash: bool = Field(False, description="Save as one full layer (for images near 125 layers).")


class DStateProcess(ResponseModel):
    """A process in uninterruptible sleep."""

    pid: int
    command: str


class SaveImageCheck(ResponseModel):
    """What blocks or warns before saving."""

    available: bool
    reason: str = ""
    registry: str = ""
    backend: str = ""
    running_kernels: int = 0
    d_state: list[DStateProcess] = []
    max_size_gb: float = 35.0
    max_layers: int = 125
