"""Server tasks: long work (transfers, clones, image saves) that outlives the browser tab."""

from .service import Task, TaskCancelled, TaskError, TaskManager

__all__ = ["Task", "TaskCancelled", "TaskError", "TaskManager"]
