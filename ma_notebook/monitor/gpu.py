"""GPU utilisation and memory through NVML (``nvidia-ml-py``), when the machine has a GPU."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class Nvml:
    """NVML, initialised once; every call answers [] when there is no driver or no GPU."""

    def __init__(self) -> None:
        self.available = False
        self.reason = ""
        self._nvml: Any = None
        self._handles: list[Any] = []
        self._names: list[str] = []
        try:
            import pynvml

            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self._names = [_text(pynvml.nvmlDeviceGetName(h)) for h in self._handles]
            self._nvml = pynvml
            self.available = count > 0
            self.reason = "" if count else "NVML reports no GPU"
        except ImportError:
            self.reason = "nvidia-ml-py is not installed"
        except Exception as e:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
            self.reason = f"no NVIDIA driver ({type(e).__name__})"

    def devices(self) -> list[dict[str, Any]]:
        """Index and name of every GPU."""
        return [{"index": i, "name": n} for i, n in enumerate(self._names)]

    def sample(self) -> list[dict[str, Any]]:
        """Utilisation (%) and memory (bytes) of every GPU."""
        if not self.available:
            return []
        out = []
        for i, h in enumerate(self._handles):
            try:
                util = self._nvml.nvmlDeviceGetUtilizationRates(h)
                mem = self._nvml.nvmlDeviceGetMemoryInfo(h)
            except Exception as e:
                log.debug("NVML read of GPU %s failed: %s", i, e)
                continue
            out.append(
                {
                    "index": i,
                    "name": self._names[i],
                    "util_percent": float(util.gpu),
                    "memory_used": int(mem.used),
                    "memory_total": int(mem.total),
                }
            )
        return out

    def close(self) -> None:
        """Release NVML."""
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                log.debug("nvmlShutdown failed", exc_info=True)
            self._nvml = None
            self.available = False


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
