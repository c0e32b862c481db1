"""Docker HEALTHCHECK: JupyterLab answers its unauthenticated /api route on the notebook port."""

import os
import sys
import urllib.request

port = os.environ.get("NOTEBOOK_PORT", "8888")
base = "/" + os.environ.get("NOTEBOOK_BASE_URL", "/").strip("/")
url = f"http://127.0.0.1:{port}{base.rstrip('/')}/api"
try:
    with urllib.request.urlopen(url, timeout=4) as resp:  # noqa: S310 - loopback only
        sys.exit(0 if resp.status == 200 else 1)
except OSError as e:
    print(f"{url}: {e}", file=sys.stderr)
    sys.exit(1)
