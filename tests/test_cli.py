"""`eis --help` lists every subcommand and each one has a working --help."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from eis_core.cli import SUBCOMMANDS, main


def test_help_lists_every_subcommand():
    res = CliRunner().invoke(main, ["--help"])
    assert res.exit_code == 0
    for name in SUBCOMMANDS:
        assert name in res.output


def test_each_subcommand_has_help():
    for name in SUBCOMMANDS:
        res = CliRunner().invoke(main, [name, "--help"])
        assert res.exit_code == 0, (name, res.output, res.exception)
        assert "Usage:" in res.output


def test_console_script_is_installed():
    """The `eis` console script next to this interpreter (what .venv/bin/eis is)."""
    from pathlib import Path

    eis = Path(sys.executable).with_name("eis")
    if not eis.exists():  # running outside the project venv: call the module instead
        cmd = [sys.executable, "-m", "eis_core.cli", "--help"]
    else:
        cmd = [str(eis), "--help"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "synth" in out.stdout and "load" in out.stdout


def test_db_status_reports_and_exit_code(warehouse):
    res = CliRunner().invoke(main, ["db", "status"])
    assert res.exit_code == 0 and "running: yes" in res.output
    url = CliRunner().invoke(main, ["db", "url"])
    assert url.output.strip().startswith("postgresql://")
