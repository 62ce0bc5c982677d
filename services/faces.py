"""Automatic face suggestions for a redaction project: OpenCV's Haar cascade on sampled frames.

The detector is OpenCV's frontal-face Haar cascade (``haarcascade_frontalface_default.xml``), which the
``opencv-python-headless`` wheel ships in ``cv2.data``: nothing is fetched at run time.  It is fast on a
CPU and finds upright, roughly frontal faces; profiles and small faces are missed, so suggestions are a
starting point the user reviews, never the whole redaction.  Frames are sampled every ``every_ms``;
``policy.face_tracks`` links the boxes into tracks.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy.face_tracks import Box, suggest

CASCADE = "haarcascade_frontalface_default.xml"
#: Detector settings: scale step between pyramid levels, neighbours a face needs, smallest face (px).
SCALE_FACTOR = 1.1
MIN_NEIGHBOURS = 5
MIN_FACE_PX = 24
#: Frames are analysed at most this wide (faster; boxes are scaled back to the frame).
ANALYSE_WIDTH_PX = 960
DEFAULT_EVERY_MS = 200


class Unreadable(ValueError):
    """OpenCV cannot read the recording as video."""


@dataclass(frozen=True, slots=True)
class Detections:
    width: int
    height: int
    #: (t_ms, boxes) per sampled frame.
    samples: list[tuple[int, list[Box]]]

    def hit_rate(self) -> float:
        """The share of sampled frames with at least one face."""
        return sum(1 for _, boxes in self.samples if boxes) / len(self.samples) if self.samples else 0.0


@functools.cache
def opencv() -> Any:
    """The ``cv2`` module, imported on the first suggestion run, not at start-up."""
    # Deferred: OpenCV adds ~60 MiB to a server's RSS; only suggestion runs use it, never an upload.
    import cv2
    return cv2


@functools.cache
def cascade(name: str) -> Any:
    """OpenCV's packaged Haar cascade ``name``, loaded once."""
    cv2 = opencv()
    classifier = cv2.CascadeClassifier(cv2.data.haarcascades + name)
    if classifier.empty():
        raise RuntimeError(f"OpenCV's {name} is missing from the installed cv2 package")
    return classifier


def detect_with(name: str, frame: Any, *, scale_factor: float, min_neighbours: int,
                min_size: tuple[int, int]) -> list[Box]:
    """Boxes (x, y, w, h) the cascade ``name`` finds in one BGR frame, analysed at most
    ``ANALYSE_WIDTH_PX`` wide and scaled back to the frame."""
    cv2 = opencv()
    height, width = frame.shape[:2]
    scale = min(1.0, ANALYSE_WIDTH_PX / width)
    small = cv2.resize(frame, (round(width * scale), round(height * scale))) if scale < 1 else frame
    # No histogram equalisation: on a frame that is mostly one flat colour it stretches the background and
    # wrecks the face's contrast (bench/redaction.py: 43 % of frames found with it, 100 % without).
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    found = cascade(name).detectMultiScale(grey, scaleFactor=scale_factor, minNeighbors=min_neighbours,
                                           minSize=min_size)
    return [(round(x / scale), round(y / scale), round(w / scale), round(h / scale)) for x, y, w, h in found]


def detect_faces(frame: Any) -> list[Box]:
    """Face boxes (x, y, w, h) in one BGR frame."""
    return detect_with(CASCADE, frame, scale_factor=SCALE_FACTOR, min_neighbours=MIN_NEIGHBOURS,
                       min_size=(MIN_FACE_PX, MIN_FACE_PX))


#: A detector: the boxes it finds in one BGR frame.
Detector = Callable[[Any], list[Box]]


def detect_file(path: Path, every_ms: int = DEFAULT_EVERY_MS) -> Detections:
    """Detect faces on frames sampled every ``every_ms`` of a recording (blocking: run it in a thread)."""
    return detect_many(path, every_ms, {"face": detect_faces})["face"]


def detect_many(path: Path, every_ms: int, detectors: Mapping[str, Detector]) -> dict[str, Detections]:
    """Each detector (faces, plates: ``services.plates``) on the same frames sampled every ``every_ms``,
    decoded once (blocking: run it in a thread)."""
    cv2 = opencv()
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise Unreadable("OpenCV cannot read it as video")
    try:
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        samples: dict[str, list[tuple[int, list[Box]]]] = {label: [] for label in detectors}
        next_ms = 0
        while True:
            ok = cap.grab()
            if not ok:
                break
            t_ms = int(cap.get(cv2.CAP_PROP_POS_MSEC))
            if t_ms < next_ms:
                continue
            ok, frame = cap.retrieve()
            if not ok:
                break
            for label, detect in detectors.items():
                samples[label].append((t_ms, detect(frame)))
            next_ms = t_ms + every_ms
        if not any(samples.values()):
            raise Unreadable("OpenCV found no frame in it")
        return {label: Detections(width, height, found) for label, found in samples.items()}
    finally:
        cap.release()


async def suggest_tracks(path: Path, every_ms: int = DEFAULT_EVERY_MS, mode: str = "blur",
                         detectors: Mapping[str, Detector] | None = None) -> list[dict[str, Any]]:
    """Suggested tracks for what the detectors find (faces by default), each labelled with its detector's
    name and linked on its own (a face never continues a plate's track).  The detectors run in a thread."""
    found = await asyncio.to_thread(detect_many, path, every_ms, detectors or {"face": detect_faces})
    return [track for label, d in found.items() for track in suggest(d.samples, d.width, d.height, mode=mode,
                                                                      label=label)]
