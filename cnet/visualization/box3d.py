"""Drawing 3-D boxes: projected into the image, and from above (bird's eye).

The projected boxes are drawn as the original's ``draw_box_3d``
(``src/lib/utils/ddd_utils.py``): the four side faces, the front one
crossed; the bird's-eye view as its ``Debugger.add_bird_view`` (a top-down
plane, x to the right, z upwards), with the front edge of each box thicker.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from cnet.structures import DetDataSample
from cnet.structures.bbox3d import box3d_corners, project_box3d

from .draw import class_color

SIDE_FACES = ((0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7))


def draw_boxes_3d(image: np.ndarray, dimensions: np.ndarray,
                  locations: np.ndarray, rotation_y: np.ndarray,
                  cam2img: np.ndarray, labels: np.ndarray,
                  scores: Optional[np.ndarray] = None,
                  class_names: Optional[Sequence[str]] = None,
                  score_thr: float = 0.3, thickness: int = 2) -> np.ndarray:
    """Draw KITTI boxes projected by ``cam2img`` on a copy of ``image``.

    Args:
        image: (H, W, 3) uint8 BGR.
        dimensions: (N, 3) h, w, l; ``locations`` (N, 3) bottom centres;
            ``rotation_y`` (N,).
        cam2img: (3, 4) P2 of ``image``.
        labels, scores, class_names, score_thr: as ``draw_boxes``.
    """
    canvas = np.ascontiguousarray(image.copy())
    for i in range(len(labels)):
        score = None if scores is None else float(scores[i])
        if score is not None and score < score_thr:
            continue
        if locations[i][2] <= 0.1:
            continue  # behind the camera
        corners = np.round(project_box3d(dimensions[i], locations[i],
                                         rotation_y[i], cam2img)).astype(int)
        color = class_color(int(labels[i]))
        for face_index in range(3, -1, -1):
            face = SIDE_FACES[face_index]
            for j in range(4):
                cv2.line(canvas, tuple(corners[face[j]]),
                         tuple(corners[face[(j + 1) % 4]]), color, thickness,
                         cv2.LINE_AA)
            if face_index == 0:  # the front face, crossed
                cv2.line(canvas, tuple(corners[face[0]]),
                         tuple(corners[face[2]]), color, 1, cv2.LINE_AA)
                cv2.line(canvas, tuple(corners[face[1]]),
                         tuple(corners[face[3]]), color, 1, cv2.LINE_AA)
        name = (class_names[int(labels[i])] if class_names is not None
                else str(int(labels[i])))
        text = name if score is None else f'{name} {score:.2f}'
        top = corners.min(axis=0)
        cv2.putText(canvas, text, (int(top[0]), max(int(top[1]) - 3, 10)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1, cv2.LINE_AA)
    return canvas


def draw_bev(dimensions: np.ndarray, locations: np.ndarray,
             rotation_y: np.ndarray, labels: np.ndarray,
             scores: Optional[np.ndarray] = None, score_thr: float = 0.3,
             gt: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None,
             x_range: Tuple[float, float] = (-25.0, 25.0),
             z_range: Tuple[float, float] = (0.0, 50.0),
             pixels_per_metre: float = 8.0) -> np.ndarray:
    """A bird's-eye-view plot of boxes (and optionally the ground truth).

    Args:
        dimensions, locations, rotation_y, labels, scores: the boxes.
        score_thr: boxes under it are left out.
        gt: ``(dimensions, locations, rotation_y)`` drawn in white below.
        x_range, z_range: the plotted area in metres.
        pixels_per_metre: scale of the plot.

    Returns:
        (H, W, 3) uint8 BGR; the camera at the bottom centre, z upwards,
        a grid line every 10 m.
    """
    width = int(round((x_range[1] - x_range[0]) * pixels_per_metre))
    height = int(round((z_range[1] - z_range[0]) * pixels_per_metre))
    canvas = np.full((height, width, 3), 30, np.uint8)

    def to_pixels(x: np.ndarray, z: np.ndarray) -> np.ndarray:
        return np.stack([(x - x_range[0]) * pixels_per_metre,
                         (z_range[1] - z) * pixels_per_metre], axis=-1)

    for z in np.arange(np.ceil(z_range[0] / 10) * 10, z_range[1], 10.0):
        y = int(to_pixels(np.array(0.0), np.array(z))[1])
        cv2.line(canvas, (0, y), (width - 1, y), (70, 70, 70), 1)
    camera = to_pixels(np.array(0.0), np.array(z_range[0])).astype(int)
    cv2.circle(canvas, (int(camera[0]), int(camera[1]) - 3), 3,
               (200, 200, 200), -1)

    def footprint(dims, location, rot):
        corners = box3d_corners(np.asarray(dims, np.float64),
                              np.asarray(location, np.float64), float(rot))
        return np.round(to_pixels(corners[:4, 0], corners[:4, 2])).astype(
            np.int32)

    if gt is not None:
        for dims, location, rot in zip(*gt):
            polygon = footprint(dims, location, rot)
            cv2.polylines(canvas, [polygon], True, (255, 255, 255), 1,
                          cv2.LINE_AA)
    for i in range(len(labels)):
        if scores is not None and scores[i] < score_thr:
            continue
        polygon = footprint(dimensions[i], locations[i], rotation_y[i])
        color = class_color(int(labels[i]))
        cv2.polylines(canvas, [polygon], True, color, 1, cv2.LINE_AA)
        # Corners 0 and 1 bound the front face.
        cv2.line(canvas, tuple(polygon[0]), tuple(polygon[1]), color, 3,
                 cv2.LINE_AA)
    return canvas


def draw_mono3d_sample(image: np.ndarray, sample: DetDataSample,
                       cam2img: np.ndarray,
                       class_names: Optional[Sequence[str]] = None,
                       score_thr: float = 0.3) -> np.ndarray:
    """The image with its projected 3-D detections, the bird's-eye view to
    its right (scaled to the image's height)."""
    pred = sample.pred_instances
    fields = {key: pred[key].detach().cpu().numpy() for key in (
        'dimensions', 'locations', 'rotation_y', 'labels', 'scores')}
    drawn = draw_boxes_3d(image, fields['dimensions'], fields['locations'],
                          fields['rotation_y'], cam2img, fields['labels'],
                          fields['scores'], class_names, score_thr)
    bev = draw_bev(fields['dimensions'], fields['locations'],
                   fields['rotation_y'], fields['labels'], fields['scores'],
                   score_thr)
    scale = drawn.shape[0] / bev.shape[0]
    bev = cv2.resize(bev, (max(int(round(bev.shape[1] * scale)), 1),
                           drawn.shape[0]), interpolation=cv2.INTER_AREA)
    return np.concatenate([drawn, bev], axis=1)


__all__ = ['project_box3d', 'draw_boxes_3d', 'draw_bev',
           'draw_mono3d_sample']
