"""``ma-cli image``: Dockerfile templates, builds, the build cache, the image catalogue, debug."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from ..images.builder import (
    Builder,
    BuilderError,
    DockerBuilder,
    add_template,
    detect_builder,
    human_size,
    list_templates,
    parse_duration,
    prepare_base_context,
)
from ..images.catalog import (
    ARCHES,
    IMAGE_TYPES,
    RESOURCE_CATEGORIES,
    SERVICES,
    VISIBILITIES,
    Catalog,
    CatalogError,
    RegistryClient,
    SwrPath,
    configured_registry,
    list_choices,
    parse_swr_path,
)
from .common import CONTEXT_SETTINGS, CliError, common_options, options
from .image_save import save_cmd


def _registry() -> str:
    """The configured registry host (environment, then the profile), or ``""``."""
    profile: dict[str, Any] = {}
    try:
        from ..obs.config import DEFAULT_PROFILE, read_profiles

        opts = options()
        profile = read_profiles(opts.config_file).get(opts.profile or DEFAULT_PROFILE, {})
    except Exception:  # a broken profile file must not stop local-only use
        profile = {}
    try:
        return configured_registry(profile)
    except CatalogError as e:
        raise CliError(str(e)) from None


def _builder() -> Builder:
    try:
        return detect_builder()
    except BuilderError as e:
        raise CliError(str(e)) from None


def _docker() -> DockerBuilder:
    builder = _builder()
    if not isinstance(builder, DockerBuilder):
        raise CliError(f"this command runs containers and needs docker; found {builder.name}")
    return builder


def _swr(text: str, registry: str = "") -> SwrPath:
    try:
        return parse_swr_path(text, registry)
    except CatalogError as e:
        raise CliError(str(e)) from None


def _page(items: list[Any], page_num: int, page_size: int) -> list[Any]:
    start = (page_num - 1) * page_size
    return items[start : start + page_size]


def _echo_line(line: str) -> None:
    click.echo(line, err=True)


page_num_option = click.option(
    "-pn", "--page-num", type=click.IntRange(min=1), default=1, help="Page to show [x>=1]."
)
page_size_option = click.option(
    "-ps",
    "--page-size",
    type=click.IntRange(min=1, max=1000),
    default=20,
    help="Results per page [1<=x<=1000] (default 20).",
)


@click.group(
    "image",
    context_settings=CONTEXT_SETTINGS,
    short_help="Build, register and debug notebook images.",
)
def image() -> None:
    """Obtain registered images, register or unregister images, debug images, and create
    images in Notebook."""


# ---------------------------------------------------------------- templates


def _get_template(filter_: str, page_num: int, page_size: int) -> None:
    templates = _page(list_templates(filter_), page_num, page_size)
    if not templates:
        click.echo("No template matches." if filter_ else "No templates are installed.")
        return
    width = max(len("Template Name"), *(len(t.name) for t in templates))
    click.echo(f"{'Template Name'.ljust(width)}  Description")
    for t in templates:
        click.echo(f"{t.name.ljust(width)}  {t.description}")


@image.command("get-template", context_settings=CONTEXT_SETTINGS)
@click.option("--filter", "filter_", default="", help="Keyword in the template's name or text.")
@page_num_option
@page_size_option
@common_options
def get_template(filter_: str, page_num: int, page_size: int) -> None:
    """List build-in Dockerfile templates.

    \b
    Example:
      ma-cli image get-template --filter ubuntu
    """
    _get_template(filter_, page_num, page_size)


@image.command("gt", context_settings=CONTEXT_SETTINGS, hidden=True)
@click.option("--filter", "filter_", default="")
@page_num_option
@page_size_option
@common_options
def gt(filter_: str, page_num: int, page_size: int) -> None:
    """Alias of get-template."""
    _get_template(filter_, page_num, page_size)


def _add_template(template_name: str, dst: str | None, force: bool) -> None:
    target_root = Path(dst).expanduser() if dst else Path.cwd()
    try:
        target = add_template(template_name, target_root, force)
    except BuilderError as e:
        raise CliError(str(e)) from None
    click.echo(
        f"[OK] Successfully add configuration template [{template_name}] under folder [{target}]"
    )


@image.command("add-template", context_settings=CONTEXT_SETTINGS)
@click.argument("template_name")
@click.option(
    "--dst", "--dest", "dst", default=None, help="Folder to add .ma/<name>/ to (default: .)."
)
@click.option("-f", "--force", is_flag=True, help="Overwrite a template folder already there.")
@common_options
def add_template_cmd(template_name: str, dst: str | None, force: bool) -> None:
    """Add a build-in Dockerfile template into <dst>/.ma/<TEMPLATE_NAME>/.

    \b
    Example:
      ma-cli image add-template customize_from_ubuntu_to_modelarts --force
    """
    _add_template(template_name, dst, force)


@image.command("at", context_settings=CONTEXT_SETTINGS, hidden=True)
@click.argument("template_name")
@click.option("--dst", "--dest", "dst", default=None)
@click.option("-f", "--force", is_flag=True)
@common_options
def at(template_name: str, dst: str | None, force: bool) -> None:
    """Alias of add-template."""
    _add_template(template_name, dst, force)


# ---------------------------------------------------------------- build


def _build_args(values: tuple[str, ...]) -> dict[str, str]:
    args: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--build-arg {value[:40]!r} is not KEY=VALUE")
        args[key.strip()] = val
    return args


@image.command("build", context_settings=CONTEXT_SETTINGS)
@click.argument("file_path", type=click.Path(dir_okay=False))
@click.option("-swr", "--swr-path", default=None, help="Image path organization/image:tag.")
@click.option(
    "--context",
    type=click.Path(file_okay=False),
    default=None,
    help="Build context folder (default: the Dockerfile's folder).",
)
@click.option(
    "-arg", "--build-arg", multiple=True, help="KEY=VALUE for the Dockerfile; repeatable."
)
@click.option("-t", "--target", default=None, help="Also save the image as a tar archive here.")
@click.option(
    "-f", "--force", is_flag=True, help="Overwrite an image with this path in the registry."
)
@common_options
def build(
    file_path: str,
    swr_path: str | None,
    context: str | None,
    build_arg: tuple[str, ...],
    target: str | None,
    force: bool,
) -> None:
    """Build an image from a Dockerfile and push it to the configured registry.

    The builder is docker, buildah or buildctl, whichever the machine has. With a registry
    configured (MA_SWR_ENDPOINT or swr_endpoint in the profile) the image is pushed as
    <registry>/<swr-path>; without one it is kept locally as <swr-path>.

    \b
    Examples:
      ma-cli image build .ma/customize_from_ubuntu_to_modelarts/Dockerfile -swr my-org/img:0.1
      ma-cli image build Dockerfile -swr my-org/img:0.1 --context . -arg BASE_IMAGE=ubuntu:22.04
      ma-cli image build Dockerfile --target ./build.tar
    """
    dockerfile = Path(file_path)
    if not dockerfile.is_file():
        raise CliError(f"Dockerfile {file_path[:80]} does not exist")
    ctx = Path(context) if context else dockerfile.resolve().parent
    if not ctx.is_dir():
        raise CliError(f"build context {str(ctx)[:80]} is not a folder")
    if not swr_path and not target:
        raise CliError("give --swr-path ORG/IMAGE:TAG (push) or --target FILE.tar (save), or both")
    args = _build_args(build_arg)
    builder = _builder()
    registry = _registry() if swr_path else ""
    ref = ""
    swr: SwrPath | None = None
    if swr_path:
        swr = _swr(swr_path, registry)
        ref = f"{registry}/{swr.path}" if registry else swr.path
        if registry and not force:
            try:
                found = RegistryClient(registry).manifest(swr)
            except CatalogError as e:
                raise CliError(str(e)) from None
            if found is not None:
                raise CliError(f"{ref} exists in the registry; pass --force to overwrite it")
    else:
        ref = "ma-notebook/build:" + os.urandom(4).hex()
    if swr_path:
        # Images built on a notebook image re-record Save Image's baseline naming themselves.
        args.setdefault("IMAGE_REF", ref)
    click.echo(f"Building {ref} with {builder.describe()}", err=True)
    try:
        builder.build(dockerfile, ctx, [ref], args, output=_echo_line)
        if registry:
            click.echo(f"Pushing {ref}", err=True)
            builder.push(ref, output=_echo_line)
        if target:
            builder.save(ref, Path(target))
            if not swr_path:
                builder.remove_image(ref)
    except BuilderError as e:
        raise CliError(str(e)) from None
    if swr_path:
        where = "pushed to " + registry if registry else "kept locally (no registry configured)"
        click.echo(f"[OK] Successfully built {ref}, {where}")
    if target:
        click.echo(f"[OK] Saved the image to {target}")


@image.command("build-base", context_settings=CONTEXT_SETTINGS)
@click.option("-t", "--tag", default="ma-notebook/notebook-base:latest", show_default=True)
@click.option(
    "--base-image",
    default="ubuntu:22.04",
    show_default=True,
    help="The OS image to start FROM (Debian or Ubuntu).",
)
@click.option(
    "--python-installer",
    type=click.Choice(["conda", "venv"]),
    default="conda",
    show_default=True,
    help="conda (Miniforge, needs the internet) or venv (only package registries).",
)
@click.option("-arg", "--build-arg", multiple=True, help="More KEY=VALUE build args; repeatable.")
@click.option(
    "--no-host-ca", is_flag=True, help="Do not trust this machine's added CAs in the image."
)
@common_options
def build_base(
    tag: str, base_image: str, python_installer: str, build_arg: tuple[str, ...], no_host_ca: bool
) -> None:
    """Build the ma-notebook base image from this checkout's images/base/ and wheel."""
    import tempfile

    args = {"BASE_IMAGE": base_image, "PYTHON_INSTALLER": python_installer, "IMAGE_REF": tag}
    args.update(_build_args(build_arg))
    builder = _builder()
    with tempfile.TemporaryDirectory(prefix="ma-base-") as tmp:
        try:
            ctx = prepare_base_context(Path(tmp) / "context", host_ca=not no_host_ca)
            click.echo(f"Building {tag} with {builder.describe()}", err=True)
            builder.build(ctx / "Dockerfile", ctx, [tag], args, output=_echo_line)
        except BuilderError as e:
            raise CliError(str(e)) from None
    click.echo(f"[OK] Successfully built {tag}")


# ---------------------------------------------------------------- cache


def _cache_table(records: list[Any]) -> None:
    click.echo(f"{'ID':<28}{'RECLAIMABLE':<13}{'SIZE':<12}LAST ACCESSED")
    for r in records:
        shared = "*" if r.shared else ""
        click.echo(
            f"{(r.id[:25] + shared):<28}{str(r.reclaimable).lower():<13}"
            f"{human_size(r.size):<12}{r.last_used_at}"
        )


@image.command("df", context_settings=CONTEXT_SETTINGS)
@click.option("-v", "--verbose", is_flag=True, help="Show every detail of each cache entry.")
@common_options
def df(verbose: bool) -> None:
    """Query the disk usage of the image builder's cache.

    \b
    Example:
      ma-cli image df
    """
    builder = _builder()
    try:
        records = builder.df()
    except BuilderError as e:
        raise CliError(str(e)) from None
    if verbose:
        for r in records:
            click.echo(f"ID:           {r.id}")
            if r.parents:
                click.echo(f"Parents:      {', '.join(r.parents)}")
            click.echo(f"Created at:   {r.created_at}")
            click.echo(f"Mutable:      {str(r.type == 'mutable').lower()}")
            click.echo(f"Reclaimable:  {str(r.reclaimable).lower()}")
            click.echo(f"Shared:       {str(r.shared).lower()}")
            click.echo(f"Size:         {human_size(r.size)}")
            click.echo(f"Description:  {r.description}")
            click.echo(f"Usage count:  {r.usage_count}")
            click.echo(f"Last used:    {r.last_used_at}")
            click.echo(f"Type:         {r.type}")
            click.echo("")
    else:
        _cache_table(records)
    reclaimable = sum(r.size for r in records if r.reclaimable)
    click.echo(f"Reclaimable: {human_size(reclaimable)}")
    click.echo(f"Total: {human_size(sum(r.size for r in records))}")


@image.command("prune", context_settings=CONTEXT_SETTINGS)
@click.option(
    "-ks",
    "--keep-storage",
    type=click.IntRange(min=0),
    default=0,
    help="Keep this much cache, in MB (default 0: clear all).",
)
@click.option(
    "-kd",
    "--keep-duration",
    default="0s",
    help="Keep cache newer than this: seconds (s), minutes (m), hours (h) (default 0s).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show more verbose output.")
@common_options
def prune(keep_storage: int, keep_duration: str, verbose: bool) -> None:
    """Prune the image builder's cache.

    \b
    Example:
      ma-cli image prune -ks 1 -kd 1h
    """
    try:
        seconds = parse_duration(keep_duration)
    except ValueError as e:
        raise CliError(str(e)) from None
    builder = _builder()
    try:
        result = builder.prune(keep_storage * 1_000_000, seconds)
    except BuilderError as e:
        raise CliError(str(e)) from None
    _cache_table(result.deleted)
    if verbose:
        click.echo(f"Deleted {len(result.deleted)} cache entries.")
    click.echo(f"Total: {human_size(result.reclaimed)}")


# ---------------------------------------------------------------- catalogue


def _catalog() -> Catalog:
    try:
        return Catalog()
    except Exception as e:
        raise CliError(f"cannot open the image catalogue: {e}") from None


@image.command("register", context_settings=CONTEXT_SETTINGS)
@click.option("-swr", "--swr-path", required=True, help="Image path organization/image:tag.")
@click.option(
    "-a",
    "--arch",
    type=click.Choice(ARCHES, case_sensitive=False),
    default="X86_64",
    help="Image architecture (default X86_64).",
)
@click.option(
    "-s",
    "--service",
    type=click.Choice(SERVICES, case_sensitive=False),
    multiple=True,
    help="Services supported by this image (default NOTEBOOK); repeatable.",
)
@click.option(
    "-rs",
    "--resource-category",
    type=click.Choice(RESOURCE_CATEGORIES, case_sensitive=False),
    multiple=True,
    help="Resource categories (default CPU and GPU); repeatable.",
)
@click.option("-wi", "--workspace-id", default="0", help='Workspace (default "0").')
@click.option(
    "-v",
    "--visibility",
    type=click.Choice(VISIBILITIES, case_sensitive=False),
    default="PRIVATE",
    help="PUBLIC: every user can use it; PRIVATE: only its owner.",
)
@click.option("-d", "--description", default="", help="Image description.")
@click.option(
    "--type",
    "image_type",
    type=click.Choice(IMAGE_TYPES, case_sensitive=False),
    default="DEDICATED",
    help="DEDICATED (custom, default) or BUILD_IN (a preset for everyone).",
)
@common_options
def register(
    swr_path: str,
    arch: str,
    service: tuple[str, ...],
    resource_category: tuple[str, ...],
    workspace_id: str,
    visibility: str,
    description: str,
    image_type: str,
) -> None:
    """Register an image in the image catalogue.

    \b
    Examples:
      ma-cli image register --swr-path=my-org/my-image:0.0.1
      ma-cli image register -swr my-org/my-image:0.0.1 --arch AARCH64 -rs CPU -rs ASCEND
    """
    if len(description) > 512:
        raise CliError("--description is longer than 512 characters")
    if not workspace_id.isalnum() or len(workspace_id) > 64:
        raise CliError(f"--workspace-id {workspace_id[:20]!r} must be letters and digits")
    registry = _registry()
    swr = _swr(swr_path, registry)
    size, digest = 0, ""
    if registry:
        try:
            found = RegistryClient(registry).manifest(swr)
        except CatalogError as e:
            raise CliError(str(e)) from None
        if found is None:
            raise CliError(
                f"{registry}/{swr.path} is not in the registry; push it first "
                "(ma-cli image build ... --swr-path)"
            )
        size, digest = found["size"], found["digest"]
    else:
        builder = _builder()
        try:
            if not builder.image_exists(swr.path):
                raise CliError(
                    f"{swr.path} is neither in a configured registry nor a local image; build it "
                    "first (ma-cli image build ... --swr-path) or set MA_SWR_ENDPOINT"
                )
            size = builder.image_size(swr.path)
        except BuilderError as e:
            raise CliError(str(e)) from None
    services = list_choices(service or ("NOTEBOOK",), SERVICES, "service")
    try:
        record = _catalog().add(
            swr,
            registry=registry,
            arch=arch.upper(),
            type=image_type.upper(),
            origin="BUILD_IN" if image_type.upper() == "BUILD_IN" else "CUSTOMIZE",
            dev_services=services + (["SSH"] if "NOTEBOOK" in services else []),
            resource_categories=list_choices(
                resource_category or ("CPU", "GPU"), RESOURCE_CATEGORIES, "resource category"
            ),
            visibility=visibility.upper(),
            description=description,
            size=size,
            digest=digest,
            workspace_id=workspace_id,
        )
    except CatalogError as e:
        raise CliError(str(e)) from None
    click.echo("[OK] Successfully registered this image and image information is")
    click.echo(json.dumps(record.to_json(), indent=2))


@image.command("unregister", context_settings=CONTEXT_SETTINGS)
@click.option("-i", "--image-id", required=True, help="The image id (get-image lists them).")
@click.option(
    "-d",
    "--delete-swr-image",
    "--delete",
    "delete",
    is_flag=True,
    help="Also delete the image from the registry (or the local store).",
)
@common_options
def unregister(image_id: str, delete: bool) -> None:
    """Unregister an image from the catalogue.

    \b
    Examples:
      ma-cli image unregister --image-id=xx
      ma-cli image unregister --image-id=xx -d
    """
    catalog = _catalog()
    try:
        record = catalog.get(image_id)
    except CatalogError as e:
        raise CliError(str(e)) from None
    if delete:
        registry = _registry()
        try:
            if registry and record.swr_path.startswith(registry + "/"):
                RegistryClient(registry).delete(parse_swr_path(record.swr_path, registry))
            else:
                _builder().remove_image(record.swr_path)
        except (CatalogError, BuilderError) as e:
            raise CliError(f"{e}; the image stays registered") from None
    catalog.remove(record.id)
    deleted = " and deleted the image" if delete else ""
    click.echo(f"[OK] Successfully unregistered image {record.id} ({record.swr_path}){deleted}")


def _get_image(
    image_type: str,
    filter_: str,
    verbose: bool,
    image_id: str | None,
    image_name: str | None,
    workspace_id: str | None,
    page_num: int,
    page_size: int,
) -> None:
    catalog = _catalog()
    if image_id:
        try:
            click.echo(json.dumps(catalog.get(image_id).to_json(), indent=2))
        except CatalogError as e:
            raise CliError(str(e)) from None
        return
    records = catalog.list(
        image_type=image_type.upper(),
        name_filter=filter_,
        name=image_name or "",
        workspace_id=workspace_id,
    )
    records = _page(records, page_num, page_size)
    if verbose:
        click.echo(json.dumps([r.to_json() for r in records], indent=2))
        return
    if not records:
        click.echo("No registered image matches.")
        return
    width = max(len("NAME"), *(len(r.name) for r in records))
    click.echo(f"{'INDEX':<7}{'IMAGE ID':<34}{'NAME'.ljust(width)}  {'TYPE':<10}SWR PATH")
    for i, r in enumerate(records, start=(page_num - 1) * page_size + 1):
        click.echo(f"{i:<7}{r.id:<34}{r.name.ljust(width)}  {r.type:<10}{r.swr_path}")


_get_image_options = [
    click.option(
        "-t",
        "--type",
        "image_type",
        type=click.Choice(["BUILD_IN", "DEDICATED", "ALL"], case_sensitive=False),
        default="ALL",
        help="Image type (default ALL).",
    ),
    click.option("-f", "--filter", "filter_", default="", help="Keyword in the image name."),
    click.option("-v", "--verbose", is_flag=True, help="Show every field of each image."),
    click.option("-i", "--image-id", default=None, help="Show one image by id."),
    click.option("-n", "--image-name", default=None, help="Images with exactly this name."),
    click.option("-wi", "--workspace-id", default=None, help="Only this workspace's images."),
    page_num_option,
    page_size_option,
]


def _with_get_image_options(fn: Any) -> Any:
    for option in reversed(_get_image_options):
        fn = option(fn)
    return fn


@image.command("get-image", context_settings=CONTEXT_SETTINGS)
@_with_get_image_options
@common_options
def get_image(**kwargs: Any) -> None:
    """List registered images.

    \b
    Examples:
      ma-cli image get-image --type=DEDICATED
      ma-cli image get-image --filter=torch -v
    """
    _get_image(**kwargs)


@image.command("gi", context_settings=CONTEXT_SETTINGS, hidden=True)
@_with_get_image_options
@common_options
def gi(**kwargs: Any) -> None:
    """Alias of get-image."""
    _get_image(**kwargs)


# ---------------------------------------------------------------- debug


@image.command("debug", context_settings=CONTEXT_SETTINGS)
@click.option("--image", "image_ref", default=None, help="Local image or full reference to check.")
@click.option("-swr", "--swr-path", default=None, help="Image path organization/image:tag.")
@click.option(
    "-s",
    "--service",
    type=click.Choice(SERVICES, case_sensitive=False),
    default="NOTEBOOK",
    help="Service to check the image for (default NOTEBOOK).",
)
@click.option(
    "-a",
    "--arch",
    type=click.Choice(ARCHES, case_sensitive=False),
    default="X86_64",
    help="Image architecture (default X86_64).",
)
@click.option("-g", "--gpu", is_flag=True, help="Give the container all GPUs.")
@click.option(
    "--timeout",
    type=click.IntRange(min=5, max=1800),
    default=120,
    help="Seconds to wait for JupyterLab to answer (default 120).",
)
@common_options
def debug(
    image_ref: str | None, swr_path: str | None, service: str, arch: str, gpu: bool, timeout: int
) -> None:
    """Run an image locally and check it against the notebook image specification.

    Prints one PASS/FAIL row per rule (ma-user UID 1000, ma-group GID 100, home ownership,
    an ipykernel and a kernel per environment, README, sshd, JupyterLab started as ma-user
    with the ma-notebook extension) and exits 1 when any rule fails.

    \b
    Examples:
      ma-cli image debug --image ma-notebook/notebook-base:latest
      ma-cli image debug --swr-path my-org/my-image:0.0.1
    """
    from ..images.debug import ImageDebugger, format_table

    if bool(image_ref) == bool(swr_path):
        raise CliError("give either --image REF or --swr-path ORG/IMAGE:TAG")
    if swr_path:
        registry = _registry()
        swr = _swr(swr_path, registry)
        ref = f"{registry}/{swr.path}" if registry else swr.path
    else:
        ref = str(image_ref)
    if service.upper() != "NOTEBOOK":
        raise CliError(f"debug checks NOTEBOOK images; {service} has no rules yet")
    docker = _docker()
    checks = ImageDebugger(docker, ref, timeout=timeout, gpu=gpu, output=_echo_line).run()
    click.echo(format_table(checks))
    failed = [c.rule for c in checks if not c.ok]
    if failed:
        raise CliError(f"{ref} does not meet the notebook image spec: {', '.join(failed)}")
    click.echo(f"[OK] {ref} meets the notebook image spec")


image.add_command(save_cmd)

commands = [image]
