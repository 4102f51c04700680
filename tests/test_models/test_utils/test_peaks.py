import torch

import pytest
import torch.nn.functional as F

from cnet.models.utils import (extract_peaks, gather_feat, topk,
                               transpose_and_gather_feat, window_max)


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
