#!/bin/bash
# Starts JupyterHub's single-user server (JupyterLab with ma-notebook) as ma-user after the hooks
# in /usr/local/bin/start-notebook.d/. The hub passes its URL, token, prefix and port in the
# environment (JUPYTERHUB_*); extra arguments go to jupyterhub-singleuser.
set -e
if [ "$(id -u)" = 0 ]; then
    echo "start-singleuser.sh: refusing to run as root; the image's user is ma-user" >&2
    exit 1
fi
for hook in /usr/local/bin/start-notebook.d/*; do
    case "$hook" in
    *.sh) source "$hook" ;;
    *) if [ -x "$hook" ]; then "$hook"; fi ;;
    esac
done
exec /home/ma-user/anaconda3/bin/jupyterhub-singleuser \
    --ServerApp.root_dir="${NOTEBOOK_ROOT_DIR:-/home/ma-user/work}" \
    "$@"
