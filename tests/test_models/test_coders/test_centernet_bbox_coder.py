import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from cnet.models.coders import CenterNetBBoxCoder
from cnet.registry import TASK_UTILS

_REFERENCE = Path(__file__).parents[1] / 'test_utils' / 'original_reference.py'
_spec = importlib.util.spec_from_file_location('original_reference',
                                               _REFERENCE)
original = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(original)


def test_encode_is_the_original_arithmetic_including_clipping():
    rng = np.random.default_rng(0)
    out_h, out_w, stride = 24, 32, 4
    xy = rng.uniform(-40, 140, (300, 2))
    wh = rng.uniform(0, 60, (300, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    boxes[:5, 2] = boxes[:5, 0]            # zero-width boxes are dropped
    code = CenterNetBBoxCoder(stride).encode(torch.from_numpy(boxes),
                                             (out_h, out_w))
    reference = original.ctdet_targets(boxes / stride, np.zeros(300), 1,
                                       out_h, out_w, max_objs=300)
    valid = code['valid'].numpy()
    assert (valid == reference['reg_mask'].astype(bool)).all()
    assert not valid[:5].any() and valid.sum() > 100
    centers = code['centers'].numpy()
    ind = centers[:, 1] * out_w + centers[:, 0]
    assert (ind[valid] == reference['ind'][valid]).all()
    assert np.array_equal(code['wh'].numpy()[valid], reference['wh'][valid])
    assert np.array_equal(code['offsets'].numpy()[valid],
                          reference['reg'][valid])
    assert ((centers >= 0) & (centers < [out_w, out_h])).all()


def test_decode_recovers_planted_boxes():
    coder = TASK_UTILS.build(dict(type='CenterNetBBoxCoder', stride=4))
    heatmap = torch.zeros(2, 3, 16, 20)
    wh = torch.zeros(2, 2, 16, 20)
    offset = torch.zeros(2, 2, 16, 20)
    # (image, class, y, x, score, w, h, dx, dy): exact binary fractions.
    planted = [(0, 2, 5, 7, 0.9, 6.0, 4.0, 0.25, 0.5),
               (0, 0, 12, 1, 0.7, 3.0, 8.0, 0.75, 0.0),
               # Same cell, another class: sizes and offsets are shared.
               (0, 1, 5, 7, 0.5, 6.0, 4.0, 0.25, 0.5),
               (1, 1, 0, 19, 0.8, 10.0, 2.0, 0.5, 0.25)]
    for b, c, y, x, score, w, h, dx, dy in planted:
        heatmap[b, c, y, x] = score
        wh[b, :, y, x] = torch.tensor([w, h])
        offset[b, :, y, x] = torch.tensor([dx, dy])
    bboxes, scores, labels = coder.decode(heatmap, wh, offset, topk=3)
    assert bboxes.shape == (2, 3, 4) and labels.dtype == torch.int64
    for b in range(2):
        mine = sorted((p for p in planted if p[0] == b), key=lambda p: -p[4])
        for k, (_, c, y, x, score, w, h, dx, dy) in enumerate(mine):
            cx, cy = x + dx, y + dy
            expected = torch.tensor([cx - w / 2, cy - h / 2, cx + w / 2,
                                     cy + h / 2]) * 4
            assert torch.equal(bboxes[b, k], expected)
            assert scores[b, k] == score and labels[b, k] == c
    # Image 1 has one object; the other two picks score 0.
    assert (scores[1, 1:] == 0).all()


def test_decode_drops_non_peaks_next_to_a_peak():
    heatmap = torch.zeros(1, 1, 8, 8)
    heatmap[0, 0, 4, 4] = 0.9
    heatmap[0, 0, 4, 5] = 0.8           # inside the 3x3 window of the peak
    heatmap[0, 0, 4, 7] = 0.3           # its own peak
    _, scores, _ = CenterNetBBoxCoder().decode(
        heatmap, torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 8, 8), topk=2)
    assert torch.allclose(scores, torch.tensor([[0.9, 0.3]]))


def test_stride_must_be_positive():
    with pytest.raises(ValueError, match='stride'):
        CenterNetBBoxCoder(stride=0)


@pytest.mark.parametrize('coder_type', ['CenterNetBBoxCoder',
                                        'LTRBBBoxCoder'])
@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_reduced_precision_decode_keeps_columns_past_256(coder_type, dtype):
    # bfloat16 holds integers exactly only up to 256: column 257 would come
    # back as 256 if the cells took the map's dtype.
    coder = TASK_UTILS.build(dict(type=coder_type, stride=4))
    heatmap = torch.zeros(1, 1, 3, 300, dtype=dtype)
    heatmap[0, 0, 1, 257] = 0.9
    if coder_type == 'LTRBBBoxCoder':
        sizes = torch.full((1, 4, 3, 300), 2.0, dtype=dtype)
        decoded = coder.decode(heatmap, sizes, topk=1)
        expected = [257 * 4 - 2, 4 - 2, 257 * 4 + 2, 4 + 2]
    else:
        sizes = torch.full((1, 2, 3, 300), 2.0, dtype=dtype)
        offset = torch.full((1, 2, 3, 300), 0.5, dtype=dtype)
        decoded = coder.decode(heatmap, sizes, offset, topk=1)
        expected = [256.5 * 4, -0.5 * 4 + 4, 258.5 * 4, 2.5 * 4]
    assert decoded.cells.tolist() == [[[257, 1]]]
    assert decoded.cells.dtype == torch.int64
    assert decoded.scores.dtype == dtype
    assert decoded.bboxes.float().tolist() == [[expected]]
