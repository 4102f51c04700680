"""Compare an exported graph's detections with PyTorch's.

The reference is the eager model's own ``predict(..., rescale=False)``
(the row-bound ``topk_peaks`` decode), so a check proves the graph's
full-map decode and the exported network equal to what ``tools/test.py``
evaluates.
"""
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from cnet.structures import DetDataSample

from .runtime import OnnxDetector

Detections = Dict[str, np.ndarray]


def pytorch_detections(model: nn.Module, images: Sequence[Tensor],
                       data_samples: Optional[List[DetDataSample]] = None,
                       flip: Optional[bool] = None) -> Detections:
    """The eager model's detections in network-input pixels.

    Args:
        model: the ``CenterNet`` that was exported.
        images: B (3, H, W) images as the test pipeline packs them (BGR
            0..255); the model's data preprocessor normalises and stacks
            them.
        data_samples: their samples (new empty ones if ``None``).
        flip: the flip test; ``None`` follows the model's ``test_cfg``.

    Returns:
        ``bboxes`` (B, K, 4), ``scores`` (B, K), ``labels`` (B, K), numpy.
    """
    if data_samples is None:
        data_samples = [DetDataSample() for _ in images]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            data = model.data_preprocessor(
                dict(inputs=list(images), data_samples=data_samples), False)
            options = {} if flip is None else dict(flip=flip)
            results = model.predict(data['inputs'], data['data_samples'],
                                    rescale=False, **options)
    finally:
        model.train(was_training)
    return {key: torch.stack([sample.pred_instances.get(key)
                              for sample in results]).cpu().numpy()
            for key in ('bboxes', 'scores', 'labels')}


def onnx_detections(model: nn.Module, detector: OnnxDetector,
                    images: Sequence[Tensor]) -> Detections:
    """The graph's detections of the same images as
    :func:`pytorch_detections`: raw when the graph normalises, otherwise
    through the model's data preprocessor."""
    if detector.with_preprocess:
        batch = torch.stack(list(images))
    else:
        with torch.no_grad():
            batch = model.data_preprocessor(
                dict(inputs=list(images)), False)['inputs']
    return detector(batch)


# Two detections are the same object when they agree this well; the
# measured differences are reported separately and are far smaller.
MATCH_BOX_TOL = 0.5     # pixels
MATCH_SCORE_TOL = 1e-5


def compare_detections(reference: Detections, candidate: Detections,
                       box_tol: float = MATCH_BOX_TOL,
                       score_tol: float = MATCH_SCORE_TOL
                       ) -> Dict[str, float]:
    """Differences of two detection sets of one batch, rank by rank and up
    to the order of equal scores.

    Two runtimes compute scores that differ in the last bits, so two
    detections whose scores are (nearly) tied may swap ranks, and one tied
    with the K-th may leave the list for another. Besides the strict
    rank-by-rank differences, each reference detection is therefore
    matched (greedily, best first) to an unused candidate detection of the
    same label, a box within ``box_tol`` and a score within ``score_tol``;
    the box difference of the matched pairs is then measured.

    Args:
        reference / candidate: ``bboxes`` (B, K, 4), ``scores`` (B, K),
            ``labels`` (B, K).
        box_tol: how far (pixels) two boxes of one object may be, to match.
        score_tol: how far two scores of one object may be, to match.

    Returns:
        Rank by rank: ``max_box_diff`` (pixels), ``max_score_diff`` and
        ``label_agreement`` (fraction of ranks with equal labels).
        Matched: ``matched`` (fraction of reference detections matched),
        ``matched_max_box_diff`` and ``matched_max_score_diff`` of the
        pairs, ``num_unmatched``, ``unmatched_max_score`` (the best score
        left without a partner; 0 if none) and ``unmatched_are_ties``
        (1.0 when every unmatched detection scores within ``score_tol`` of
        the candidate's K-th score: a tie at the cut-off, which either side
        may break, not a disagreement). ``num_detections``: B·K.
    """
    for key in ('bboxes', 'scores', 'labels'):
        if reference[key].shape != candidate[key].shape:
            raise ValueError(f'compare_detections: {key} of shape '
                             f'{candidate[key].shape}, expected '
                             f'{reference[key].shape}')
    ref_boxes = reference['bboxes'].astype(np.float64)
    cand_boxes = candidate['bboxes'].astype(np.float64)
    ref_scores = reference['scores'].astype(np.float64)
    cand_scores = candidate['scores'].astype(np.float64)
    result = dict(
        max_box_diff=float(np.abs(ref_boxes - cand_boxes).max(initial=0)),
        max_score_diff=float(np.abs(ref_scores - cand_scores).max(
            initial=0)),
        label_agreement=float(np.mean(reference['labels'] ==
                                      candidate['labels']))
        if reference['labels'].size else 1.0,
        num_detections=int(reference['labels'].size))

    box_diffs, score_diffs, unmatched_scores, ties = [], [], [], True
    for image in range(ref_boxes.shape[0]):
        # (K, K): reference i against candidate j.
        box_diff = np.abs(ref_boxes[image][:, None] -
                          cand_boxes[image][None]).max(-1)
        score_diff = np.abs(ref_scores[image][:, None] -
                            cand_scores[image][None])
        same = ((reference['labels'][image][:, None] ==
                 candidate['labels'][image][None]) &
                (box_diff <= box_tol) & (score_diff <= score_tol))
        used = np.zeros(same.shape[1], dtype=bool)
        for rank in range(same.shape[0]):
            options = np.nonzero(same[rank] & ~used)[0]
            if len(options) == 0:
                unmatched_scores.append(ref_scores[image, rank])
                ties &= bool(abs(ref_scores[image, rank] -
                                 cand_scores[image].min()) <= score_tol)
                continue
            partner = options[np.argmin(box_diff[rank, options])]
            used[partner] = True
            box_diffs.append(box_diff[rank, partner])
            score_diffs.append(score_diff[rank, partner])
    total = result['num_detections']
    result.update(
        matched=(total - len(unmatched_scores)) / total if total else 1.0,
        matched_max_box_diff=float(max(box_diffs, default=0.)),
        matched_max_score_diff=float(max(score_diffs, default=0.)),
        num_unmatched=len(unmatched_scores),
        unmatched_max_score=float(max(unmatched_scores, default=0.)),
        unmatched_are_ties=float(ties))
    return result


def merge_comparisons(comparisons: Iterable[Dict[str, float]]
                      ) -> Dict[str, float]:
    """:func:`compare_detections` of several batches as one: the worst
    differences, the overall fractions and counts."""
    comparisons = list(comparisons)
    total = sum(c['num_detections'] for c in comparisons)

    def weighted(key: str) -> float:
        if not total:
            return 1.0
        return sum(c[key] * c['num_detections'] for c in comparisons) / total

    def worst(key: str) -> float:
        return max((c[key] for c in comparisons), default=0.)

    return dict(
        max_box_diff=worst('max_box_diff'),
        max_score_diff=worst('max_score_diff'),
        label_agreement=weighted('label_agreement'),
        matched=weighted('matched'),
        matched_max_box_diff=worst('matched_max_box_diff'),
        matched_max_score_diff=worst('matched_max_score_diff'),
        num_unmatched=sum(c['num_unmatched'] for c in comparisons),
        unmatched_max_score=worst('unmatched_max_score'),
        unmatched_are_ties=float(all(c['unmatched_are_ties']
                                     for c in comparisons)),
        num_detections=total,
        num_batches=len(comparisons))


def verify_onnx(model: nn.Module, onnx_file: Union[str, OnnxDetector],
                images: Sequence[Tensor]) -> Dict[str, float]:
    """Compare the graph with the eager model on one batch.

    Args:
        model: the exported ``CenterNet``.
        onnx_file: its .onnx file (or an :class:`OnnxDetector` of it).
        images: B (3, H, W) BGR 0..255 images of one size.

    Returns:
        see :func:`compare_detections`.
    """
    detector = (onnx_file if isinstance(onnx_file, OnnxDetector) else
                OnnxDetector(onnx_file))
    return compare_detections(
        pytorch_detections(model, images, flip=detector.flip),
        onnx_detections(model, detector, images))


def verify_onnx_on_dataset(model: nn.Module,
                           onnx_file: Union[str, OnnxDetector],
                           dataset: Sequence[dict],
                           max_images: Optional[int] = None
                           ) -> Dict[str, float]:
    """Compare the graph with the eager model on a dataset, image by image.

    Images go through the dataset's own (test) pipeline, so ``keep_res``
    inputs keep their sizes: the graph needs dynamic H and W for them.

    Args:
        model: the exported ``CenterNet``.
        onnx_file: its .onnx file (or an :class:`OnnxDetector` of it).
        dataset: yields ``dict(inputs=(3, H, W) uint8,
            data_samples=DetDataSample)`` (``PackDetInputs``).
        max_images: stop after this many images (all by default).

    Returns:
        see :func:`merge_comparisons`, with ``num_images``.
    """
    detector = (onnx_file if isinstance(onnx_file, OnnxDetector) else
                OnnxDetector(onnx_file))
    num_images = len(dataset) if max_images is None else min(
        max_images, len(dataset))
    comparisons = []
    for index in range(num_images):
        item = dataset[index]
        images, samples = [item['inputs']], [item['data_samples']]
        comparisons.append(compare_detections(
            pytorch_detections(model, images, samples, flip=detector.flip),
            onnx_detections(model, detector, images)))
    return dict(merge_comparisons(comparisons), num_images=num_images)


def format_comparison(result: Dict[str, float]) -> str:
    """A few lines that say how well the graph agrees with PyTorch."""
    lines = [
        f"rank by rank: max box difference {result['max_box_diff']:.3g} px, "
        f"max score difference {result['max_score_diff']:.3g}, labels "
        f"agree at {100 * result['label_agreement']:.3f}% of "
        f"{result['num_detections']} detections",
        f"matched up to the order of equal scores: "
        f"{100 * result['matched']:.3f}% matched, max box difference "
        f"{result['matched_max_box_diff']:.3g} px, max score difference "
        f"{result['matched_max_score_diff']:.3g}",
    ]
    if result['num_unmatched']:
        lines.append(
            f"{result['num_unmatched']} unmatched (best score "
            f"{result['unmatched_max_score']:.4g}); "
            + ('each ties with the K-th score: equal scores exchanged at '
               'the cut-off' if result['unmatched_are_ties']
               else 'NOT explained by ties at the cut-off'))
    return '\n'.join(lines)
