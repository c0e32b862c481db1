"""Scheduled notebook jobs on jupyter-scheduler, with its reported gaps closed."""

from .service import SchedulerService

CAPABILITY = SchedulerService
