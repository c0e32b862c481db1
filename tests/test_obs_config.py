"""OBS settings precedence, profile file, presign signatures and user-facing error messages."""

from __future__ import annotations

import json
import stat
import time

import pytest
from botocore.exceptions import ClientError
from fixtures_obs import TEST_AK, TEST_SK

from ma_notebook.obs.config import read_profiles, resolve_settings, write_profile
from ma_notebook.obs.errors import NO_PERMISSION, translate
from ma_notebook.obs.paths import ObsPath
from ma_notebook.obs.store import PresignSigner


def client_error(code: str, status: int, message: str = "") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "GetObject",
    )


def test_settings_come_from_config_then_environment_then_profile(tmp_path):
    profile = tmp_path / "profile.yaml"
    write_profile(
        {
            "access_key": "AK-PROFILE",
            "secret_key": "SK-PROFILE",
            "region": "cn-north-4",
            "obs_endpoint": "https://obs.profile.example.com",
        },
        "DEFAULT",
        profile,
    )
    write_profile({"access_key": "AK-OTHER", "secret_key": "SK-OTHER"}, "other", profile)
    assert stat.S_IMODE(profile.stat().st_mode) == 0o600
    assert set(read_profiles(profile)) == {"DEFAULT", "other"}

    s = resolve_settings(env={}, profile_file=profile, local_root="/x")
    assert (s.access_key, s.region, s.endpoint) == (
        "AK-PROFILE",
        "cn-north-4",
        "https://obs.profile.example.com",
    )
    assert s.sources["access_key"] == "profile:DEFAULT"

    env = {
        "HUAWEICLOUD_SDK_AK": "AK-ENV",
        "HUAWEICLOUD_SDK_SK": "SK-ENV",
        "AWS_ACCESS_KEY_ID": "AK-AWS",
        "AWS_SECRET_ACCESS_KEY": "SK-AWS",
    }
    s = resolve_settings(env=env, profile_file=profile, local_root="/x")
    assert (s.access_key, s.secret_key) == ("AK-ENV", "SK-ENV")
    assert s.region == "cn-north-4"  # still from the profile

    s = resolve_settings(
        {"access_key": "AK-CONF", "secret_key": "SK-CONF", "region": "r-conf"},
        env=env,
        profile_file=profile,
        local_root="/x",
    )
    assert (s.access_key, s.secret_key, s.region) == ("AK-CONF", "SK-CONF", "r-conf")

    s = resolve_settings(env={}, profile="other", profile_file=profile, local_root="/x")
    assert s.access_key == "AK-OTHER"
    with pytest.raises(Exception, match="No profile 'missing'"):
        resolve_settings(env={}, profile="missing", profile_file=profile, local_root="/x")
    with pytest.raises(Exception, match="no secret key"):
        resolve_settings(env={"AWS_ACCESS_KEY_ID": "x"}, profile_file=tmp_path / "none.yaml")

    s = resolve_settings(env={}, profile_file=tmp_path / "none.yaml", local_root="/data/obs")
    assert s.mode == "embedded" and s.public_info() == {"store": "embedded", "root": "/data/obs"}


def test_addressing_style_virtual_for_domains_path_for_ips_and_localhost(tmp_path):
    none = tmp_path / "none.yaml"
    s = resolve_settings(
        env={"HUAWEICLOUD_SDK_AK": "a", "HUAWEICLOUD_SDK_SK": "b", "MA_OBS_REGION": "cn-north-4"},
        profile_file=none,
    )
    assert s.effective_endpoint() == "https://obs.cn-north-4.myhuaweicloud.com"
    assert s.effective_addressing_style() == "virtual"
    cases = [
        ("http://127.0.0.1:9000", "path"),
        ("http://localhost:9000", "path"),
        ("http://[::1]:9000", "path"),
        ("https://minio.example.com", "virtual"),
    ]
    for endpoint, style in cases:
        s = resolve_settings(env={"MA_OBS_ENDPOINT": endpoint}, profile_file=none)
        assert s.effective_addressing_style() == style, endpoint
    s = resolve_settings(
        {"addressing_style": "path"},
        env={"MA_OBS_ENDPOINT": "https://minio.example.com"},
        profile_file=none,
    )
    assert s.effective_addressing_style() == "path"


def test_secrets_stay_out_of_reprs_info_and_messages(tmp_path):
    s = resolve_settings(
        {
            "access_key": TEST_AK,
            "secret_key": TEST_SK,
            "security_token": "TOKEN-123456",
            "endpoint": "http://127.0.0.1:1",
        },
        env={},
        profile_file=tmp_path / "none.yaml",
    )
    text = repr(s) + json.dumps(s.public_info())
    assert TEST_SK not in text and "TOKEN-123456" not in text and TEST_AK not in text
    err = translate(
        client_error("InternalError", 500, f"bad signature for {TEST_SK}"), "obs://b/k", s.secrets
    )
    assert TEST_SK not in err.message and "***" in err.message


def test_errors_users_can_act_on():
    err = translate(client_error("AccessDenied", 403), "obs://b/k")
    assert err.status == 403 and err.message.startswith(NO_PERMISSION)
    assert "same region" in err.message
    err = translate(client_error("RequestTimeTooSkewed", 403))
    assert err.reason == "clock_skew" and "clock" in err.message
    err = translate(client_error("NoSuchBucket", 404), "obs://nob/")
    assert err.status == 404 and "bucket does not exist" in err.message
    err = translate(client_error("NoSuchKey", 404), "obs://b/k")
    assert err.status == 404 and "obs://b/k" in err.message
    err = translate(client_error("InvalidAccessKeyId", 403))
    assert err.status == 403 and "ma-cli configure" in err.message
    err = translate(client_error("SlowDown", 503))
    assert err.status == 502 and err.reason == "store_failed"


def test_presign_signatures_are_bound_to_the_request_and_expire():
    signer = PresignSigner(b"k" * 32)
    exp = str(int(time.time()) + 60)
    sig = signer.sign(exp, "get", "bucket", "key", "", "", "")
    assert signer.verify(sig, exp, "get", "bucket", "key", "", "", "")
    assert not signer.verify(sig, exp, "get", "bucket", "other", "", "", "")
    assert not signer.verify(sig, exp, "part", "bucket", "key", "", "", "")
    assert not signer.verify(sig, str(int(exp) + 1), "get", "bucket", "key", "", "", "")
    assert not PresignSigner(b"x" * 32).verify(sig, exp, "get", "bucket", "key", "", "", "")
    past = str(int(time.time()) - 1)
    assert not signer.verify(
        signer.sign(past, "get", "b", "k", "", "", ""), past, "get", "b", "k", "", "", ""
    )


def test_obs_paths_parse_and_refuse_bad_names():
    p = ObsPath.parse("obs://bucket-1/a/b.txt")
    assert (p.bucket, p.key, p.name, p.is_folder) == ("bucket-1", "a/b.txt", "b.txt", False)
    assert str(ObsPath.parse("s3://bucket-1/a/").child("c")) == "obs://bucket-1/a/c"
    for bad in ["obs://UPPER/x", "obs://ab/x", "obs://b../x", "obs://bucket-1/../etc", "/tmp/x"]:
        with pytest.raises(Exception):  # noqa: B017 - ObsError
            ObsPath.parse(bad)
