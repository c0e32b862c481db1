"""An unreachable endpoint answers a 4xx message the user can act on, never a traceback."""

from __future__ import annotations

import pytest
from fixtures_obs import TEST_SK
from ma_fixtures import free_port


@pytest.fixture
def ma_config(obs_clean_env):
    return {
        "ObsService": {
            "endpoint": f"http://127.0.0.1:{free_port()}",
            "access_key": "ak",
            "secret_key": TEST_SK,
        }
    }


async def test_unreachable_endpoint_gives_an_actionable_error(api):
    status, info = await api("info")
    assert info["capabilities"]["obs"]["store"] == "endpoint"
    status, err = await api("obs/buckets")
    assert status == 400
    assert "unreachable" in err["message"] and "endpoint" in err["message"]
    assert TEST_SK not in str(err) and "Traceback" not in str(err)
