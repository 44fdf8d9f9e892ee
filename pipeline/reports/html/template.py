"""The page skeleton and its stylesheet.

`string.Template` with `$name` slots: every slot receives HTML that render.py has already built
with each data value passed through `html.escape`. The Content-Security-Policy forbids every
fetch (scripts, fonts, images other than data: URIs), so even a mistake elsewhere cannot make
the page reach the network when it is opened from a mail attachment.
"""

from __future__ import annotations

from string import Template

CSS = """
:root { color-scheme: light; --ink: #111827; --muted: #6b7280; --line: #e5e7eb; --card: #ffffff;
  --bg: #f6f7f9; --accent: #4269d0; --bad: #c0262d; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
header, main, footer { max-width: 1180px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 24px; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 32px 0 12px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 14px; margin: 18px 0 6px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0 0 12px;
  color: var(--muted); }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; color: var(--ink); overflow-wrap: anywhere; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px;
  margin: 16px 0; }
.kpi { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.kpi .label { color: var(--muted); font-size: 12px; }
.kpi .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 14px; }
figure.card, .card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  margin: 0; padding: 10px 12px; }
figure.card figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
svg.chart { display: block; width: 100%; height: auto; }
p.empty { color: var(--muted); font-style: italic; margin: 6px 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: var(--card); font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.id { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px;
  min-width: 9ch; }
td.flag { color: var(--bad); font-weight: 600; }
td.nowrap { white-space: nowrap; }
details { background: var(--card); border: 1px solid var(--line); border-radius: 8px; margin: 6px 0;
  padding: 6px 10px; }
summary { cursor: pointer; }
summary .day { font-weight: 600; margin-right: 8px; }
details[open] summary { margin-bottom: 6px; }
tr.nodata td { color: var(--muted); font-style: italic; }
.note { color: var(--muted); font-size: 12px; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
footer { color: var(--muted); font-size: 12px; padding-top: 24px; padding-bottom: 32px; }
@media print { body { background: #fff; } .grid { display: block; } figure.card { break-inside: avoid;
  margin-bottom: 12px; } nav { display: none; } }
"""

PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="civitai-sync report html">
<link rel="icon" href="data:,">
<title>$title</title>
<style>$css</style>
</head>
<body>
<header>
<h1>$title</h1>
<dl class="meta">
$meta
</dl>
<nav><a href="#moderation">Moderation</a><a href="#flagged">Flagged jobs</a><a href="#usage">Usage</a><a href="#daily">Daily figures</a></nav>
</header>
<main>
$body
</main>
<footer>
$footer
</footer>
</body>
</html>
"""
)
