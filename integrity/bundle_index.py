"""The court bundle's human-readable index: ``INDEX.html`` and ``SHA256SUMS`` (issue 18).

A court clerk opening a bundle sees hashes and ``objects/<blake3>`` with no extension.  These two
members say what each file is (its file name with extension, kind, times, officer, hashes), what the
checkpoint says, and how to check the bundle: with ``custody verify-bundle`` or by hand with
``sha256sum -c SHA256SUMS``.  Both are a pure function of the bundle's entries, its checkpoint and the
objects it includes, so a verifier recomputes them and fails the bundle when either differs: nothing
rides along unverified, and a reader can trust the index exactly as far as the bundle verifies.  They
are optional (bundles written before them verify as before) and add members; no existing member
changes.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

INDEX_HTML = "INDEX.html"
SHA256SUMS = "SHA256SUMS"
INDEX_MEMBERS = (INDEX_HTML, SHA256SUMS)
_OBJECT_KINDS = {"evidence.ingested": "original recording", "evidence.derived": "viewing copy (proxy)",
                 "record.added": "text record"}


def _objects(entries: Iterable[Mapping[str, Any]], included: set[str]) -> list[Mapping[str, Any]]:
    """The first entry describing each included object, in log order."""
    seen: set[str] = set()
    out = []
    for entry in entries:
        hexd = entry.get("blake3")
        if isinstance(hexd, str) and hexd in included and hexd not in seen:
            seen.add(hexd)
            out.append(entry)
    return out


def clerk_name(entry: Mapping[str, Any]) -> str:
    """A name a clerk's computer opens: ``<seq>-<file name>``, path characters replaced."""
    name = str(entry.get("file_name") or entry.get("blake3", "object"))
    for bad in '/\\:*?"<>|\x00':
        name = name.replace(bad, "_")
    return f"{entry.get('seq', 0):04d}-{name}"[:200]


def sha256sums(entries: Iterable[Mapping[str, Any]], included: Iterable[str]) -> bytes:
    """``sha256sum -c`` input for every included object whose entry records its SHA-256."""
    lines = [f"{e['sha256']}  objects/{e['blake3']}\n" for e in _objects(entries, set(included))
             if isinstance(e.get("sha256"), str)]
    return "".join(lines).encode()


def index_html(origin: str, size: int, root: bytes, entries: Sequence[Mapping[str, Any]],
               included: Iterable[str]) -> bytes:
    """The readable index (UTF-8 HTML, no script, no outside resource)."""
    e = html.escape
    case_id = origin.rsplit("/case/", 1)[-1]
    objects = _objects(entries, set(included))
    rows = []
    for entry in objects:
        hexd = str(entry["blake3"])
        rows.append(
            "<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in (
                entry.get("seq", ""), entry.get("file_name", ""), _OBJECT_KINDS.get(str(entry.get("kind")),
                                                                                    entry.get("kind", "")),
                entry.get("media_type", ""), entry.get("recorded_at", ""), entry.get("time", ""),
                entry.get("officer", ""), entry.get("camera", ""), entry.get("size", "")))
            + f'<td><a href="objects/{e(hexd)}">objects/{e(hexd)}</a><br><code>{e(clerk_name(entry))}</code></td>'
            + f"<td><small>SHA-256 <code>{e(str(entry.get('sha256', '')))}</code><br>"
              f"BLAKE3 <code>{e(hexd)}</code></small></td></tr>")
    copies = "\n".join(f"cp objects/{e(str(x['blake3']))} '{e(clerk_name(x))}'" for x in objects)
    doc = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>Case {e(case_id)} · 卷宗包索引 court bundle index</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #999;
padding:.3em;vertical-align:top}}code{{word-break:break-all}}</style></head><body>
<h1>案件 {e(case_id)} 卷宗包索引 · Court bundle index, case {e(case_id)}</h1>
<h2>检查点 · What the checkpoint says</h2>
<p>The signed checkpoint (file <code>checkpoint</code>) says: the log of case <b>{e(case_id)}</b>
(<code>{e(origin)}</code>) held <b>{size}</b> entries, whose Merkle tree root is
<code>{e(root.hex())}</code> (base64 <code>{e(base64.b64encode(root).decode())}</code>).
签名的检查点表明：本案日志共 {size} 条记录，其默克尔树根如上。Every entry is in <code>entries.jsonl</code>;
the keys that signed it are under <code>keys/</code>.</p>
<h2>文件 · Files ({len(objects)})</h2>
<table><thead><tr><th>Entry 序号</th><th>File name 文件名</th><th>Kind 类别</th><th>Type</th>
<th>Recorded 录制时间 (UTC)</th><th>Logged 入库时间 (UTC)</th><th>Officer 执法人员</th><th>Camera</th><th>Bytes</th>
<th>In this bundle</th><th>Hashes</th></tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table>
<h2>核验方法 · How to verify</h2>
<ol>
<li>With Custody (offline, no server needed): <code>custody verify-bundle BUNDLE.zip --vkey 'KEY'</code>,
with the bureau's published verifier key. It checks the checkpoint signature, every entry, every file,
and that this index and SHA256SUMS are exactly what the entries say.</li>
<li>By hand: unzip the bundle and run <code>sha256sum -c SHA256SUMS</code> in its folder; every line must
say OK. Compare each SHA-256 with the one in the log entry above (and in <code>entries.jsonl</code>).</li>
<li>To open a file with its own program, copy it under its name (the hash stays the same):
<pre>{copies}</pre></li>
</ol>
</body></html>
"""
    return doc.encode()


def index_files(origin: str, size: int, root: bytes, entries: Sequence[Mapping[str, Any]],
                included: Iterable[str]) -> dict[str, bytes]:
    """Both members, by name."""
    held = sorted(included)
    return {INDEX_HTML: index_html(origin, size, root, entries, held), SHA256SUMS: sha256sums(entries, held)}
