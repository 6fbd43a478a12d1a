"""Luister's version, shown by `luister --version`, /healthz and the build-info metric."""
__version__ = "0.1.0"
