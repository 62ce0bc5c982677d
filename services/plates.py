"""Licence-plate suggestions for a redaction project: OpenCV's plate Haar cascade on sampled frames.

The detector is ``haarcascade_russian_plate_number.xml``, shipped in the ``opencv-python-headless`` wheel
(``cv2.data``) beside the face cascades: nothing is fetched at run time.  It was trained on Russian plates
(black characters on a white, long plate, 520 x 112 mm); the wheel's other plate cascade
(``haarcascade_license_plate_rus_16stages.xml``) found nothing on the rendered test plates, so it is not
used.  The figures on a white plate and on a Chinese-style blue plate (440 x 140 mm, white characters)
are ``bench/redaction.py``'s, in the README; suggestions are a starting point the user reviews, and a
plate the detector misses is masked by a manual track.  Frames are sampled and boxes linked into tracks
exactly as for faces (``services.faces``, ``policy.face_tracks``).
"""

from __future__ import annotations

from typing import Any

from policy.face_tracks import Box
from services.faces import detect_with

CASCADE = "haarcascade_russian_plate_number.xml"
#: Detector settings: scale step, neighbours a plate needs, smallest plate (px, the cascade's window).
SCALE_FACTOR = 1.1
MIN_NEIGHBOURS = 4
MIN_PLATE_PX = (60, 20)


def detect_plates(frame: Any) -> list[Box]:
    """Plate boxes (x, y, w, h) in one BGR frame (analysed at most ``faces.ANALYSE_WIDTH_PX`` wide)."""
    return detect_with(CASCADE, frame, scale_factor=SCALE_FACTOR, min_neighbours=MIN_NEIGHBOURS,
                       min_size=MIN_PLATE_PX)
