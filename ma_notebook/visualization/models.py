"""Request and response models of the visualization launcher's REST API."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field

from ..api import HOSTILE, MAX_PATH, QueryModel, RequestModel, ResponseModel, no_control
from .tools import TOOLS


def check_tool(value: str) -> str:
    """A known tool name (any case)."""
    if value.lower() not in TOOLS:
        raise ValueError(f"Unknown visualization tool: use one of {', '.join(TOOLS)}")
    return value.lower()


#: A visualization tool's name.
ToolName = Annotated[
    str,
    Field(max_length=64, json_schema_extra={"examples": list(TOOLS)}),
    AfterValidator(check_tool),
]
#: A summary folder: a file-browser path (or an absolute path inside the workspace).
Folder = Annotated[str, Field(max_length=MAX_PATH), AfterValidator(no_control)]


class LaunchRequest(RequestModel):
    """A tool to start (or reuse) on a folder."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"tool": "tensorboard", "folder": HOSTILE["absolute"]},
                {"tool": "tensorboard", "folder": HOSTILE["dotdot"]},
                {"tool": "tensorboard", "folder": HOSTILE["nul"]},
                {"tool": HOSTILE["huge"]},
            ]
        }
    )

    tool: ToolName = Field(description=f"One of {', '.join(TOOLS)}.")
    folder: Folder | None = Field(
        None, description="Summary folder (default: <workspace>/summary)."
    )


class ToolQuery(QueryModel):
    """Only instances of this tool."""

    tool: ToolName | None = Field(None, description=f"One of {', '.join(TOOLS)}.")


class SuggestQuery(QueryModel):
    """Where a launcher tile was opened."""

    tool: ToolName = Field("tensorboard", description=f"One of {', '.join(TOOLS)}.")
    cwd: Folder | None = Field(None, description="The file browser's current folder.")


class ToolsResponse(ResponseModel):
    """Which tools are installed where, and the default folder."""

    tools: dict[str, dict[str, Any]]
    default_folder: str


class SuggestResponse(ResponseModel):
    """The folder a launcher proposes."""

    folder: str


class InstanceModel(ResponseModel):
    """One running (or exited) tool process."""

    id: str
    tool: str
    folder: str
    state: str


class InstanceList(ResponseModel):
    """Instances, oldest first."""

    instances: list[InstanceModel]


class StoppedResponse(ResponseModel):
    """Ids of the instances shut down."""

    stopped: list[str]
