"""Browser tests drive Playwright's sync API, which runs its own event loop.

pytest-jupyter's autouse loop fixtures would fight with it, so they are neutralised here; the
browser tests talk to real JupyterLab processes, never to an in-process server.
"""

import pytest


@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup():
    yield
