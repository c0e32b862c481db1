"""``ma-cli image save``: Save Image from a terminal, with a progress bar."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click
from jupyter_core.paths import jupyter_data_dir
from tqdm import tqdm

from ..events import EventLog
from ..images.registry import docker_config_auth, parse_ref
from ..images.saver import GB, ImageSaver, SaveError, SaveProgress, SaveRequest, SaveSettings
from ..images.service import DEFAULT_EXCLUDE
from .common import CONTEXT_SETTINGS, CliError, common_options


def _events(data_dir: Path) -> Any:
    """Record into the notebook's event log (shown in the Events panel) when it exists."""
    db = data_dir / "events.sqlite3"
    if not db.parent.exists():
        return lambda *a: None
    log = EventLog(db)
    return lambda kind, severity, message: log.record(kind, severity, message)


@click.command("save", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--path",
    "image_path",
    required=True,
    metavar="ORG/NAME:TAG",
    help="Where to save: organization/name:tag in the registry (or a full registry/... path).",
)
@click.option("--description", default="", help="Description recorded in the image history.")
@click.option(
    "--registry",
    default=lambda: os.environ.get("MA_NOTEBOOK_REGISTRY", ""),
    show_default="$MA_NOTEBOOK_REGISTRY",
    help="Registry host[:port] for ORG/NAME:TAG paths.",
)
@click.option(
    "--image",
    "running_image",
    default=lambda: os.environ.get("MA_NOTEBOOK_IMAGE", ""),
    show_default="$MA_NOTEBOOK_IMAGE, else the baseline's",
    help="The image this notebook runs, as pushed to its registry (its layers are reused).",
)
@click.option("--squash", is_flag=True, help="Save as one full layer (images near 125 layers).")
@click.option(
    "--baseline",
    default="/opt/ma-notebook/baseline.jsonl.gz",
    show_default=True,
    help="The image's baseline index.",
)
@click.option("--root", default="/", show_default=True, help="The folder that stands for '/'.")
@click.option("--max-size-gb", default=35.0, show_default=True, type=click.FloatRange(min=0.001))
@click.option("--max-layers", default=125, show_default=True, type=click.IntRange(min=1))
@common_options
def save_cmd(
    image_path: str,
    description: str,
    registry: str,
    running_image: str,
    squash: bool,
    baseline: str,
    root: str,
    max_size_gb: float,
    max_layers: int,
) -> None:
    """Save the running notebook environment as a container image.

    Everything outside /home/ma-user/work and the runtime mounts (/data, /cache, ...) goes into
    one new layer on top of the image this container started from.
    """
    target = image_path if image_path.count("/") >= 2 else f"{registry}/{image_path}"
    if not registry and image_path.count("/") < 2:
        raise CliError("No registry: pass --registry HOST[:PORT] or set MA_NOTEBOOK_REGISTRY.")
    try:
        ref = parse_ref(target)
    except ValueError as e:
        raise CliError(f"--path {image_path[:80]!r}: {e}.") from None
    credentials = {}
    found = docker_config_auth(ref.registry)
    if found:
        credentials[ref.registry] = found
    data_dir = Path(
        os.environ.get("MA_NOTEBOOK_DATA_DIR") or Path(jupyter_data_dir(), "ma_notebook")
    )
    settings = SaveSettings(
        root=root,
        baseline_path=baseline,
        exclude=[*DEFAULT_EXCLUDE, str(data_dir)],
        work_dir=str(data_dir / "save-image"),
        max_size_bytes=int(max_size_gb * GB),
        max_layers=max_layers,
        credentials=credentials,
        image=running_image,
    )
    bars: dict[str, tqdm] = {}

    def show(p: SaveProgress) -> None:
        if p.phase not in ("snapshotting", "pushing"):
            return
        bar = bars.get(p.phase)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[p.phase] = tqdm(
                desc=p.phase.capitalize(), unit="B", unit_scale=True, file=sys.stderr, total=None
            )
        done = p.bytes_written if p.phase == "snapshotting" else p.bytes_pushed
        if p.bytes_total and bar.total != p.bytes_total:
            bar.total = p.bytes_total
        bar.update(done - bar.n)

    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *a: cancel.set())
    try:
        saver = ImageSaver(settings, _events(data_dir), SaveProgress(on_change=show), cancel)
        result = saver.run(SaveRequest(target=str(ref), description=description, squash=squash))
    except SaveError as e:
        if e.reason == "cancelled":
            raise click.exceptions.Abort() from None
        raise CliError(e.message) from None
    finally:
        signal.signal(signal.SIGINT, previous)
        for bar in bars.values():
            bar.close()
    click.echo(f"[OK] saved {result['image']} ({result['digest']}, {result['layers']} layers)")
