"""Visualization jobs: TensorBoard and MindInsight on summary folders, inside JupyterLab."""

from .service import VisualizationService

CAPABILITY = VisualizationService

__all__ = ["CAPABILITY", "VisualizationService"]
