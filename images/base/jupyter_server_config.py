# Image-wide JupyterLab settings (users may add their own in ~/.jupyter/).
c = get_config()  # noqa: F821
# Kernels are the environments under /home/ma-user/anaconda3/envs/, not the server's own Python.
c.KernelSpecManager.ensure_native_kernel = False
c.ServerApp.terminado_settings = {"shell_command": ["/bin/bash", "-l"]}
