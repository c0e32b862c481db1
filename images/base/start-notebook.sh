#!/bin/bash
# Starts JupyterLab as ma-user after the hooks in /usr/local/bin/start-notebook.d/
# (*.sh are sourced, other executables run). Settings come from the environment:
#   NOTEBOOK_PORT (8888), NOTEBOOK_IP (0.0.0.0), NOTEBOOK_BASE_URL (/), JUPYTER_TOKEN,
#   NOTEBOOK_ROOT_DIR (/home/ma-user/work); extra arguments are passed to `jupyter lab`.
set -e
if [ "$(id -u)" = 0 ]; then
    echo "start-notebook.sh: refusing to run JupyterLab as root; the image's user is ma-user" >&2
    exit 1
fi
for hook in /usr/local/bin/start-notebook.d/*; do
    case "$hook" in
    *.sh) echo "start-notebook.sh: sourcing $hook"; source "$hook" ;;
    *) if [ -x "$hook" ]; then echo "start-notebook.sh: running $hook"; "$hook"; fi ;;
    esac
done
exec /home/ma-user/anaconda3/bin/jupyter lab \
    --ip="${NOTEBOOK_IP:-0.0.0.0}" \
    --port="${NOTEBOOK_PORT:-8888}" \
    --no-browser \
    --ServerApp.base_url="${NOTEBOOK_BASE_URL:-/}" \
    --ServerApp.root_dir="${NOTEBOOK_ROOT_DIR:-/home/ma-user/work}" \
    "$@"
