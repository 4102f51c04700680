"""Drawing tracks: each track's box and id in a colour of its own, and the
trail of its past centres."""
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from .draw import class_color

Trails = Dict[int, List[Tuple[float, float]]]


def track_color(track_id: int) -> Tuple[int, int, int]:
    """A fixed BGR colour per track id (the class palette, indexed by id)."""
    return class_color(int(track_id))


def update_trails(trails: Trails, bboxes: np.ndarray,
                  track_ids: np.ndarray, length: int = 30) -> Trails:
    """Append each track's box centre to its trail, keep the last
    ``length`` points, and drop the trails of tracks not in this frame.

    Args:
        trails: track id → centres (x, y), oldest first; updated in place.
        bboxes: (N, 4) xyxy boxes of the frame's tracks.
        track_ids: (N,) their ids.
        length: points kept per trail.

    Returns:
        ``trails``.
    """
    present = set()
    for box, ident in zip(np.asarray(bboxes).reshape(-1, 4),
                          np.asarray(track_ids).reshape(-1)):
        ident = int(ident)
        present.add(ident)
        center = ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)
        trails.setdefault(ident, []).append((float(center[0]),
                                             float(center[1])))
        del trails[ident][:-length]
    for ident in list(trails):
        if ident not in present:
            del trails[ident]
    return trails


def draw_tracks(image: np.ndarray, bboxes: np.ndarray,
                track_ids: np.ndarray, trails: Trails,
                labels: Sequence[int] = (),
                class_names: Sequence[str] = (),
                thickness: int = 2) -> np.ndarray:
    """Draw tracks on a copy of a BGR image.

    Args:
        image: (H, W, 3) uint8 BGR.
        bboxes: (N, 4) xyxy of the frame's tracks, in the image's pixels.
        track_ids: (N,) their ids (each drawn as ``#id``, with the class
            name when ``labels`` and ``class_names`` are given).
        trails: track id → past centres (:func:`update_trails`); each
            drawn as a polyline in the track's colour.
        thickness: of the boxes.

    Returns:
        (H, W, 3) uint8 BGR, a new array.
    """
    canvas = np.ascontiguousarray(image.copy())
    for ident, points in trails.items():
        if len(points) > 1:
            line = np.round(np.asarray(points)).astype(np.int32)
            cv2.polylines(canvas, [line[:, None]], False,
                          track_color(ident), 1, cv2.LINE_AA)
    labels = list(labels)
    for i, (box, ident) in enumerate(zip(np.asarray(bboxes).reshape(-1, 4),
                                         np.asarray(track_ids).reshape(-1))):
        color = track_color(int(ident))
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness)
        text = f'#{int(ident)}'
        if labels and class_names:
            text = f'{class_names[int(labels[i])]} {text}'
        cv2.putText(canvas, text, (x1, max(y1 - 3, 10)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1, cv2.LINE_AA)
    return canvas
