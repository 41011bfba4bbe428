"""The self-contained page of an evaluation report: style and script, no network access.

Items are embedded as JSON and drawn a page at a time by plain JavaScript, so a report of
10,000 formulas stays a few megabytes and opens quickly; pictures are PNG files beside it.
"""

from __future__ import annotations

import html
import json

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1.2em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
#items td, #items th { text-align: left; }
.tokens { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all;
  max-width: 55em; }
del { background: #fcc; text-decoration: none; }
ins { background: #cdf; text-decoration: none; }
.correct { color: #080; } .incorrect, .failed, .missing, .nogold { color: #b00; }
img { max-width: 480px; display: block; margin: 2px 0; image-rendering: pixelated; }
.pics td { border: none; padding: 0 .4em 0 0; font-size: 11px; color: #666; }
.controls > * { margin-right: 1em; }
.attention span { cursor: pointer; padding: 0 2px; font-family: monospace; }
.attention span:hover { background: #fd8; }
"""

SCRIPT = """
const items = JSON.parse(document.getElementById('items-data').textContent);
const files = document.body.dataset.files;
const perPage = 100;
let page = 0, view = items;
const esc = s => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
function tokens(segments, side) {
  return segments.map(s => s.length === 1 ? esc(s[0]) :
    (s[side] ? (side === 0 ? '<del>' : '<ins>') + esc(s[side]) +
     (side === 0 ? '</del>' : '</ins>') : '')).filter(x => x).join(' ');
}
function pic(name, label, scale) {
  const fit = scale ? ` onload="this.width = this.naturalWidth * ${scale}"` : '';
  return name ? `<td>${label}<img loading="lazy" src="${files}/${name}"${fit}></td>` : '';
}
function row(it) {
  const f = it.f || {};
  const pics = pic(f.input, 'input') + pic(f.pred, 'prediction rendered') +
    pic(f.diff, 'difference (red: gold only, blue: prediction only)', 0.5) +
    pic(f.attention, 'attention');
  return `<tr><td>${it.i}<br><small>${esc(it.n)}</small></td>` +
    `<td class="${it.s}">${it.s}${it.r ? '<br><small>' + esc(it.r) + '</small>' : ''}</td>` +
    `<td>${it.e}</td><td>${it.d === null ? '' : it.d}</td>` +
    `<td><table class="pics"><tr>${pics}</tr></table>` +
    `<div class="tokens">gold: ${tokens(it.t, 0)}</div>` +
    `<div class="tokens">pred: ${tokens(it.t, 1)}</div></td></tr>`;
}
function draw() {
  const pages = Math.max(1, Math.ceil(view.length / perPage));
  page = Math.min(page, pages - 1);
  document.querySelector('#items tbody').innerHTML =
    view.slice(page * perPage, (page + 1) * perPage).map(row).join('');
  document.getElementById('where').textContent =
    `${view.length} items, page ${page + 1} of ${pages}`;
}
function update() {
  const status = document.getElementById('status').value;
  const text = document.getElementById('search').value.trim();
  const key = document.getElementById('sort').value;
  view = items.filter(it =>
    (status === 'all' || (status === 'wrong' ? it.s !== 'correct' : it.s === status)) &&
    (!text || it.t.some(s => s.some(x => x.includes(text)))));
  const value = {index: it => it.i, edit: it => -it.e, image: it => -(it.d ?? -1),
                 length: it => -it.L}[key];
  view = view.slice().sort((a, b) => value(a) - value(b));
  page = 0;
  draw();
}
for (const id of ['status', 'sort']) document.getElementById(id).onchange = update;
document.getElementById('search').oninput = update;
document.getElementById('prev').onclick = () => { page = Math.max(0, page - 1); draw(); };
document.getElementById('next').onclick = () => { page += 1; draw(); };
update();
"""

CONTROLS = """
<div class="controls">
  <label>show <select id="status">
    <option value="all">all</option><option value="correct">correct</option>
    <option value="wrong">not correct</option><option value="incorrect">incorrect</option>
    <option value="failed">prediction did not render</option>
    <option value="missing">missing or empty</option>
    <option value="nogold">gold did not render</option></select></label>
  <label>sort by <select id="sort">
    <option value="index">item</option><option value="edit">token edit distance</option>
    <option value="image">image edit distance</option><option value="length">gold length</option>
  </select></label>
  <label>tokens containing <input id="search" size="20"></label>
  <button id="prev">previous</button><button id="next">next</button> <span id="where"></span>
</div>
<table id="items"><thead><tr><th>item</th><th>status</th><th>token edits</th>
<th>column edits</th><th>images and tokens (red: gold only, blue: prediction only)</th></tr>
</thead><tbody></tbody></table>
"""


def page(title: str, body: str, items: list[dict] | None = None, files: str = "") -> str:
    """A complete HTML page; with `items`, the filterable item table is appended to `body`."""
    table = ""
    if items is not None:
        data = json.dumps(items, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
        table = (
            f"{CONTROLS}<script type='application/json' id='items-data'>{data}</script>"
            f"<script>{SCRIPT}</script>"
        )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body data-files='{html.escape(files, quote=True)}'>"
        f"<h1>{html.escape(title)}</h1>{body}{table}</body></html>"
    )
