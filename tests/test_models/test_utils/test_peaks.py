import pytest
import torch
import torch.nn.functional as F

import cnet.models.utils.peaks as peaks_module
from cnet.models.utils import (
    extract_peaks,
    joint_peaks,
    topk,
    topk_peaks,
    transpose_and_gather_feat,
    window_max,
)


def gather_feat(feat, ind):
    """The original's ``_gather_feat``: rows of (B, N, D) ``feat`` at (B, K)
    ``ind``."""
    return feat.gather(1, ind.unsqueeze(2).expand(-1, -1, feat.size(2)))


def original_two_stage_topk(scores, k):
    """The original ``_topk``: top k per class, then top k of those."""
    batch, num_classes, height, width = scores.shape
    class_scores, class_inds = torch.topk(scores.view(batch, num_classes, -1),
                                          k)
    best_scores, best = torch.topk(class_scores.view(batch, -1), k)
    labels = best // k
    inds = class_inds.view(batch, -1).gather(1, best)
    return best_scores, inds, labels, inds // width, inds % width


@pytest.mark.parametrize('kernel', [1, 3, 5])
def test_window_max_equals_max_pooling(kernel):
    generator = torch.Generator().manual_seed(kernel)
    # Rounded values: plenty of ties; odd sizes: border windows.
    heatmap = (torch.rand(2, 3, 9, 14, generator=generator) * 8).round() / 8
    expected = F.max_pool2d(heatmap, kernel, stride=1, padding=kernel // 2)
    assert torch.equal(window_max(heatmap, kernel), expected)
    with pytest.raises(ValueError, match='odd'):
        window_max(heatmap, 2)


def test_peaks_keep_local_maxima_and_ties_only():
    heatmap = torch.tensor([[0.1, 0.2, 0.1, 0.0, 0.0],
                            [0.2, 0.9, 0.3, 0.0, 0.4],
                            [0.1, 0.3, 0.2, 0.0, 0.4],
                            [0.0, 0.0, 0.0, 0.0, 0.0]]).view(1, 1, 4, 5)
    peaks = extract_peaks(heatmap, kernel=3)
    expected = torch.zeros(4, 5)
    expected[1, 1] = 0.9
    expected[1, 4] = expected[2, 4] = 0.4   # a tie: both survive
    assert torch.equal(peaks[0, 0], expected)


def test_single_topk_selects_what_the_original_two_stage_topk_selects():
    generator = torch.Generator().manual_seed(0)
    scores = torch.rand(2, 7, 9, 11, generator=generator)
    ours = topk(scores, k=30)
    theirs = original_two_stage_topk(scores, 30)
    # Random floats have no ties: identical order, so identical tensors.
    for mine, reference in zip(ours, theirs):
        assert torch.equal(mine, reference.to(mine.dtype))
    top_scores, inds, labels, ys, xs = ours
    assert inds.dtype == labels.dtype == torch.int64
    assert torch.equal(scores[0, labels[0], ys[0].long(), xs[0].long()],
                       top_scores[0])
    assert (top_scores[:, :-1] >= top_scores[:, 1:]).all()


def test_topk_is_capped_at_the_number_of_cells():
    scores = torch.rand(1, 2, 2, 2)
    assert topk(scores, k=100)[0].shape == (1, 8)


def test_gathers_read_maps_at_flat_positions():
    feat_map = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(
        2, 3, 4, 5)
    ind = torch.tensor([[0, 19, 7], [5, 5, 12]])
    gathered = transpose_and_gather_feat(feat_map, ind)
    reference = feat_map.permute(0, 2, 3, 1).reshape(2, 20, 3)
    assert gathered.shape == (2, 3, 3)
    for b in range(2):
        assert torch.equal(gathered[b], reference[b, ind[b]])
    assert torch.equal(gather_feat(reference, ind), gathered)
    # (y, x) = (3, 4) of image 0 is flat index 19.
    assert torch.equal(gathered[0, 1], feat_map[0, :, 3, 4])


def full_topk_peaks(heatmap, k, kernel=3, activation=None):
    scores = heatmap if activation is None else activation(heatmap)
    return topk(extract_peaks(scores, kernel), k)


def assert_same_detections(fast, full):
    """Equal scores in order; equal positions wherever scores differ from
    their neighbours (among equal scores the order is free)."""
    assert torch.equal(fast[0], full[0])
    unique = torch.ones_like(full[0], dtype=torch.bool)
    unique[:, 1:] &= full[0][:, 1:] != full[0][:, :-1]
    unique[:, :-1] &= full[0][:, :-1] != full[0][:, 1:]
    for mine, reference in zip(fast[1:], full[1:]):
        assert mine.dtype == reference.dtype
        assert torch.equal(mine[unique], reference[unique])


def blob_logits(generator, num_images, num_classes, size, num_blobs):
    """Gaussian blobs on a noisy negative background, like a trained
    heatmap's logits."""
    logits = torch.randn(num_images, num_classes, size, size,
                         generator=generator) - 6
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size),
                            indexing='ij')
    for b in range(num_images):
        for _ in range(num_blobs):
            c, cy, cx = torch.randint(size, (3, ), generator=generator)
            sigma = 1 + 5 * torch.rand((), generator=generator)
            blob = 8 * torch.exp(-((ys - cy)**2 + (xs - cx)**2) /
                                 (2 * sigma**2)) - 3
            c = c % num_classes
            logits[b, c] = torch.maximum(logits[b, c], blob)
    return logits


@pytest.mark.parametrize('kernel', [3, 5])
@pytest.mark.parametrize('activation', [None, torch.sigmoid])
def test_topk_peaks_equals_peaks_then_topk(kernel, activation):
    generator = torch.Generator().manual_seed(kernel)
    maps = [
        torch.randn(2, 20, 48, 40, generator=generator),
        blob_logits(generator, 2, 20, 48, num_blobs=6),
        # Rounded values: ties inside windows and across rows.
        (torch.rand(2, 6, 30, 30, generator=generator) * 6).round(),
    ]
    for heatmap in maps:
        for layout in (torch.contiguous_format, torch.channels_last):
            fast = topk_peaks(heatmap.contiguous(memory_format=layout), 50,
                              kernel, activation)
            assert_same_detections(
                fast, full_topk_peaks(heatmap, 50, kernel, activation))


def test_topk_peaks_reads_only_the_candidate_rows_when_it_can(monkeypatch):
    full_calls = []

    def counted(heatmap, *args):
        full_calls.append(heatmap.shape[0])
        return full_topk_peaks(heatmap, *args)

    monkeypatch.setattr(peaks_module, '_full_topk_peaks', counted)
    generator = torch.Generator().manual_seed(0)
    heatmap = blob_logits(generator, 3, 20, 48, num_blobs=6)
    # Image 1: a constant plateau, every cell a tied peak; no row bound
    # proves the top K, so that image alone takes the full map.
    heatmap[1] = 0.5
    fast = topk_peaks(heatmap, 50, activation=torch.sigmoid)
    assert full_calls == [1]
    assert_same_detections(
        fast, full_topk_peaks(heatmap, 50, activation=torch.sigmoid))
    # A batch of flat maps (an untrained head) cannot be proved: the whole
    # batch goes to the full map at once.
    full_calls.clear()
    flat = torch.full((2, 20, 48, 48), 0.3)
    assert_same_detections(topk_peaks(flat, 50), full_topk_peaks(flat, 50))
    assert full_calls == [2]
    # Maps too small for the row bound to pay take the full path directly.
    full_calls.clear()
    small = torch.rand(1, 2, 8, 8, generator=generator)
    assert_same_detections(topk_peaks(small, 20), full_topk_peaks(small, 20))
    assert full_calls == [1]


def test_topk_peaks_keeps_zero_scored_picks_when_peaks_run_out():
    heatmap = torch.zeros(1, 2, 40, 40)
    heatmap[0, 1, 7, 9] = 0.8
    scores, inds, labels, ys, xs = topk_peaks(heatmap, 5, candidate_rows=4)
    assert scores[0, 0] == 0.8 and labels[0, 0] == 1
    assert ys[0, 0] == 7 and xs[0, 0] == 9 and inds[0, 0] == 7 * 40 + 9
    assert (scores[0, 1:] == 0).all()
    with pytest.raises(ValueError, match='odd'):
        topk_peaks(heatmap, 5, kernel=4)


def test_bf16_topk_and_joint_peaks_keep_integer_columns_past_256():
    heatmap = torch.zeros(1, 1, 4, 300, dtype=torch.bfloat16)
    heatmap[0, 0, 2, 257] = 0.75
    for decode in (topk, topk_peaks):
        scores, inds, labels, ys, xs = decode(heatmap, 1)
        assert (xs.item(), ys.item(), inds.item()) == (257, 2, 2 * 300 + 257)
        assert xs.dtype == ys.dtype == inds.dtype == torch.int64
        assert scores.dtype == torch.bfloat16
    offset = torch.zeros(1, 2, 4, 300, dtype=torch.bfloat16)
    points, scores = joint_peaks(heatmap, offset, 1)
    assert points.tolist() == [[[[257.0, 2.0]]]]
