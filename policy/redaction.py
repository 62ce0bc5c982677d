"""Redaction projects: what a project says, checked, and the one ffmpeg filter graph that renders it.

A project masks regions of a video and ranges of its audio.  Each **track** is a region (``rect`` or
``ellipse``) with keyframes over time, a mode (``blur``, ``pixelate``, ``box``) and an optional label;
each **audio range** is muted or bleeped.  Times are integer milliseconds and positions integer pixels
of the source frame, because the project's canonical JSON (hashed with BLAKE3 per version) admits no
floats.

Between keyframes the region's centre moves linearly; its size is the largest of the track's keyframes,
so the mask is never smaller than any box the user drew (covering too much is safe, too little is not).
The track is masked from its first keyframe to its last.  Rendering is one ffmpeg pass: per track a
``crop`` that follows the region (``x``/``y`` are expressions of ``t``), the mode's filter, and an
``overlay`` back at the same place, enabled only between the track's first and last keyframe.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

SHAPES = ("rect", "ellipse")
MODES = ("blur", "pixelate", "box")
AUDIO_MODES = ("mute", "bleep")
#: Limits that keep a project (and its filter graph) a size ffmpeg parses quickly.
MAX_TRACKS = 64
MAX_KEYFRAMES = 2000
MAX_AUDIO_RANGES = 500
LABEL_MAX_CHARS = 200
#: Pixelate: the region is shrunk so each block is this many pixels on its shorter side, then blown up.
PIXEL_BLOCK_PX = 16
#: The bleep's pitch in hertz and its level (0..1).
BLEEP_HZ = 1000
BLEEP_LEVEL = 0.25


class ProjectInvalid(ValueError):
    """A project that cannot be rendered, with the path of the offending part."""


@dataclass(frozen=True, slots=True)
class Keyframe:
    t_ms: int
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True, slots=True)
class Track:
    shape: str
    mode: str
    keyframes: tuple[Keyframe, ...]
    label: str = ""


@dataclass(frozen=True, slots=True)
class AudioRange:
    start_ms: int
    end_ms: int
    mode: str = "mute"


@dataclass(frozen=True, slots=True)
class Project:
    tracks: tuple[Track, ...]
    audio: tuple[AudioRange, ...]

    def as_json(self) -> dict[str, Any]:
        """The canonical form that is saved and hashed (keys and order fixed; integers only)."""
        return {
            "tracks": [{"shape": t.shape, "mode": t.mode, "label": t.label,
                        "keyframes": [{"t_ms": k.t_ms, "x": k.x, "y": k.y, "w": k.w, "h": k.h}
                                      for k in t.keyframes]} for t in self.tracks],
            "audio": [{"start_ms": a.start_ms, "end_ms": a.end_ms, "mode": a.mode} for a in self.audio],
        }


def _int(value: object, path: str, *, low: int = 0, high: int = 10**9) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProjectInvalid(f"{path}: an integer from {low} to {high}, not {value!r}")
    return value


def _choice(value: object, options: Sequence[str], path: str, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if value not in options:
        raise ProjectInvalid(f"{path}: one of {', '.join(options)}, not {value!r}")
    return str(value)


def _list(value: object, path: str, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise ProjectInvalid(f"{path}: a list")
    if len(value) > limit:
        raise ProjectInvalid(f"{path}: at most {limit} items, not {len(value)}")
    return value


def parse_project(body: object, *, width: int | None = None, height: int | None = None) -> Project:
    """Check a project as sent (a mapping with ``tracks`` and ``audio``); regions must lie in the frame
    when its size is known.  Raises :class:`ProjectInvalid` naming the first bad part."""
    if not isinstance(body, Mapping):
        raise ProjectInvalid("project: an object with tracks and audio")
    unknown = set(body) - {"tracks", "audio"}
    if unknown:
        raise ProjectInvalid(f"project: unknown member(s) {', '.join(sorted(map(str, unknown)))}")
    tracks = [_track(t, f"tracks[{i}]", width, height)
              for i, t in enumerate(_list(body.get("tracks", []), "tracks", MAX_TRACKS))]
    audio = [_audio(a, f"audio[{i}]") for i, a in enumerate(_list(body.get("audio", []), "audio", MAX_AUDIO_RANGES))]
    return Project(tuple(tracks), tuple(sorted(audio, key=lambda a: (a.start_ms, a.end_ms))))


def _track(raw: object, path: str, width: int | None, height: int | None) -> Track:
    if not isinstance(raw, Mapping):
        raise ProjectInvalid(f"{path}: an object")
    label = raw.get("label") or ""
    if not isinstance(label, str) or len(label) > LABEL_MAX_CHARS:
        raise ProjectInvalid(f"{path}.label: text of at most {LABEL_MAX_CHARS} characters")
    frames = _list(raw.get("keyframes"), f"{path}.keyframes", MAX_KEYFRAMES)
    if not frames:
        raise ProjectInvalid(f"{path}.keyframes: at least one keyframe")
    keys: list[Keyframe] = []
    for j, k in enumerate(frames):
        where = f"{path}.keyframes[{j}]"
        if not isinstance(k, Mapping):
            raise ProjectInvalid(f"{where}: an object with t_ms, x, y, w, h")
        key = Keyframe(_int(k.get("t_ms"), f"{where}.t_ms"), _int(k.get("x"), f"{where}.x"),
                       _int(k.get("y"), f"{where}.y"), _int(k.get("w"), f"{where}.w", low=2),
                       _int(k.get("h"), f"{where}.h", low=2))
        if width is not None and key.x + key.w > width:
            raise ProjectInvalid(f"{where}: the region ends at x={key.x + key.w}, past the frame's width {width}")
        if height is not None and key.y + key.h > height:
            raise ProjectInvalid(f"{where}: the region ends at y={key.y + key.h}, past the frame's height {height}")
        if keys and key.t_ms <= keys[-1].t_ms:
            raise ProjectInvalid(f"{where}.t_ms: keyframes in increasing time, {key.t_ms} after {keys[-1].t_ms}")
        keys.append(key)
    return Track(_choice(raw.get("shape"), SHAPES, f"{path}.shape", "rect"),
                 _choice(raw.get("mode"), MODES, f"{path}.mode", "blur"), tuple(keys), label)


def _audio(raw: object, path: str) -> AudioRange:
    if not isinstance(raw, Mapping):
        raise ProjectInvalid(f"{path}: an object with start_ms and end_ms")
    start = _int(raw.get("start_ms"), f"{path}.start_ms")
    end = _int(raw.get("end_ms"), f"{path}.end_ms")
    if end <= start:
        raise ProjectInvalid(f"{path}: end_ms {end} must come after start_ms {start}")
    return AudioRange(start, end, _choice(raw.get("mode"), AUDIO_MODES, f"{path}.mode", "mute"))


# -- geometry -------------------------------------------------------------------------------------------


def region_size(track: Track) -> tuple[int, int]:
    """The mask's size: the largest width and height among the keyframes (rounded up to even)."""
    w = max(k.w for k in track.keyframes)
    h = max(k.h for k in track.keyframes)
    return w + w % 2, h + h % 2


def position_at(track: Track, t_ms: int) -> tuple[int, int] | None:
    """Top-left corner of the mask at ``t_ms`` (centre interpolated), or None outside the track's span."""
    keys = track.keyframes
    if not keys[0].t_ms <= t_ms <= keys[-1].t_ms:
        return None
    w, h = region_size(track)
    for a, b in pairwise(keys):
        if a.t_ms <= t_ms <= b.t_ms:
            f = (t_ms - a.t_ms) / (b.t_ms - a.t_ms)
            cx = a.x + a.w / 2 + f * (b.x + b.w / 2 - a.x - a.w / 2)
            cy = a.y + a.h / 2 + f * (b.y + b.h / 2 - a.y - a.h / 2)
            return round(cx - w / 2), round(cy - h / 2)
    k = keys[-1] if t_ms >= keys[-1].t_ms else keys[0]
    return round(k.x + k.w / 2 - w / 2), round(k.y + k.h / 2 - h / 2)


def _axis_expr(points: Sequence[tuple[float, float]], size: int, frame: int) -> str:
    """An ffmpeg expression of ``t`` (seconds): the corner along one axis, linear between keyframes,
    clipped so the mask stays in the frame."""
    expr = f"{points[-1][1]:.3f}"
    for (t0, v0), (t1, v1) in reversed(list(pairwise(points))):
        slope = (v1 - v0) / (t1 - t0)
        expr = f"if(lt(t,{t1:.3f}),{v0:.3f}+({slope:.6f})*(t-{t0:.3f}),{expr})"
    return f"clip({expr},0,{max(frame - size, 0)})"


def _mode_filter(track: Track, w: int, h: int) -> str:
    if track.mode == "box":
        chain = "lutyuv=y=16:u=128:v=128"
    elif track.mode == "pixelate":
        chain = (f"scale={max(1, w // PIXEL_BLOCK_PX)}:{max(1, h // PIXEL_BLOCK_PX)}:flags=area,"
                 f"scale={w}:{h}:flags=neighbor")
    else:  # blur: a radius a quarter of the shorter side, three passes, beyond recognition
        radius = max(1, min(w, h) // 4)
        chain = f"boxblur=luma_radius={radius}:luma_power=3:chroma_radius={max(1, radius // 2)}:chroma_power=3"
    if track.shape == "ellipse":  # keep the inside of the ellipse, transparent outside
        chain += (",format=yuva420p,geq=lum='lum(X,Y)':cb='cb(X,Y)':cr='cr(X,Y)':"
                  "a='if(lte(pow((X-W/2)/(W/2),2)+pow((Y-H/2)/(H/2),2),1),255,0)'")
    return chain


def video_graph(project: Project, width: int, height: int) -> tuple[str, str]:
    """The video part of the filter graph from input ``[0:v]``; returns (graph, output label)."""
    tracks = [t for t in project.tracks]
    if not tracks:
        return "[0:v]null[vout]", "[vout]"
    parts = [f"[0:v]split={len(tracks) + 1}[base0]" + "".join(f"[src{i}]" for i in range(len(tracks)))]
    for i, track in enumerate(tracks):
        w, h = min(region_size(track)[0], width - width % 2), min(region_size(track)[1], height - height % 2)
        keys = track.keyframes
        if len(keys) == 1:  # a still region: one point is its own segment
            keys = (keys[0], Keyframe(keys[0].t_ms + 1, keys[0].x, keys[0].y, keys[0].w, keys[0].h))
        xs = [(k.t_ms / 1000, k.x + k.w / 2 - w / 2) for k in keys]
        ys = [(k.t_ms / 1000, k.y + k.h / 2 - h / 2) for k in keys]
        x, y = _axis_expr(xs, w, width), _axis_expr(ys, h, height)
        start, end = track.keyframes[0].t_ms / 1000, track.keyframes[-1].t_ms / 1000
        parts.append(f"[src{i}]crop=w={w}:h={h}:x='{x}':y='{y}',{_mode_filter(track, w, h)}[mask{i}]")
        parts.append(f"[base{i}][mask{i}]overlay=x='{x}':y='{y}':enable='between(t,{start:.3f},{end:.3f})'"
                     f"[base{i + 1}]")
    return ";".join(parts), f"[base{len(tracks)}]"


def audio_graph(project: Project, sample_rate: int) -> tuple[str, str] | None:
    """The audio part from ``[0:a]`` (mute, plus a tone in bleeped ranges); None when nothing changes."""
    if not project.audio:
        return None
    quiet = "+".join(f"between(t,{a.start_ms / 1000:.3f},{a.end_ms / 1000:.3f})" for a in project.audio)
    graph = f"[0:a]volume=volume='if({quiet},0,1)':eval=frame[amuted]"
    bleeps = [a for a in project.audio if a.mode == "bleep"]
    if not bleeps:
        return graph, "[amuted]"
    loud = "+".join(f"between(t,{a.start_ms / 1000:.3f},{a.end_ms / 1000:.3f})" for a in bleeps)
    graph += (f";sine=frequency={BLEEP_HZ}:sample_rate={sample_rate}[tone];"
              f"[tone]volume=volume='if({loud},{BLEEP_LEVEL},0)':eval=frame[atone];"
              "[amuted][atone]amix=inputs=2:duration=first:dropout_transition=0,volume=2[aout]")
    return graph, "[aout]"
