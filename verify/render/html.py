"""Publishable views: a standalone HTML page and Markdown, from the shared document."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from verify.model import Report
from verify.render.document import Block, Bullets, Fields, Heading, Para, Table, VerdictLine, build

_COLOURS = {"verified": "#1a7f37", "weak": "#b58900", "failed": "#cf222e", "unverifiable": "#57606a", "unsigned": "#0550ae"}

_CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1f2328}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}td,th{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}.verdict{display:inline-block;color:#fff;padding:.2rem .6rem;font-weight:bold;border-radius:4px}
code,.mono{font-family:ui-monospace,monospace;overflow-wrap:anywhere}"""


def _h(s: str) -> str:
    return html.escape(s, quote=True)


def _html_block(b: Block) -> str:
    if isinstance(b, Heading):
        return f"<h2>{_h(b.text)}</h2>"
    if isinstance(b, VerdictLine):
        colour = _COLOURS.get(b.verdict.value, "#57606a")
        return f'<p><span class="verdict" style="background:{colour}">{_h(b.verdict.value.upper())}</span> {_h(b.sentence)}</p>'
    if isinstance(b, Fields):
        rows = "".join(f'<tr><th>{_h(k)}</th><td class="mono">{_h(v)}</td></tr>' for k, v in b.rows)
        return f"<table>{rows}</table>"
    if isinstance(b, Table):
        head = "".join(f"<th>{_h(c)}</th>" for c in b.columns)
        body = "".join("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>" for row in b.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(b, Bullets):
        return "<ul>" + "".join(f"<li><code>{_h(c)}</code>: {_h(t)}</li>" for c, t in b.items) + "</ul>"
    assert isinstance(b, Para)
    return f"<p>{_h(b.text)}</p>"


def to_html(reports: Sequence[Report]) -> str:
    parts = []
    for r in reports:
        blocks = build(r)
        title = blocks[0].text if isinstance(blocks[0], Heading) else "provenance report"
        parts.append(f"<section><h1>{_h(title)}</h1>" + "\n".join(_html_block(b) for b in blocks[1:]) + "</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>provenance report</title><style>{_CSS}</style></head><body>\n" + "\n<hr>\n".join(parts) + "\n</body></html>\n"
    )


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def _m(s: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", s)


def _md_block(b: Block) -> str:
    if isinstance(b, Heading):
        return f"## {_m(b.text)}"
    if isinstance(b, VerdictLine):
        return f"**{b.verdict.value.upper()}**: {_m(b.sentence)}"
    if isinstance(b, Fields):
        return "\n".join(f"- **{_m(k)}**: {_m(v)}" for k, v in b.rows)
    if isinstance(b, Table):
        lines = ["| " + " | ".join(_m(c) for c in b.columns) + " |", "|" + "---|" * len(b.columns)]
        lines += ["| " + " | ".join(_m(c) for c in row) + " |" for row in b.rows]
        return "\n".join(lines)
    if isinstance(b, Bullets):
        return "\n".join(f"- `{c}`: {_m(t)}" for c, t in b.items)
    assert isinstance(b, Para)
    return _m(b.text)


def to_markdown(reports: Sequence[Report]) -> str:
    out = []
    for r in reports:
        blocks = build(r)
        title = blocks[0].text if isinstance(blocks[0], Heading) else "provenance report"
        out.append(f"# {_m(title)}\n\n" + "\n\n".join(_md_block(b) for b in blocks[1:]))
    return "\n\n---\n\n".join(out) + "\n"
