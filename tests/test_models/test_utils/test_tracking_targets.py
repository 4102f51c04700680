"""CenterTrack's previous heatmap, its disturbance and the tracking targets,
against CenterTrack's per-object arithmetic written out object by object."""
import math

import pytest
import torch
from single_gaussian import draw_gaussian

from cnet.models.utils import gaussian_target, heatmap_radius
from cnet.models.utils import tracking_targets as tracking_module
from cnet.models.utils.tracking_targets import (
    disturb_previous_centers,
    largest_previous_radius,
    ltrb_amodal_targets,
    previous_centers,
    render_previous_heatmap,
    tracking_offsets,
)


def reference_pre_heatmap(boxes, height, width):
    """_get_pre_dets without disturbance, one object at a time."""
    heatmap = torch.zeros(height, width)
    for x1, y1, x2, y2 in boxes:
        x1, x2 = (min(max(v, 0), width - 1) for v in (x1, x2))
        y1, y2 = (min(max(v, 0), height - 1) for v in (y1, y2))
        w, h = x2 - x1, y2 - y1
        if w <= 0 or h <= 0:
            continue
        radius = int(heatmap_radius(torch.tensor([float(math.ceil(h))]),
                                    torch.tensor([float(math.ceil(w))]))[0])
        center = (int((x1 + x2) / 2), int((y1 + y2) / 2))
        draw_gaussian(heatmap, torch.tensor(center), radius)
    return heatmap


def test_previous_heatmap_equals_centertracks_drawing_of_each_box():
    height, width = 40, 56
    boxes = [[3.2, 4.0, 20.7, 30.1], [10., 8., 14.5, 12.],   # overlapping
             [50., 30., 70., 60.],                          # past the edge
             [-8., -5., 6., 7.],                            # before it
             [30., 30., 30., 35.],                          # no width
             [0., 0., 0., 0.]]                              # padding
    bboxes = torch.tensor([boxes])
    valid = torch.tensor([[True] * 5 + [False]])
    pre = previous_centers(bboxes, valid, height, width)
    assert pre.valid.tolist() == [[True, True, True, True, False, False]]
    # Clipped to the last pixel (55, 39), not the edge.
    assert pre.centers[0, 2].tolist() == [52.5, 34.5]
    assert pre.sizes[0, 2].tolist() == [5., 9.]
    heatmap = render_previous_heatmap(pre.centers, pre.radii, pre.valid,
                                      height, width)
    assert heatmap.shape == (1, 1, height, width)
    expected = reference_pre_heatmap(boxes[:4], height, width)
    assert torch.equal(heatmap[0, 0], expected)


def test_a_centre_moved_outside_still_draws_its_inner_part():
    height, width = 12, 12
    centers = torch.tensor([[[-3.6, 5.0], [14.2, -2.5]]])
    radii = torch.tensor([[6, 5]])
    heatmap = render_previous_heatmap(centers, radii,
                                      torch.tensor([[True, True]]),
                                      height, width)
    expected = torch.zeros(height, width)
    # Truncation towards zero, as CenterTrack's astype(np.int32).
    draw_gaussian(expected, torch.tensor([-3, 5]), 6)
    draw_gaussian(expected, torch.tensor([14, -2]), 5)
    assert expected.max() > 0
    assert torch.equal(heatmap[0, 0], expected)


def test_the_static_shape_path_draws_the_same_heatmap(monkeypatch):
    """What torch.compile traces (no host read of the radii or the valid
    mask, patches as wide as the frame's largest radius) equals eager."""
    height, width = 30, 44
    generator = torch.Generator().manual_seed(0)
    boxes = torch.rand(2, 7, 4, generator=generator) * 60 - 8
    boxes[..., 2:] = boxes[..., :2] + torch.rand(
        2, 7, 2, generator=generator) * 30
    valid = torch.rand(2, 7, generator=generator) > 0.2
    pre = previous_centers(boxes, valid, height, width)
    # Centres moved past the border, as the disturbance does.
    centers = pre.centers + torch.randn(2, 7, 2, generator=generator) * 8
    bound = largest_previous_radius(height, width)
    assert int(pre.radii.max()) <= bound
    eager = render_previous_heatmap(centers, pre.radii, pre.valid, height,
                                    width)
    for module in (gaussian_target, tracking_module):
        monkeypatch.setattr(module, 'static_shapes', lambda: True)
    static = render_previous_heatmap(centers, pre.radii, pre.valid, height,
                                     width, max_radius=bound)
    assert eager.max() > 0
    assert torch.equal(static, eager)


def test_the_radius_bound_is_the_whole_frames_radius():
    for height, width in ((96, 128), (512, 512), (544, 960), (2, 3)):
        whole = heatmap_radius(torch.tensor([height - 1.]),
                               torch.tensor([width - 1.]))
        assert largest_previous_radius(height, width) == int(whole)


def test_an_empty_previous_frame_gives_a_zero_heatmap():
    heatmap = render_previous_heatmap(torch.zeros(2, 0, 2),
                                      torch.zeros(2, 0, dtype=torch.long),
                                      torch.zeros(2, 0, dtype=torch.bool),
                                      8, 16)
    assert heatmap.shape == (2, 1, 8, 16) and not heatmap.any()


def test_no_disturbance_keeps_every_object_where_it_is():
    centers = torch.rand(3, 7, 2) * 50
    sizes = torch.rand(3, 7, 2) * 20 + 1
    valid = torch.rand(3, 7) > 0.3
    out = disturb_previous_centers(centers, sizes, valid, hm_disturb=0,
                                   lost_disturb=0, fp_disturb=0)
    assert torch.equal(out.heatmap_centers, centers)
    assert torch.equal(out.heatmap_valid, valid)
    assert not out.false_valid.any()
    assert torch.equal(out.tracking_centers, centers)


def test_disturbance_rates_and_spreads_are_centertracks():
    generator = torch.Generator().manual_seed(0)
    num = 200_000
    centers = torch.zeros(1, num, 2)
    sizes = torch.tensor([40., 10.]).expand(1, num, 2)
    valid = torch.ones(1, num, dtype=torch.bool)
    out = disturb_previous_centers(centers, sizes, valid, 0.05, 0.4, 0.1,
                                   generator=generator)
    kept = out.heatmap_valid[0]
    assert kept.float().mean().item() == pytest.approx(0.6, abs=0.005)
    # A false peak only beside a kept object, for 10 % of them.
    assert not (out.false_valid[0] & ~kept).any()
    assert out.false_valid[0][kept].float().mean().item() == pytest.approx(
        0.1, abs=0.003)
    # Peaks move by 0.05 of (w, h), false peaks by 0.05 too.
    moved = out.heatmap_centers[0]
    assert moved[:, 0].std().item() == pytest.approx(2.0, rel=0.01)
    assert moved[:, 1].std().item() == pytest.approx(0.5, rel=0.01)
    assert out.false_centers[0, :, 0].std().item() == pytest.approx(
        2.0, rel=0.01)
    # Tracking points at the true centre, or at the moved one when lost.
    tracked = out.tracking_centers[0]
    assert torch.equal(tracked[kept], centers[0][kept])
    assert torch.equal(tracked[~kept], moved[~kept])


def test_disturbance_is_reproducible_from_a_generator():
    args = (torch.rand(2, 5, 2), torch.rand(2, 5, 2),
            torch.ones(2, 5, dtype=torch.bool))
    first = disturb_previous_centers(
        *args, generator=torch.Generator().manual_seed(3))
    second = disturb_previous_centers(
        *args, generator=torch.Generator().manual_seed(3))
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match='lost_disturb must be >= 0'):
        disturb_previous_centers(*args, lost_disturb=-0.1)


def test_tracking_offsets_point_from_the_cell_to_the_previous_centre():
    # Image 0: ids 7 and 3 were there (in another order), 9 is new, the
    # last slot is padding. Image 1: id 3 appears but its previous box was
    # empty (not valid), id -1 is unknown and never matches.
    cells = torch.tensor([[[10, 4], [2, 2], [5, 5], [0, 0]],
                          [[1, 1], [6, 6], [0, 0], [0, 0]]])
    ids = torch.tensor([[7, 3, 9, 7], [3, -1, 0, 0]])
    valid = torch.tensor([[True, True, True, False],
                          [True, True, False, False]])
    pre_centers = torch.tensor([[[9.0, 10.0], [44.0, 14.0], [0., 0.]],
                                [[8.0, 8.0], [24.0, 26.0], [0., 0.]]])
    pre_ids = torch.tensor([[3, 7, 0], [3, -1, 0]])
    pre_valid = torch.tensor([[True, True, False], [False, True, False]])
    offsets, mask = tracking_offsets(cells, ids, valid, pre_centers, pre_ids,
                                     pre_valid, stride=4)
    assert mask.tolist() == [[True, True, False, False],
                             [False, False, False, False]]
    assert offsets[0, 0].tolist() == [44 / 4 - 10, 14 / 4 - 4]
    assert offsets[0, 1].tolist() == [9 / 4 - 2, 10 / 4 - 2]
    assert not offsets[~mask].any()


def test_ltrb_amodal_is_the_unclipped_box_about_the_cell():
    cells = torch.tensor([[[3, 5]]])
    amodal = torch.tensor([[[-8.0, 12.0, 30.0, 40.0]]])
    assert ltrb_amodal_targets(cells, amodal, 4).tolist() == [
        [[-2 - 3, 3 - 5, 7.5 - 3, 10 - 5]]]
