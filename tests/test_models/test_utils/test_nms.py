"""NMS and Soft-NMS against a plain transcription of the original's Cython."""
import numpy as np
import pytest
import torch

from cnet.models.utils import (
    batched_nms,
    batched_soft_nms,
    box_iou,
    cross_class_nms,
    nms,
    soft_nms,
)

METHOD_CODES = dict(hard=0, linear=1, gaussian=2)


def reference_soft_nms(dets, sigma=0.5, Nt=0.3, threshold=0.001, method=0):
    """``soft_nms`` of the original's src/lib/external/nms.pyx, line by line.

    ``dets`` is (N, 5) float32 (x1, y1, x2, y2, score), modified in place as
    the original does; the kept rows are the first N at the end. Arithmetic
    in float32 as the original's C floats.
    """
    boxes = dets
    N = boxes.shape[0]
    f32 = np.float32
    for i in range(N):  # Cython evaluates range(N) once, as Python
        maxscore = boxes[i, 4]
        maxpos = i
        tx1, ty1, tx2, ty2, ts = boxes[i, :5].copy()
        pos = i + 1
        while pos < N:
            if maxscore < boxes[pos, 4]:
                maxscore = boxes[pos, 4]
                maxpos = pos
            pos = pos + 1
        boxes[i, :5] = boxes[maxpos, :5]
        boxes[maxpos, :5] = (tx1, ty1, tx2, ty2, ts)
        tx1, ty1, tx2, ty2, ts = boxes[i, :5].copy()
        pos = i + 1
        while pos < N:
            x1, y1, x2, y2 = boxes[pos, :4]
            area = (x2 - x1 + f32(1)) * (y2 - y1 + f32(1))
            iw = min(tx2, x2) - max(tx1, x1) + f32(1)
            if iw > 0:
                ih = min(ty2, y2) - max(ty1, y1) + f32(1)
                if ih > 0:
                    ua = f32((tx2 - tx1 + f32(1)) * (ty2 - ty1 + f32(1)) +
                             area - iw * ih)
                    ov = f32(iw * ih / ua)
                    if method == 1:
                        weight = f32(1 - ov) if ov > Nt else f32(1)
                    elif method == 2:
                        weight = f32(np.exp(-(ov * ov) / f32(sigma)))
                    else:
                        weight = f32(0) if ov > Nt else f32(1)
                    boxes[pos, 4] = weight * boxes[pos, 4]
                    if boxes[pos, 4] < threshold:
                        boxes[pos, :5] = boxes[N - 1, :5]
                        N = N - 1
                        pos = pos - 1
            pos = pos + 1
    return boxes[:N]


def reference_nms(dets, thresh):
    """``nms`` of the original's nms.pyx: indices kept, best first."""
    x1, y1, x2, y2, scores = dets.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    suppressed = np.zeros(len(dets), dtype=bool)
    keep = []
    for _i in range(len(dets)):
        i = order[_i]
        if suppressed[i]:
            continue
        keep.append(i)
        for _j in range(_i + 1, len(dets)):
            j = order[_j]
            if suppressed[j]:
                continue
            w = max(0.0, min(x2[i], x2[j]) - max(x1[i], x1[j]) + 1)
            h = max(0.0, min(y2[i], y2[j]) - max(y1[i], y1[j]) + 1)
            inter = w * h
            if inter / (areas[i] + areas[j] - inter) >= thresh:
                suppressed[j] = True
    return keep


def random_dets(seed, num=60, extent=100.):
    """Crowded boxes with many low scores, so that some fall under 0.001."""
    rng = np.random.RandomState(seed)
    xy = rng.uniform(0, extent, (num, 2))
    wh = rng.uniform(3, 40, (num, 2))
    scores = rng.uniform(0, 1, num) ** 4
    return np.concatenate([xy, xy + wh, scores[:, None]],
                          axis=1).astype(np.float32)


@pytest.mark.parametrize('method', ['gaussian', 'linear', 'hard'])
@pytest.mark.parametrize('seed', range(4))
def test_soft_nms_equals_the_originals_on_random_boxes(method, seed):
    dets = random_dets(seed)
    # CenterNet's settings for 'gaussian'; the original's defaults otherwise.
    iou_threshold, threshold = (0.5, 0.001) if method == 'gaussian' else (
        0.3, 0.02)
    expected = reference_soft_nms(dets.copy(), sigma=0.5, Nt=iou_threshold,
                                  threshold=threshold,
                                  method=METHOD_CODES[method])
    boxes, scores = torch.from_numpy(dets[:, :4]), torch.from_numpy(dets[:, 4])
    keep, kept_scores = soft_nms(boxes, scores, iou_threshold=iou_threshold,
                                 sigma=0.5, score_threshold=threshold,
                                 method=method)
    # Some boxes were discarded and (but for 'hard', which only discards)
    # some decayed: the test exercises both.
    assert 0 < len(expected) < len(dets)
    decayed = ~np.isclose(kept_scores.numpy(), dets[keep.numpy(), 4])
    assert decayed.any() == (method != 'hard')
    assert keep.dtype == torch.int64
    np.testing.assert_array_equal(boxes[keep].numpy(), expected[:, :4])
    np.testing.assert_allclose(kept_scores.numpy(), expected[:, 4],
                               rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize('seed', range(3))
def test_batched_soft_nms_equals_the_original_run_per_class(seed):
    dets = random_dets(seed, num=80)
    labels = np.random.RandomState(seed).randint(0, 3, len(dets))
    keep, kept_scores = batched_soft_nms(
        torch.from_numpy(dets[:, :4]), torch.from_numpy(dets[:, 4]),
        torch.from_numpy(labels), iou_threshold=0.5, sigma=0.5,
        score_threshold=0.001, method='gaussian')
    assert (kept_scores[:-1] >= kept_scores[1:]).all()  # best first
    kept_labels = labels[keep.numpy()]
    for label in range(3):
        expected = reference_soft_nms(dets[labels == label].copy(), Nt=0.5,
                                      method=2)
        mine = kept_labels == label
        np.testing.assert_array_equal(dets[keep.numpy()[mine], :4],
                                      expected[:, :4])
        np.testing.assert_allclose(kept_scores.numpy()[mine], expected[:, 4],
                                   rtol=1e-6, atol=1e-9)


def test_soft_nms_keeps_a_low_box_that_overlaps_nothing_as_the_original():
    # The original tests the threshold only after a decay: box 1 (0.0005)
    # overlaps nothing and stays; box 2 overlaps box 0 and is discarded.
    boxes = torch.tensor([[0., 0., 10., 10.], [50., 50., 60., 60.],
                          [0., 0., 10., 10.]])
    scores = torch.tensor([0.9, 0.0005, 0.0009])
    keep, kept_scores = soft_nms(boxes, scores)
    assert keep.tolist() == [0, 1]
    assert kept_scores.tolist() == pytest.approx([0.9, 0.0005])
    expected = reference_soft_nms(
        torch.cat([boxes, scores[:, None]], 1).numpy(), Nt=0.5, method=2)
    np.testing.assert_allclose(expected[:, 4], [0.9, 0.0005], rtol=1e-6)


def test_soft_nms_gaussian_decay_of_a_duplicate_is_exp_of_minus_2():
    # IoU 1 → weight exp(-1 / 0.5), whatever iou_threshold.
    boxes = torch.tensor([[0., 0., 10., 10.], [0., 0., 10., 10.]])
    keep, kept_scores = soft_nms(boxes, torch.tensor([0.8, 0.9]))
    assert keep.tolist() == [1, 0]
    assert kept_scores.tolist() == pytest.approx([0.9, 0.8 * np.exp(-2.)])


def test_box_iou_counts_pixels_inclusively_as_the_original():
    a = torch.tensor([[0., 0., 9., 9.]])            # 10 x 10 pixels
    b = torch.tensor([[5., 0., 14., 9.], [10., 0., 19., 9.]])
    # [5, 9] x [0, 9]: 5 x 10 pixels shared; the second only touches.
    assert box_iou(a, b)[0].tolist() == pytest.approx([50 / 150, 0.])
    assert box_iou(a, b, pixel_offset=0)[0, 0] == pytest.approx(
        36 / (81 + 81 - 36))


@pytest.mark.parametrize('seed', range(3))
def test_nms_equals_the_originals_on_random_boxes(seed):
    dets = random_dets(seed)
    keep = nms(torch.from_numpy(dets[:, :4]), torch.from_numpy(dets[:, 4]),
               iou_threshold=0.3)
    expected = reference_nms(dets, 0.3)
    assert 0 < len(expected) < len(dets)
    assert keep.tolist() == [int(i) for i in expected]


def test_batched_nms_suppresses_within_a_class_only():
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 0., 11., 10.],
                          [0., 0., 10., 10.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.5).tolist() == [0]
    keep = batched_nms(boxes, scores, torch.tensor([0, 0, 1]), 0.5)
    assert keep.tolist() == [0, 2]


def test_cross_class_nms_suppresses_between_classes_only_and_greedily():
    boxes = torch.tensor([[0., 0., 10., 10.],     # 0: class 0, best
                          [0., 0., 10., 10.],     # 1: class 0, same box
                          [1., 0., 11., 10.],     # 2: class 1, IoU 9/11
                          [9., 0., 19., 10.],     # 3: class 2, IoU 1/19 to 0
                          [10., 0., 20., 10.]])   # 4: class 0, IoU 9/11 to 3
    scores = torch.tensor([0.9, 0.5, 0.8, 0.7, 0.6])
    labels = torch.tensor([0, 0, 1, 2, 0])
    # 2 falls to 0; 1 is 0's class and stays; 4 falls to 3, which stands.
    keep = cross_class_nms(boxes, scores, labels, 0.5)
    assert keep.tolist() == [0, 3, 1]
    # Greedy: a suppressed box suppresses nothing. 1 (class 1, IoU 2/3 to
    # 0) falls to 0, so 2 (IoU 2/3 to 1, 3/7 to 0) stands.
    boxes = torch.tensor([[0., 0., 10., 10.], [2., 0., 12., 10.],
                          [4., 0., 14., 10.]])
    keep = cross_class_nms(boxes, torch.tensor([0.9, 0.8, 0.7]),
                           torch.tensor([0, 1, 0]), 0.6)
    assert keep.tolist() == [0, 2]
    assert cross_class_nms(boxes, torch.tensor([0.9, 0.8, 0.7]),
                           torch.tensor([0, 1, 2]), 0.6).tolist() == [0, 2]
    # Continuous coordinates: IoU exactly 0.5 is not above 0.5.
    half = torch.tensor([[0., 0., 10., 10.], [0., 0., 10., 5.]])
    assert cross_class_nms(half, torch.tensor([0.9, 0.8]),
                           torch.tensor([0, 1]), 0.5).tolist() == [0, 1]
    assert cross_class_nms(torch.zeros(0, 4), torch.zeros(0),
                           torch.zeros(0, dtype=torch.int64)).shape == (0, )


def test_empty_inputs_and_bad_arguments():
    empty = torch.zeros(0, 4)
    keep, kept_scores = soft_nms(empty, torch.zeros(0))
    assert keep.shape == (0, ) and kept_scores.shape == (0, )
    assert nms(empty, torch.zeros(0)).shape == (0, )
    with pytest.raises(ValueError, match="method.*'box'"):
        soft_nms(torch.zeros(1, 4), torch.ones(1), method='box')
    with pytest.raises(ValueError, match=r'scores must be \(N,\)'):
        soft_nms(torch.zeros(2, 4), torch.ones(3))
    with pytest.raises(ValueError, match='labels'):
        batched_soft_nms(torch.zeros(2, 4), torch.ones(2), torch.zeros(3))
    with pytest.raises(ValueError, match='cross_class_nms: labels'):
        cross_class_nms(torch.zeros(2, 4), torch.ones(2), torch.zeros(3))
