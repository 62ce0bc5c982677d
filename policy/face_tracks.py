"""Suggested tracks from detections: boxes found on sampled frames, linked into tracks by overlap.

A detector (``services.faces``) reports the boxes it found on each sampled frame.  A box joins the
track whose last box it overlaps most (intersection over union at least ``MIN_IOU``), each track taking
at most one box per frame; a box that joins none starts a track.  A track that has missed more than
``MAX_GAP_SAMPLES`` samples in a row ends.  Tracks seen on fewer than ``MIN_HITS`` samples are dropped as
noise.  Each suggestion is a track of the project format (``policy.redaction``), its boxes grown by
``MARGIN`` on every side so a face's edges are covered too: the user accepts, adjusts or deletes it.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Box = tuple[int, int, int, int]  # x, y, w, h in pixels
MIN_IOU = 0.3
MAX_GAP_SAMPLES = 2
MIN_HITS = 2
#: Growth of each side, as a fraction of the box's size.
MARGIN = 0.15


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when apart)."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _box(box: Sequence[int]) -> Box:
    x, y, w, h = (int(v) for v in box)
    return x, y, w, h


@dataclass(slots=True)
class _Open:
    points: list[tuple[int, Box]] = field(default_factory=list)
    missed: int = 0


def link(samples: Sequence[tuple[int, Sequence[Sequence[int]]]]) -> list[list[tuple[int, Box]]]:
    """Tracks (lists of (t_ms, box)) from per-sample detections, in time order."""
    live: list[_Open] = []
    done: list[_Open] = []
    for t_ms, found in sorted(samples, key=lambda s: s[0]):
        boxes = [_box(b) for b in found]
        pairs = sorted(((iou(track.points[-1][1], box), ti, bi) for ti, track in enumerate(live)
                        for bi, box in enumerate(boxes)), reverse=True)
        used_t: set[int] = set()
        used_b: set[int] = set()
        for score, ti, bi in pairs:
            if score < MIN_IOU or ti in used_t or bi in used_b:
                continue
            used_t.add(ti)
            used_b.add(bi)
            live[ti].points.append((t_ms, boxes[bi]))
            live[ti].missed = 0
        for ti, track in enumerate(live):
            if ti not in used_t:
                track.missed += 1
        live.extend(_Open([(t_ms, box)]) for bi, box in enumerate(boxes) if bi not in used_b)
        done.extend(t for t in live if t.missed > MAX_GAP_SAMPLES)
        live = [t for t in live if t.missed <= MAX_GAP_SAMPLES]
    return [t.points for t in done + live if len(t.points) >= MIN_HITS]


def _grow(box: Box, width: int, height: int) -> Box:
    x, y, w, h = box
    dx, dy = round(w * MARGIN), round(h * MARGIN)
    x0, y0 = max(0, x - dx), max(0, y - dy)
    x1, y1 = min(width, x + w + dx), min(height, y + h + dy)
    return x0, y0, max(2, x1 - x0), max(2, y1 - y0)


def suggest(samples: Sequence[tuple[int, Sequence[Sequence[int]]]], width: int, height: int, *,
            mode: str = "blur", label: str = "face") -> list[dict[str, Any]]:
    """Suggested project tracks (``policy.redaction`` format) from per-sample detections."""
    tracks = []
    for points in link(samples):
        keyframes = []
        for t_ms, box in points:
            x, y, w, h = _grow(box, width, height)
            keyframes.append({"t_ms": t_ms, "x": x, "y": y, "w": w, "h": h})
        tracks.append({"shape": "rect", "mode": mode, "label": label, "keyframes": keyframes})
    return tracks
