"""Subcommand modules of `luister`, discovered at start-up.

Each module here defines `COMMANDS`, a list of click commands or groups, so a new
feature adds its own file instead of editing luister/cli.py.
"""
from __future__ import annotations

import importlib
import pkgutil

import click


def register_all(group: click.Group) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            group.add_command(command)
