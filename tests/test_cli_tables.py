"""CLI output: rich tables that stay plain and whole when piped, and the demo's model-grid progress."""

from __future__ import annotations

import click
from click.testing import CliRunner


def _run(fn, color=False):
    @click.command()
    def cmd():
        fn()

    return CliRunner().invoke(cmd, [], color=color)


def test_piped_table_is_plain_whole_and_one_line_per_row():
    from eis_core.cli_tables import echo_table

    long = "x" * 300  # wider than any terminal: must be neither wrapped nor cut when piped
    res = _run(lambda: echo_table(["name", ("rows", "right"), "note"],
                                  [("officers", "1,234", "[imputed: median]"), ("calls", None, long)], indent=2))
    assert res.exit_code == 0, res.output
    out = res.output
    assert "\x1b[" not in out                                   # no colour or control codes
    lines = out.rstrip("\n").split("\n")
    assert all(ln == ln.rstrip() for ln in lines)               # no trailing blanks
    assert lines[0].split() == ["name", "rows", "note"] and lines[0].startswith("  ")
    body = [ln.split() for ln in lines if ln.split() and ln.split()[0] in ("officers", "calls")]
    assert body == [["officers", "1,234", "[imputed:", "median]"], ["calls", "-", long]]  # markup kept literally
    # right-aligned numbers end in the same column as their header
    head, row = lines[0], next(ln for ln in lines if "officers" in ln)
    assert row.index("1,234") + len("1,234") == head.index("rows") + len("rows")


def test_model_grid_is_summarised_per_mapped_task(monkeypatch):
    from eis_core import demo

    feed = [
        "4 split(s) x 2 model configuration(s) = 3 task(s)",
        "batch 0: 2 models: split_2014-01-01, split_2015-01-01",
        "batch 1: split_2015-01-01 PriorBaseline-e8926ab80a",
        "[1/2] split_2014-01-01 RandomForestClassifier-2f962b5768: done (train 1.50 s, task 2.00 s)",
        "[2/2] split_2015-01-01 AdaBoostClassifier-3bb73d2a1f: reused (train 4.25 s, task 0.10 s)",
        "[1/1] split_2015-01-01 PriorBaseline-e8926ab80a: done (train 0.02 s, task 0.10 s)",
        "run 1: 3 model(s) evaluated; chosen model group abc",
    ]

    def run():
        out = demo._AirflowOutput()
        for line in feed:
            out(line)
        out.close()

    res = _run(run)
    assert res.exit_code == 0, res.output
    lines = [ln.strip() for ln in res.output.splitlines()]
    assert not any(ln.startswith("[") or ln.startswith("batch ") for ln in lines)   # no line per model
    summaries = [ln for ln in lines if ln.startswith("mapped task")]
    assert summaries[0] == ("mapped task 1/2: 2 model(s) on 2 split(s) (split_2014-01-01 … split_2015-01-01), "
                            "1 trained, 1 reused; train 5.8 s, wall 2.1 s; slowest AdaBoostClassifier on "
                            "split_2015-01-01 (4.2 s) [2/3 models]")
    assert summaries[1].startswith("mapped task 2/2: 1 model(s) on 1 split(s) (split_2015-01-01), 1 trained")
    assert summaries[1].endswith("[3/3 models]")
    assert "run 1: 3 model(s) evaluated; chosen model group abc" in lines                # other lines pass
    assert "\x1b[" not in res.output                                                      # no bar when piped
