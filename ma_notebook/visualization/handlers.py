"""REST API of the visualization launcher, and the authenticated proxy to each instance."""

from __future__ import annotations

import inspect
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server_proxy.handlers import LocalProxyHandler, ProxyHandler
from tornado import web

from ..api import ApiError, endpoint, quote
from ..base import AUTH_RESOURCE, MaAPIHandler, api_path
from .models import (
    InstanceList,
    InstanceModel,
    LaunchRequest,
    StoppedResponse,
    SuggestQuery,
    SuggestResponse,
    ToolQuery,
    ToolsResponse,
)
from .service import PROXY_PREFIX, VisualizationError, VisualizationService
from .tools import absolute_asset_rewriter

#: Request headers that carry the user's Jupyter credentials; tools never see them.
CREDENTIAL_HEADERS = ("Authorization", "Cookie", "X-Xsrftoken", "X-Xsrf-Token")
#: Query arguments that carry them (``?token=`` logins); stripped from what is forwarded.
CREDENTIAL_QUERY = ("token", "_xsrf")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_PREPARE_REDIRECTS = "_redirect_to_login" in inspect.signature(JupyterHandler.prepare).parameters


class _VisualizationHandler(MaAPIHandler):
    @property
    def visualization(self) -> VisualizationService:
        return self.service("visualization")  # type: ignore[no-any-return]


class ToolsHandler(_VisualizationHandler):
    """GET: which tools are installed where, how to install the others, the default folder."""

    @web.authenticated
    @authorized
    @endpoint(response=ToolsResponse, summary="Visualization tools and where they are")
    async def get(self) -> None:
        service = self.visualization
        self.write_json({"tools": service.tools_info(), "default_folder": service.default_folder})


class SuggestHandler(_VisualizationHandler):
    """GET ?tool=&cwd=: the folder a launcher proposes (cwd when it holds summaries)."""

    @web.authenticated
    @authorized
    @endpoint(query=SuggestQuery, response=SuggestResponse, summary="The folder to propose")
    async def get(self, query: SuggestQuery) -> None:
        service = self.visualization
        self.write_json(service.suggest_folder(service.tool(query.tool), query.cwd))


class InstancesHandler(_VisualizationHandler):
    """GET lists instances (?tool=); POST {tool, folder} starts or reuses one; DELETE stops all."""

    @web.authenticated
    @authorized
    @endpoint(query=ToolQuery, response=InstanceList, summary="List instances")
    async def get(self, query: ToolQuery) -> None:
        service = self.visualization
        root = service.root_dir
        self.write_json({"instances": [i.to_json(root) for i in service.instances_of(query.tool)]})

    @web.authenticated
    @authorized
    @endpoint(body=LaunchRequest, response=InstanceModel, status=201, errors=(400, 409, 503))
    async def post(self, body: LaunchRequest) -> None:
        service = self.visualization
        instance, created = await service.launch(body.tool, body.folder)
        self.write_json(instance.to_json(service.root_dir), status=201 if created else 200)

    @web.authenticated
    @authorized
    @endpoint(query=ToolQuery, response=StoppedResponse, summary="Stop every instance")
    async def delete(self, query: ToolQuery) -> None:
        stopped = await self.visualization.shutdown_all(query.tool)
        self.write_json({"stopped": [i.id for i in stopped]})


class InstanceHandler(_VisualizationHandler):
    """GET one instance (with its last log lines when it exited); DELETE shuts it down."""

    @web.authenticated
    @authorized
    @endpoint(response=InstanceModel, errors=(404,), summary="One instance")
    async def get(self, instance_id: str) -> None:
        service = self.visualization
        instance = service.get(instance_id)
        if instance is None:
            raise ApiError(404, f"No visualization instance {quote(instance_id)}: it stopped.")
        data = instance.to_json(service.root_dir)
        data.setdefault("log_tail", instance.log_tail())
        self.write_json(data)

    @web.authenticated
    @authorized
    @endpoint(response=InstanceModel, errors=(404,), summary="Shut an instance down")
    async def delete(self, instance_id: str) -> None:
        service = self.visualization
        instance = await service.shutdown(instance_id)
        if instance is None:
            raise ApiError(404, f"No visualization instance {quote(instance_id)}: already stopped.")
        self.write_json(instance.to_json(service.root_dir))


class VisualizationProxyHandler(ExtensionHandlerMixin, LocalProxyHandler):
    """Proxies HTTP, streaming and websockets to one instance, for authenticated users only."""

    auth_resource = AUTH_RESOURCE

    async def prepare(self, *args: Any, **kwargs: Any) -> None:
        """Jupyter's own authentication, applied once: 403 without a login."""
        # jupyter-server-proxy's prepare() authenticates a second time, which fails with
        # "Cannot redirect after headers have been written" when Jupyter already redirected;
        # and a login page inside the tab's iframe helps nobody.
        if _PREPARE_REDIRECTS:
            await super(ProxyHandler, self).prepare(_redirect_to_login=False)
        else:  # jupyter_server < 2.13 never redirects here
            await super(ProxyHandler, self).prepare()
        if not self._finished and not self.current_user:
            raise web.HTTPError(403, "Log in to JupyterLab to open visualizations.")

    def _target(self, tool: str, instance_id: str) -> Any:
        service: VisualizationService = self.extensionapp.services["visualization"]  # type: ignore[attr-defined]
        instance = service.get(instance_id)
        if instance is None or instance.tool.name != tool:
            raise web.HTTPError(
                404, f"No {tool} instance {instance_id}: start it again from the launcher."
            )
        return service, instance

    async def _forward(self, tool: str, instance_id: str, path: str) -> Any:
        service, instance = self._target(tool, instance_id)
        if self.request.method not in SAFE_METHODS and not self.check_origin():
            # The tools know nothing of Jupyter's XSRF token, so cross-site writes are refused
            # by origin (Jupyter's allow_origin settings apply).
            raise web.HTTPError(403, "Cross-origin requests to visualizations are refused.")
        try:
            await service.wait_ready(instance)
        except VisualizationError as e:
            raise web.HTTPError(503, e.message) from e
        self.proxy_base = instance.proxy_base
        self.rewrite_response = [absolute_asset_rewriter(instance.prefix)]
        return await super(LocalProxyHandler, self).proxy("127.0.0.1", instance.port, path)

    def proxy_request_headers(self) -> Any:
        """The browser's headers minus its Jupyter credentials."""
        headers = super().proxy_request_headers()
        for name in CREDENTIAL_HEADERS:
            headers.pop(name, None)
        return headers

    def get_client_uri(self, protocol: str, host: str, port: int, proxied_path: str) -> Any:
        """The tool's URL for this request, without Jupyter's ``token`` / ``_xsrf`` arguments."""
        query = self.request.query
        if query:
            kept = [
                (k, v)
                for k, v in parse_qsl(query, keep_blank_values=True)
                if k not in CREDENTIAL_QUERY
            ]
            self.request.query = urlencode(kept)
        try:
            return super().get_client_uri(protocol, host, port, proxied_path)
        finally:
            self.request.query = query

    @web.authenticated
    @authorized
    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await super().get(*args, **kwargs)

    async def http_get(self, tool: str, instance_id: str, path: str) -> Any:
        return await self._forward(tool, instance_id, path)

    async def open(self, tool: str, instance_id: str, path: str) -> Any:
        _, instance = self._target(tool, instance_id)
        self.proxy_base = instance.proxy_base
        return await self.proxy_open("127.0.0.1", instance.port, path)

    @web.authenticated
    @authorized
    async def post(self, tool: str, instance_id: str, path: str) -> Any:
        return await self._forward(tool, instance_id, path)

    @web.authenticated
    @authorized
    async def put(self, tool: str, instance_id: str, path: str) -> Any:
        return await self._forward(tool, instance_id, path)

    @web.authenticated
    @authorized
    async def delete(self, tool: str, instance_id: str, path: str) -> Any:
        return await self._forward(tool, instance_id, path)

    @web.authenticated
    @authorized
    async def head(self, tool: str, instance_id: str, path: str) -> Any:
        return await self._forward(tool, instance_id, path)

    @web.authenticated
    @authorized
    async def patch(self, tool: str, instance_id: str, path: str) -> Any:
        return await self._forward(tool, instance_id, path)

    @web.authenticated
    @authorized
    async def options(self, tool: str, instance_id: str, path: str) -> Any:
        return await self._forward(tool, instance_id, path)


default_handlers = [
    (api_path("visualization", "tools"), ToolsHandler),
    (api_path("visualization", "suggest"), SuggestHandler),
    (api_path("visualization", "instances"), InstancesHandler),
    (api_path("visualization", "instances", r"(?P<instance_id>[^/]+)"), InstanceHandler),
    (
        "/" + PROXY_PREFIX + r"/(?P<tool>[^/]+)/(?P<instance_id>[^/]+)(?P<path>/.*|)",
        VisualizationProxyHandler,
        {"absolute_url": True},
    ),
]
