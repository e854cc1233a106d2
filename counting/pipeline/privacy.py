"""Blurring people out of a picture: the boxes a detector found are pixelated beyond
recognition (faces, clothes), with a margin around each box.

Pure image code (numpy, OpenCV); which boxes to blur is the caller's (a detector's) business.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

# Each box grows by this share of its size on every side (a detector's box is tight).
MARGIN = 0.15
# The blurred box is shown as blocks of this many pixels at most (at least 8 per box side).
BLOCKS = 8


def blur_boxes(image: Any, xyxy: Any, *, margin: float = MARGIN) -> Any:
    """A copy of the BGR ``image`` with every ``xyxy`` box (pixels, float) pixelated.

    Pixelation (down to ``BLOCKS`` blocks per side and back up, nearest-neighbour) removes the
    detail a Gaussian blur of the same strength would keep at large box sizes.
    """
    out = np.array(image, copy=True)
    height, width = out.shape[:2]
    for x1, y1, x2, y2 in np.asarray(xyxy, dtype=np.float32).reshape(-1, 4):
        pad_x, pad_y = (x2 - x1) * margin, (y2 - y1) * margin
        left, top = max(0, int(x1 - pad_x)), max(0, int(y1 - pad_y))
        right, bottom = min(width, int(np.ceil(x2 + pad_x))), min(height, int(np.ceil(y2 + pad_y)))
        if right - left < 2 or bottom - top < 2:
            continue
        region = out[top:bottom, left:right]
        small = cv2.resize(region, (max(1, min(BLOCKS, right - left)),
                                    max(1, min(BLOCKS * 2, bottom - top))),
                           interpolation=cv2.INTER_AREA)
        out[top:bottom, left:right] = cv2.resize(small, (right - left, bottom - top),
                                                 interpolation=cv2.INTER_NEAREST)
    return out
