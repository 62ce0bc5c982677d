"""Test clips: a real face — scikit-image's public-domain astronaut (Eileen Collins, NASA) moved across a
grey frame by ffmpeg, over a 440 Hz tone — and a rendered licence plate on a car body moved the same way.
Made in the caller's directory, never committed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
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


# -- a licence plate -------------------------------------------------------------------------------------

#: The plate's box in the plate clip: it starts at x=PLATE_X0 and moves PLATE_SPEED_PX_S to the right.
PLATE_X0 = 40
PLATE_Y = 220
PLATE_W = 260
PLATE_SPEED_PX_S = 60
#: A system font with Chinese glyphs for the Chinese-style plate (the Latin part alone when absent).
CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def plate_size(style: str, width: int = PLATE_W) -> tuple[int, int]:
    """A plate's (w, h) in pixels: 520 x 112 mm for the white plate, 440 x 140 mm for the Chinese blue one."""
    return width, round(width * (112 / 520 if style == "white" else 140 / 440))


def plate_png(out: Path, style: str = "white", width: int = PLATE_W) -> Path:
    """A rendered plate: ``white`` (black characters on white, a Russian-style layout: what OpenCV's plate
    cascade was trained on) or ``cn`` (white characters on blue, a Chinese small-car plate, 京A·12345)."""
    w, h = plate_size(style, width)
    if style == "white":
        img = np.full((h, w, 3), 245, np.uint8)
        cv2.rectangle(img, (1, 1), (w - 2, h - 2), (20, 20, 20), max(2, w // 130))
        cv2.line(img, (round(w * 0.78), 2), (round(w * 0.78), h - 3), (20, 20, 20), max(2, w // 200))
        scale = h / 40
        cv2.putText(img, "A123BC", (round(w * 0.04), round(h * 0.8)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (10, 10, 10), max(2, round(scale * 2.2)))
        cv2.putText(img, "77", (round(w * 0.8), round(h * 0.62)), cv2.FONT_HERSHEY_SIMPLEX, scale * 0.7,
                    (10, 10, 10), max(2, round(scale * 1.8)))
        cv2.imwrite(str(out), img)
        return out
    plate = Image.new("RGB", (w, h), (0, 60, 170))
    draw = ImageDraw.Draw(plate)
    draw.rectangle((3, 3, w - 4, h - 4), outline=(255, 255, 255), width=2)
    font_path = next((f for f in CJK_FONTS if Path(f).exists()), None)
    text = "京A·12345" if font_path else "A·12345"
    font = ImageFont.truetype(font_path, round(h * 0.55)) if font_path else ImageFont.load_default(round(h * 0.55))
    draw.text((round(w * 0.06), round(h * 0.18)), text, fill=(255, 255, 255), font=font)
    plate.save(out)
    return out


def make_plate_clip(out: Path, *, seconds: int = 4, size: str = "640x360", fps: int = 25, style: str = "white",
                    speed_px_s: int = PLATE_SPEED_PX_S, preset: str = "veryfast") -> Path:
    """An MP4 of ``seconds``: a plate on a dark red car body, moving right across a grey street."""
    png = plate_png(out.with_suffix(f".{style}.png"), style)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"color=c=0x5a5a5a:s={size}:r={fps}:d={seconds}",
         "-loop", "1", "-framerate", str(fps), "-i", str(png),
         "-filter_complex",
         f"[0:v]drawbox=x='{PLATE_X0 - 60}+t*{speed_px_s}':y={PLATE_Y - 120}:w={PLATE_W + 120}:h=200:"
         f"color=0x78282a:t=fill[car];"
         f"[car][1:v]overlay=x='{PLATE_X0}+t*{speed_px_s}':y={PLATE_Y}:shortest=1[v]",
         "-map", "[v]", "-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p", "-t", str(seconds),
         str(out)], check=True, timeout=600)
    return out


def plate_box_at(t_s: float, style: str = "white", speed_px_s: int = PLATE_SPEED_PX_S) -> tuple[int, int, int, int]:
    """Where the plate is at ``t_s`` (x, y, w, h)."""
    w, h = plate_size(style)
    return round(PLATE_X0 + t_s * speed_px_s), PLATE_Y, w, h
