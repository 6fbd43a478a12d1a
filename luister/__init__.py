"""Luister's command line (`luister ...`), the demo and the monthly report.

The stream job, connectors, classifiers, sinks and their shared ground floor live in
their own top-level packages; nothing below this package imports it.
"""
from core.version import __version__

__all__ = ["__version__"]
