"""The visual report of a results folder: figures as PNG files and a self-contained report.html."""

from sim.report.html import build_report

__all__ = ["build_report"]
