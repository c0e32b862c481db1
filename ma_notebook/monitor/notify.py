"""Alarm notifications: a webhook in Alertmanager's JSON format and optional SMTP e-mail."""

from __future__ import annotations

import hashlib
import json
import smtplib
import socket
import ssl
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from ..api import ApiError
from ..netguard import forbidden_address

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(t: float) -> str:
    """A UTC timestamp as Alertmanager writes it."""
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def alert_payload(
    *,
    name: str,
    status: str,
    severity: str,
    labels: dict[str, str],
    summary: str,
    description: str,
    starts_at: float,
    ends_at: float | None,
    external_url: str = "",
) -> dict[str, Any]:
    """One alert wrapped as Alertmanager's webhook (version 4) sends it."""
    all_labels = {"alertname": name, "severity": severity.lower(), **labels}
    fingerprint = hashlib.sha256(json.dumps(all_labels, sort_keys=True).encode()).hexdigest()[:16]
    alert = {
        "status": status,
        "labels": all_labels,
        "annotations": {"summary": summary, "description": description},
        "startsAt": rfc3339(starts_at),
        "endsAt": rfc3339(ends_at) if ends_at else ZERO_TIME,
        "generatorURL": external_url,
        "fingerprint": fingerprint,
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="' + name + '"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "ma-notebook",
        "groupLabels": {"alertname": name},
        "commonLabels": all_labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": external_url,
        "alerts": [alert],
    }


def check_webhook_url(url: str, allow_link_local: bool = False) -> None:
    """Refuse non-HTTP URLs and hosts resolving to metadata/link-local addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(400, "The alarm webhook must be an http:// or https:// URL.")
    if allow_link_local:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as e:
        raise ApiError(400, f"The alarm webhook host cannot be resolved: {e}") from e
    if forbidden_address(infos) is not None:
        raise ApiError(
            400,
            "The alarm webhook host resolves to a link-local/metadata address; set "
            "MonitorService.webhook_allow_link_local = True to allow it.",
        )


async def post_webhook(url: str, payload: dict[str, Any], timeout: float) -> int:
    """POST the payload as JSON; the HTTP status (raises on transport errors and 4xx/5xx)."""
    request = HTTPRequest(
        url,
        method="POST",
        body=json.dumps(payload),
        headers={"Content-Type": "application/json"},
        request_timeout=timeout,
        connect_timeout=timeout,
        follow_redirects=False,
    )
    response = await AsyncHTTPClient().fetch(request)
    return int(response.code)


def send_mail(
    *,
    host: str,
    port: int,
    sender: str,
    recipients: list[str],
    subject: str,
    body: str,
    starttls: bool,
    username: str,
    password: str,
    timeout: float,
) -> None:
    """Send one plain-text e-mail (blocking: run it in an executor)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg.set_content(body)
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        if starttls:
            smtp.starttls(context=ssl.create_default_context())
        if username:
            smtp.login(username, password)
        smtp.send_message(msg)
