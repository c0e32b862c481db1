# The work folder may be a fresh volume: make sure it exists and ma-user can write it.
mkdir -p "${NOTEBOOK_ROOT_DIR:-/home/ma-user/work}"
if [ ! -w "${NOTEBOOK_ROOT_DIR:-/home/ma-user/work}" ]; then
    echo "start-notebook.sh: warning: ${NOTEBOOK_ROOT_DIR:-/home/ma-user/work} is not writable by $(id -un)" >&2
fi
