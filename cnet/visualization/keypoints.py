"""Drawing predicted skeletons (the pose task) with OpenCV."""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from cnet.structures.keypoints import (
    COCO_FLIP_PAIRS,
    COCO_KEYPOINT_NAMES,
    COCO_SKELETON,
)

# BGR: the person's left side orange, its right side blue, the middle green
# (the sides of a mirrored person swap colours).
LEFT_COLOR = (0, 128, 255)
RIGHT_COLOR = (255, 96, 0)
MIDDLE_COLOR = (0, 200, 0)


def joint_sides(num_joints: int,
                flip_pairs: Sequence[Sequence[int]]) -> np.ndarray:
    """(J,) side of every joint: +1 left (first of a pair), -1 right, 0
    middle."""
    sides = np.zeros(num_joints, dtype=np.int64)
    for left, right in flip_pairs:
        sides[left], sides[right] = 1, -1
    return sides


def _side_color(side: int) -> Tuple[int, int, int]:
    return LEFT_COLOR if side > 0 else RIGHT_COLOR if side < 0 \
        else MIDDLE_COLOR


def draw_skeletons(image: np.ndarray, keypoints: np.ndarray,
                   scores: Optional[np.ndarray] = None,
                   skeleton: Optional[Sequence[Sequence[int]]] = None,
                   flip_pairs: Optional[Sequence[Sequence[int]]] = None,
                   score_thr: float = 0.3, thickness: int = 2,
                   visible: Optional[np.ndarray] = None) -> np.ndarray:
    """Draw the joints and limbs of every person on a BGR image copy.

    Args:
        image: (H, W, 3) uint8 BGR.
        keypoints: (N, J, 2) joints in the image's pixels.
        scores: (N,) person scores; persons under ``score_thr`` are skipped.
        skeleton: 0-based joint pairs to join; COCO's edges for 17 joints,
            none otherwise.
        flip_pairs: left/right joint pairs, for the colours; COCO's for 17
            joints.
        visible: (N, J) bool; joints not visible (gt with v = 0) and the
            limbs that touch them are not drawn. All drawn when ``None``.

    Returns:
        (H, W, 3) uint8 BGR, a new array.
    """
    canvas = np.ascontiguousarray(image.copy())
    num_joints = keypoints.shape[1] if keypoints.ndim == 3 else 0
    coco = num_joints == len(COCO_KEYPOINT_NAMES)
    if skeleton is None:
        skeleton = COCO_SKELETON if coco else ()
    if flip_pairs is None:
        flip_pairs = COCO_FLIP_PAIRS if coco else ()
    sides = joint_sides(num_joints, flip_pairs)
    radius = max(thickness, 2)
    for index, person in enumerate(keypoints):
        if scores is not None and float(scores[index]) < score_thr:
            continue
        points = [(int(round(float(x))), int(round(float(y))))
                  for x, y in person]
        shown = (np.ones(len(points), bool) if visible is None
                 else np.asarray(visible[index], bool))
        for first, second in skeleton:
            if not (shown[first] and shown[second]):
                continue
            side = sides[first] if sides[first] == sides[second] else 0
            cv2.line(canvas, points[first], points[second],
                     _side_color(int(side)), thickness, cv2.LINE_AA)
        for joint, point in enumerate(points):
            if not shown[joint]:
                continue
            cv2.circle(canvas, point, radius, _side_color(int(sides[joint])),
                       -1, cv2.LINE_AA)
    return canvas
