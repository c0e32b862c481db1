"""Runs one notebook job in its own process: the chosen environment, typed parameters, a timeout."""

from __future__ import annotations

import ast
import json
import os
import tempfile
import time
import traceback
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_scheduler.executors import DefaultExecutionManager
from jupyter_scheduler.models import JobFeature, Status
from jupyter_scheduler.orm import Job
from jupyter_scheduler.utils import find_cell_index_with_tag, get_utc_timestamp
from nbconvert.preprocessors import CellExecutionError, ExecutePreprocessor
from nbformat import NotebookNode, v4

from .forms import set_form_values

#: How much of a failing cell's source goes into the job's status message.
SOURCE_EXCERPT = 120


def parameter_literal(value: Any) -> str:
    """Python source for a parameter value: numbers, booleans and literals keep their type.

    ``"3"`` -> ``3``, ``"0.5"`` -> ``0.5``, ``"true"`` -> ``True``, ``"[1, 2]"`` -> ``[1, 2]``,
    ``"'x'"`` -> ``'x'``; anything else (``hello``, ``a b``) becomes a string ``'hello'``.
    """
    if not isinstance(value, str):
        return repr(value)
    text = value.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return "True" if lowered == "true" else "False"
    if lowered in ("none", "null"):
        return "None"
    try:
        literal = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return repr(value)
    return repr(literal)


def inject_parameters(nb: NotebookNode, parameters: dict[str, Any]) -> NotebookNode:
    """Insert an ``injected-parameters`` cell after the ``parameters`` cell (papermill's rule).

    A parameter named like a code-cell form field (``x = 1  #@param``) also replaces that
    field's value, so a form later in the notebook does not set the variable back.
    """
    lines = []
    literals = {}
    for key, value in parameters.items():
        if not str(key).isidentifier():
            raise ValueError(f"Parameter name {key!r} is not a valid Python identifier.")
        literals[str(key)] = parameter_literal(value)
        lines.append(f"{key} = {literals[str(key)]}")
    set_form_values(nb, literals)
    cell = v4.new_code_cell(source="\n".join(lines))
    cell.metadata["tags"] = ["injected-parameters"]
    injected = find_cell_index_with_tag(nb, "injected-parameters")
    tagged = find_cell_index_with_tag(nb, "parameters")
    if injected >= 0:
        nb.cells[injected] = cell
    elif tagged >= 0:
        nb.cells.insert(tagged + 1, cell)
    else:
        nb.cells.insert(0, cell)
    return nb


class MaExecutionManager(DefaultExecutionManager):
    """Executes a job with the environment the user picked, typed parameters and a timeout.

    ``environment`` is resolved by the server before the job starts: ``{"kind": "kernelspec",
    "kernel_name": ...}`` or ``{"kind": "conda", "python": ...}``; ``None`` falls back to the
    notebook's own kernel. ``timeout_seconds`` (0 = none) bounds the whole run.
    """

    def __init__(
        self,
        job_id: str,
        root_dir: str,
        db_url: str,
        staging_paths: dict[str, str],
        environment: dict[str, str] | None = None,
        timeout_seconds: float = 0,
    ) -> None:
        super().__init__(
            job_id=job_id, root_dir=root_dir, db_url=db_url, staging_paths=staging_paths
        )
        self.environment = environment
        self.timeout_seconds = timeout_seconds
        self._current_cell: int | None = None
        self._failed_cell: tuple[int, NotebookNode] | None = None

    def _update(self, **values: Any) -> None:
        with self.db_session() as session:
            query = session.query(Job).filter(Job.job_id == self.job_id)
            if values.get("status") in (Status.COMPLETED, Status.FAILED):
                # A run stopped meanwhile (e.g. on a Dask worker, which cannot be killed) stays so.
                query = query.filter(Job.status == Status.IN_PROGRESS)
            query.update(values)
            session.commit()

    def before_start(self) -> None:
        """Record the process id and mark the job in progress."""
        self._update(status=Status.IN_PROGRESS, pid=os.getpid())

    def on_failure(self, e: Exception) -> None:
        """Mark the job failed with the cell and error that stopped it."""
        message = self.failure_message(e)
        self._update(status=Status.FAILED, status_message=message, end_time=get_utc_timestamp())
        traceback.print_exc()

    def on_complete(self) -> None:
        """Mark the job completed."""
        self._update(status=Status.COMPLETED, status_message="", end_time=get_utc_timestamp())

    def failure_message(self, e: Exception) -> str:
        """What stopped the job, naming the cell (1-based, as JupyterLab shows it)."""
        where = ""
        if self._failed_cell is not None:
            index, cell = self._failed_cell
            source = " ".join(cell.source.split())
            if len(source) > SOURCE_EXCERPT:
                source = source[: SOURCE_EXCERPT - 1] + "…"
            where = f" in cell {index + 1} ({source!r})"
        if isinstance(e, TimeoutError):
            return f"Timed out after {self.timeout_seconds:g} s{where}."
        if isinstance(e, CellExecutionError):
            return f"{e.ename}: {e.evalue}{where}."
        return f"{type(e).__name__}: {e}{where}."

    def _kernel(self, nb: NotebookNode, workdir: str) -> tuple[str, AsyncKernelManager | None]:
        """The kernel to run: the environment's kernelspec as resolved by the server.

        The spec travels with the job (argv, env), so a Dask worker without this server's
        kernelspec folders runs the same kernel.
        """
        env = self.environment or {}
        spec: dict[str, Any] | None = None
        name = "ma-job-env"
        if env.get("kind") == "kernelspec" and env.get("spec"):
            name = env["kernel_name"]
            spec = json.loads(env["spec"])
        elif env.get("kind") == "conda":
            argv = [env["python"], "-m", "ipykernel_launcher", "-f", "{connection_file}"]
            spec = {"argv": argv, "display_name": env.get("label", "conda"), "language": "python"}
        if spec is None:
            try:
                return nb.metadata.kernelspec["name"], None
            except (AttributeError, KeyError, TypeError) as e:
                raise ValueError(
                    "The notebook has no kernel and the job names no environment: pick an "
                    "environment in the job form or save the notebook with a kernel."
                ) from e
        kernels = os.path.join(workdir, "kernels")
        os.makedirs(os.path.join(kernels, name), exist_ok=True)
        with open(os.path.join(kernels, name, "kernel.json"), "w") as f:
            json.dump(spec, f)
        nb.metadata["kernelspec"] = {
            "name": name,
            "display_name": spec.get("display_name", name),
            "language": spec.get("language", "python"),
        }
        ksm = KernelSpecManager(kernel_dirs=[kernels])
        # Async, as nbclient creates itself: with a blocking manager cell timeouts never fire.
        return name, AsyncKernelManager(kernel_name=name, kernel_spec_manager=ksm)

    def _timeout_for(self, deadline: float | None):
        def timeout(cell: NotebookNode) -> int | None:
            if deadline is None:
                return None
            # Never raise here: nbclient calls this after sending the cell to the kernel and
            # does not clean up if it raises. A due cell gets 1 s, then nbclient's own timeout.
            remaining = deadline - time.monotonic()
            return max(1, int(remaining + 0.999))

        return timeout

    def execute(self) -> None:
        """Run the notebook and write the requested output formats (also when a cell fails)."""
        job = self.model
        with open(self.staging_paths["input"], encoding="utf-8") as f:
            nb = nbformat.read(f, as_version=4)
        if job.parameters:
            nb = inject_parameters(nb, job.parameters)
        staging_dir = os.path.dirname(self.staging_paths["input"])
        deadline = time.monotonic() + self.timeout_seconds if self.timeout_seconds else None

        def on_cell_execute(cell: NotebookNode, cell_index: int) -> None:
            self._current_cell = cell_index

        with tempfile.TemporaryDirectory(prefix="ma-job-") as workdir:
            kernel_name, km = self._kernel(nb, workdir)
            ep = ExecutePreprocessor(
                kernel_name=kernel_name,
                store_widget_state=True,
                timeout_func=self._timeout_for(deadline),
                on_cell_execute=on_cell_execute,
            )
            try:
                ep.preprocess(nb, {"metadata": {"path": staging_dir}}, km=km)
            except BaseException:
                if self._current_cell is not None:
                    self._failed_cell = (self._current_cell, nb.cells[self._current_cell])
                raise
            finally:
                self.add_side_effects_files(staging_dir)
                self.create_output_files(job, nb)

    def supported_features(cls) -> dict[JobFeature, bool]:  # type: ignore[override]
        """Features the job form offers (called unbound by jupyter-scheduler)."""
        features = DefaultExecutionManager.supported_features(cls)  # type: ignore[arg-type]
        features[JobFeature.parameters] = True
        features[JobFeature.timeout_seconds] = True
        return features

    def validate(cls, input_path: str) -> bool:  # type: ignore[override]
        """Every notebook can run: the job's environment supplies the kernel."""
        return True
