"""The Remote SSH panel: enable sshd, create a key (a real download), copy the VS Code block."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_ssh import connect, private_key, run, ssh_cli_args
from ma_fixtures import LabPage, free_port

pytestmark = pytest.mark.browser


def test_remote_ssh_panel_enables_sshd_downloads_a_key_and_edits_the_whitelist(
    browser, lab_factory
):
    port = free_port()
    lab = lab_factory(extra_args=ssh_cli_args(port))
    context = browser.new_context(
        viewport={"width": 1400, "height": 900},
        accept_downloads=True,
        permissions=["clipboard-read", "clipboard-write"],
    )
    try:
        page = context.new_page()
        page.set_default_timeout(30000)
        lab_page = LabPage(page, lab).open()
        page.wait_for_function(
            "() => window.jupyterapp.isPluginActivated('ma-notebook:remote-ssh')"
        )
        lab_page.execute("ma-notebook:open-remote-ssh")
        panel = page.locator("#ma-notebook-ssh")
        panel.locator(".ma-Ssh-state.ma-mod-stopped").wait_for()
        panel.locator(".ma-Ssh-enable").click()
        panel.locator(".ma-Ssh-state.ma-mod-running").wait_for()
        _, status = lab.request("ma-notebook/api/ssh")
        user = status["user"]
        address = panel.locator(".ma-Ssh-address code").inner_text()
        assert address == f"ssh://{user}@127.0.0.1:{port}"
        if status["is_root"]:
            panel.locator(".ma-Ssh-root").wait_for()  # the panel says SSH logs in as root

        panel.locator(".ma-Ssh-keyNameInput").fill("browser-key")
        with page.expect_download() as info:
            panel.locator(".ma-Ssh-createKey").click()
        download = info.value
        assert download.suggested_filename == "browser-key.pem"
        pem = Path(download.path()).read_text()
        assert pem.startswith("-----BEGIN OPENSSH " + "PRIVATE KEY-----")
        panel.locator('.ma-Ssh-key[data-name="browser-key"]').wait_for()
        with page.expect_download() as info:
            panel.locator(".ma-Ssh-downloadPpk").click()
        assert info.value.suggested_filename == "browser-key.ppk"
        assert Path(info.value.path()).read_text().startswith("PuTTY-User-Key-File-3:")

        # The downloaded key logs in to the real sshd.
        client = connect(port, private_key(pem), user)
        assert run(client, "echo from-browser-key") == "from-browser-key\n"
        client.close()

        block = panel.locator('.ma-Ssh-block[data-block="openssh"]')
        block.locator("pre", has_text="IdentityFile ~/.ssh/browser-key.pem").wait_for()
        text = block.locator("pre").inner_text()
        assert f"    Port {port}\n" in text and text.startswith("Host ma-notebook\n")
        block.locator(".ma-Ssh-copy").click()
        block.locator(".ma-Ssh-copy", has_text="Copied").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == text
        vscode = panel.locator('.ma-Ssh-block[data-block="vscode"] a.ma-Ssh-vscodeLink')
        assert vscode.get_attribute("href").startswith("vscode://vscode-remote/ssh-remote+")

        panel.locator(".ma-Ssh-tunnel").check()
        block.locator("pre", has_text="ProxyCommand ma-cli ssh-proxy").wait_for()
        panel.locator('.ma-Ssh-block[data-block="server-file"]').wait_for()
        panel.locator(".ma-Ssh-tunnel").uncheck()

        panel.locator(".ma-Ssh-wlInput").fill("127.0.0.1")
        panel.locator(".ma-Ssh-wlAdd").click()
        panel.locator('.ma-Ssh-wlEntry[data-entry="127.0.0.1"]').wait_for()
        panel.locator(".ma-Ssh-wlInput").fill("300.1.2.3")
        panel.locator(".ma-Ssh-wlAdd").click()
        error = panel.locator(".ma-Ssh-wlError")
        error.wait_for()
        assert "'300.1.2.3' is not an IPv4 / IPv6 address" in error.inner_text()
        _, data = lab.request("ma-notebook/api/ssh/whitelist")
        assert data["entries"] == ["127.0.0.1"]
        # The refused entry's 400 is the only error the console saw.
        assert all("400" in e for e in lab_page.our_errors()), lab_page.our_errors()
    finally:
        context.close()
