#!/bin/bash
# Installs the notebook image's Python in the conda layout, with conda (Miniforge) or plain venvs.
#   ma-install-python base    JupyterLab's environment at $CONDA_DIR (requirements.txt, tensorboard)
#   ma-install-python kernel  the kernel environment $CONDA_DIR/envs/$KERNEL_ENV with ipykernel
#   ma-install-python readme  /home/ma-user/README: how to activate each environment (as root)
set -euo pipefail
CONDA_DIR=${CONDA_DIR:-/home/ma-user/anaconda3}
PYTHON_INSTALLER=${PYTHON_INSTALLER:-conda}
# uv installs many times faster than pip (parallel downloads); pip is the fallback.
UV_HOME=/tmp/ma-uv
pip_install() {
    local python=$1
    shift
    local index=()
    if [ -n "${PIP_INDEX_URL:-}" ]; then index=(--index-url "$PIP_INDEX_URL"); fi
    if [ "${PIP_FRONTEND:-uv}" = uv ] && [ ! -x "$UV_HOME/bin/uv" ]; then
        python3 -m venv "$UV_HOME" 2>/dev/null || "$CONDA_DIR/bin/python" -m venv "$UV_HOME" || true
        "$UV_HOME/bin/python" -m pip install -q "${index[@]}" uv || rm -rf "$UV_HOME"
    fi
    if [ -x "$UV_HOME/bin/uv" ]; then
        UV_NATIVE_TLS=1 UV_NO_CACHE=1 "$UV_HOME/bin/uv" pip install -q --compile-bytecode \
            --python "$python" "${index[@]}" "$@"
    else
        "$python" -m pip install -q "${index[@]}" "$@"
    fi
}

kernel_env_name() {
    if [ -n "${KERNEL_ENV:-}" ]; then echo "$KERNEL_ENV"; return; fi
    if [ "$PYTHON_INSTALLER" = venv ]; then
        echo "python-$(python3 -c 'import platform; print(platform.python_version())')"
    else
        echo "python-${KERNEL_PYTHON:-3.11}"
    fi
}

case "${1:-}" in
base)
    if [ "$PYTHON_INSTALLER" = venv ]; then
        python3 -m venv "$CONDA_DIR"
    elif [ "$PYTHON_INSTALLER" = conda ]; then
        curl -fsSL "$MINIFORGE_URL" -o /tmp/miniforge.sh
        bash /tmp/miniforge.sh -b -p "$CONDA_DIR"
        rm -f /tmp/miniforge.sh
        "$CONDA_DIR/bin/conda" clean -afy >/dev/null
    else
        echo "PYTHON_INSTALLER must be conda or venv, not '$PYTHON_INSTALLER'" >&2
        exit 2
    fi
    mkdir -p "$CONDA_DIR/envs"
    pip_install "$CONDA_DIR/bin/python" -r /tmp/ma-notebook/requirements.txt tensorboard
    # The base environment serves JupyterLab; kernels come from the environments under envs/.
    rm -rf "$CONDA_DIR/share/jupyter/kernels/python3" "$UV_HOME"
    fix-permissions "$CONDA_DIR"
    ;;
kernel)
    name=$(kernel_env_name)
    prefix="$CONDA_DIR/envs/$name"
    if [ "$PYTHON_INSTALLER" = venv ]; then
        python3 -m venv "$prefix"
        pip_install "$prefix/bin/python" ipykernel
    else
        "$CONDA_DIR/bin/conda" create -y -q -n "$name" "python=${KERNEL_PYTHON:-3.11}" ipykernel >/dev/null
        "$CONDA_DIR/bin/conda" clean -afy >/dev/null
    fi
    "$prefix/bin/python" -m ipykernel install --prefix "$CONDA_DIR" --name "$name" --display-name "$name" >/dev/null
    rm -rf "$UV_HOME"
    fix-permissions "$CONDA_DIR"
    ;;
readme)
    {
        echo "This notebook image keeps one environment per kernel under $CONDA_DIR/envs/."
        echo "JupyterLab itself runs from $CONDA_DIR (the base environment)."
        echo
        echo "Activate an environment in a terminal:"
        for env in "$CONDA_DIR"/envs/*/; do
            env=${env%/}
            if [ -x "$CONDA_DIR/bin/conda" ]; then
                echo "  source $CONDA_DIR/bin/activate $(basename "$env")"
            else
                echo "  source $env/bin/activate"
            fi
        done
        echo
        echo "Install packages for a kernel with that environment's pip (or conda), e.g."
        echo "  $CONDA_DIR/envs/<name>/bin/pip install <package>"
        echo "A new environment shows as a kernel once it has ipykernel and a kernelspec:"
        echo "  <env>/bin/python -m ipykernel install --prefix $CONDA_DIR --name <name>"
        echo
        echo "Keep your files in /home/ma-user/work: the rest of the disk is the image's."
    } >/home/ma-user/README
    chown 1000:100 /home/ma-user/README
    chmod 0644 /home/ma-user/README
    ;;
*)
    echo "usage: $0 base|kernel|readme" >&2
    exit 2
    ;;
esac
