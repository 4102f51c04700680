"""Drawing detections on images with OpenCV (no display needed)."""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from cnet.structures import DetDataSample

from .heatmap import overlay_heatmap
from .keypoints import draw_skeletons


def class_color(label: int) -> Tuple[int, int, int]:
    """A fixed, well-spread BGR colour per class index."""
    hue = (label * 47) % 180
    hsv = np.uint8([[[hue, 200, 255]]])
    bgr = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def draw_boxes(image: np.ndarray, bboxes: np.ndarray, labels: np.ndarray,
               scores: Optional[np.ndarray] = None,
               class_names: Optional[Sequence[str]] = None,
               score_thr: float = 0.3, thickness: int = 2) -> np.ndarray:
    """Draw xyxy boxes with their class name (and score) on a BGR image copy.

    Args:
        image: (H, W, 3) uint8 BGR.
        bboxes: (N, 4) xyxy in the image's pixels.
        labels: (N,) class indices.
        scores: (N,) or ``None`` for ground truth; boxes under ``score_thr``
            are skipped.
        class_names: names indexed by label; the label number otherwise.
    """
    canvas = np.ascontiguousarray(image.copy())
    for i, (box, label) in enumerate(zip(bboxes, labels)):
        score = None if scores is None else float(scores[i])
        if score is not None and score < score_thr:
            continue
        color = class_color(int(label))
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness)
        name = (class_names[int(label)] if class_names is not None
                else str(int(label)))
        text = name if score is None else f'{name} {score:.2f}'
        cv2.putText(canvas, text, (x1, max(y1 - 3, 10)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1, cv2.LINE_AA)
    return canvas


def draw_det_sample(image: np.ndarray, sample: DetDataSample,
                    class_names: Optional[Sequence[str]] = None,
                    score_thr: float = 0.3,
                    heatmap_alpha: float = 0.5,
                    skeleton: Optional[Sequence[Sequence[int]]] = None
                    ) -> np.ndarray:
    """Draw a predicted sample on its original image.

    The heatmap (``sample.pred_heatmap.heatmap``, (1, H, W) in the image's
    pixels, as ``inference_detector(..., with_heatmap=True)`` adds it) is
    blended first when the sample has one, then the boxes of
    ``pred_instances`` with a score of at least ``score_thr`` are drawn
    with their class name and score.

    Args:
        image: (H, W, 3) uint8 BGR, the image the sample was predicted on.
        sample: with ``pred_instances`` (``bboxes`` (K, 4) xyxy in original
            pixels, ``scores`` (K,), ``labels`` (K,)).
        class_names: names indexed by label; the label number otherwise.
        score_thr: boxes under it are not drawn.
        heatmap_alpha: weight of the heatmap's colour map.
        skeleton: joint pairs to join when the predictions have
            ``keypoints`` (K, J, 2) (the pose head); COCO's by default.

    Returns:
        (H, W, 3) uint8 BGR, a new array.
    """
    canvas = image
    if 'pred_heatmap' in sample:
        heatmap = sample.pred_heatmap.heatmap[0].cpu().numpy()
        canvas = overlay_heatmap(canvas, heatmap, alpha=heatmap_alpha)
    pred = sample.pred_instances
    canvas = draw_boxes(canvas, pred.bboxes.cpu().numpy(),
                        pred.labels.cpu().numpy(), pred.scores.cpu().numpy(),
                        class_names, score_thr)
    if 'keypoints' in pred:
        canvas = draw_skeletons(canvas, pred.keypoints.cpu().numpy(),
                                pred.scores.cpu().numpy(), skeleton,
                                score_thr=score_thr)
    return canvas
