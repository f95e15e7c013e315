"""Tables for the command line, drawn by ``rich.table`` (one helper for every ``eis`` subcommand).

On a terminal: the terminal's width (long cells wrap), bold headers.  Piped or
captured (``eis … | grep``, tests, Airflow logs): no colour or control codes, no width limit (a row is
never wrapped or cut, so ``grep``/``awk`` see one line per row) and no trailing blanks.  ``NO_COLOR``
is honoured as rich honours it.
"""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Iterable, Sequence
from typing import Literal

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

Justify = Literal["left", "right"]
#: a column: its header, or (header, "left" | "right")
Column = str | tuple[str, Justify]


def is_terminal(err: bool = False) -> bool:
    stream = sys.stderr if err else sys.stdout
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def table(columns: Sequence[Column], rows: Iterable[Sequence[object]], title: str | None = None) -> Table:
    """A rich Table: *columns* headers (``("rows", "right")`` right-aligns), one row per item of *rows*
    (cells are turned into text with ``str``; ``None`` shows as ``-``)."""
    t = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        header_style="bold",
        safe_box=True,
    )
    header: str
    justify: Justify
    for c in columns:
        if isinstance(c, str):
            header, justify = c, "left"
        else:
            header, justify = c
        t.add_column(header, justify=justify, overflow="fold")
    for r in rows:
        t.add_row(*(_cell(v) for v in r))
    return t


def _cell(v: object):
    """A cell: rich renderables as they are, anything else as literal text (no markup: '[x]' stays)."""
    if v is None:
        return Text("-")
    if isinstance(v, Text) or hasattr(v, "__rich__") or hasattr(v, "__rich_console__"):
        return v
    return Text(str(v))


def render(renderable, indent: int = 0, err: bool = False) -> str:
    """*renderable* as text for stdout (or stderr): styled on a terminal, plain otherwise."""
    tty = is_terminal(err)
    width = shutil.get_terminal_size((100, 24)).columns if tty else 10_000
    buf = io.StringIO()
    console = Console(
        file=buf,
        force_terminal=tty,
        color_system="auto" if tty else None,
        width=max(20, width - indent),
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )
    console.print(renderable)
    pad = " " * indent
    return "\n".join(pad + ln.rstrip() if ln.strip() else "" for ln in buf.getvalue().rstrip("\n").split("\n"))


def echo_table(
    columns: Sequence[Column],
    rows: Iterable[Sequence[object]],
    title: str | None = None,
    indent: int = 0,
    err: bool = False,
) -> None:
    """Print a table (see :func:`table`) with ``click.echo``."""
    click.echo(render(table(columns, rows, title), indent=indent, err=err), err=err)
