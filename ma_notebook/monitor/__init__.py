"""Resource monitor, auto-stop lease with renewal, health events and cache-directory alarms."""

from .service import MonitorService

CAPABILITY = MonitorService

__all__ = ["CAPABILITY", "MonitorService"]
