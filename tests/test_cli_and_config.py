"""Every command answers --help; settings come from defaults, a TOML file and the env."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.settings import Settings, load_settings
from luister.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _commands(group, prefix=()):
    for name, cmd in group.commands.items():
        yield (*prefix, name)
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*prefix, name))


@pytest.mark.parametrize("path", [(), *_commands(main)], ids=lambda p: " ".join(p) or "luister")
def test_every_subcommand_has_help(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and len(result.output.splitlines()) > 3


def test_services_script_has_help():
    out = subprocess.run([sys.executable, str(ROOT / "deploy/local/services.py"), "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "LUISTER_KAFKA_PORT" in out and "up" in out and "down" in out


def test_settings_precedence_defaults_file_env(tmp_path, monkeypatch):
    for key in [k for k in __import__("os").environ if k.startswith("LUISTER_")]:
        monkeypatch.delenv(key)
    assert Settings().kafka_bootstrap == "127.0.0.1:9092"
    config = tmp_path / "luister.toml"
    config.write_text('kafka_bootstrap = "broker-a:9092"\nes_bulk_size = 250\n')
    monkeypatch.setenv("LUISTER_CONFIG", str(config))  # load_settings exports it; restore after the test
    settings = load_settings(config)
    assert (settings.kafka_bootstrap, settings.es_bulk_size) == ("broker-a:9092", 250)
    monkeypatch.setenv("LUISTER_ES_BULK_SIZE", "100")
    assert load_settings(config).es_bulk_size == 100  # env wins over the file
    config.write_text('no_such_setting = 1\n')
    with pytest.raises(ValueError):
        load_settings(config)
