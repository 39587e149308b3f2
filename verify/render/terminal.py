"""The terminal view: the shared document drawn with rich.

Evidence text arrives already made inert by ``safe()`` and is wrapped in ``Text``
objects, never passed as markup, so ``[bold green]VERIFIED[/]`` in a Subject prints
literally.
"""

from __future__ import annotations

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table as RichTable
from rich.text import Text

from verify.model import Report
from verify.render.document import VERDICT_STYLE, Block, Bullets, Fields, Heading, Para, Table, VerdictLine, build


def _block(b: Block) -> RenderableType:
    if isinstance(b, Heading):
        return Text("\n" + b.text, style="bold underline")
    if isinstance(b, VerdictLine):
        t = Text()
        t.append(f" {b.verdict.value.upper()} ", style=VERDICT_STYLE[b.verdict])
        t.append("  ")
        t.append(b.sentence)
        return t
    if isinstance(b, Fields):
        grid = RichTable.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        for label, value in b.rows:
            grid.add_row(Text(label), Text(value))
        return grid
    if isinstance(b, Table):
        tbl = RichTable(box=box.SIMPLE_HEAD, show_lines=False, header_style="bold")
        for c in b.columns:
            tbl.add_column(c, overflow="fold")
        for row in b.rows:
            tbl.add_row(*(Text(cell) for cell in row))
        return tbl
    if isinstance(b, Bullets):
        lines = []
        for code, text in b.items:
            t = Text("  • ")
            t.append(code, style="bold")
            t.append(": " + text)
            lines.append(t)
        return Group(*lines)
    assert isinstance(b, Para)
    return Text(b.text)


def render(report: Report, console: Console) -> None:
    for b in build(report):
        console.print(_block(b))
    console.print()
