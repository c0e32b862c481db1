"""Server tasks: long work (transfers, clones, image saves) that outlives the browser tab."""

from .service import INTERRUPTED, Task, TaskCancelled, TaskError, TaskManager, suspending

__all__ = ["INTERRUPTED", "Task", "TaskCancelled", "TaskError", "TaskManager", "suspending"]
