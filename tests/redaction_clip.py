"""A test clip with a real face: scikit-image's public-domain astronaut (Eileen Collins, NASA) moved
across a grey frame by ffmpeg, over a 440 Hz tone.  Made in the caller's directory, never committed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
from skimage import data

#: The face's box in the clip: it starts at x=FACE_X0 and moves FACE_SPEED_PX_S to the right.
FACE_X0 = 20
FACE_Y = 70
FACE_W, FACE_H = 200, 220
FACE_SPEED_PX_S = 100


def face_png(out: Path) -> Path:
    face = cv2.resize(data.astronaut()[20:240, 120:320], (FACE_W, FACE_H))
    cv2.imwrite(str(out), cv2.cvtColor(face, cv2.COLOR_RGB2BGR))
    return out


def make_clip(out: Path, *, seconds: int = 4, size: str = "640x360", fps: int = 25, speed_px_s: int = FACE_SPEED_PX_S,
              preset: str = "veryfast") -> Path:
    """An MP4 (H.264 + AAC) of ``seconds`` with the face moving right across the frame."""
    png = face_png(out.with_suffix(".face.png"))
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"color=c=gray:s={size}:r={fps}:d={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:d={seconds}",
         "-loop", "1", "-framerate", str(fps), "-i", str(png),
         "-filter_complex", f"[0:v][2:v]overlay=x='{FACE_X0}+t*{speed_px_s}':y={FACE_Y}:shortest=1[v]",
         "-map", "[v]", "-map", "1:a", "-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-t", str(seconds), str(out)], check=True, timeout=600)
    return out


def face_box_at(t_s: float) -> tuple[int, int, int, int]:
    """Where the face is at ``t_s`` (x, y, w, h)."""
    return round(FACE_X0 + t_s * FACE_SPEED_PX_S), FACE_Y, FACE_W, FACE_H
