"""Luister: a streaming social-listening pipeline for webcare teams."""

__version__ = "0.1.0"
