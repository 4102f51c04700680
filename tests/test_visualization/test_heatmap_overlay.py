import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData, PixelData

from cnet.structures import DetDataSample
from cnet.visualization import (
    class_color,
    draw_det_sample,
    heatmap_to_image,
    overlay_heatmap,
)


def test_heatmap_cell_lands_on_the_original_pixel_it_decodes_to():
    # original → input: x_in = 2 x + 8, y_in = 2 y + 4; stride 4.
    affine = np.array([[2., 0., 8.], [0., 2., 4.], [0., 0., 1.]])
    heatmap = np.zeros((10, 12), np.float32)
    heatmap[3, 5] = 1.0  # cell (x=5, y=3) ↔ input (20, 12) ↔ original (6, 4)
    image_heatmap = heatmap_to_image(heatmap, affine, 4, (20, 24))
    assert image_heatmap.shape == (20, 24)
    assert image_heatmap.dtype == np.float32
    assert np.unravel_index(image_heatmap.argmax(),
                            image_heatmap.shape) == (4, 6)
    assert image_heatmap[4, 6] == pytest.approx(1.0)
    # half a cell (2 input pixels, 1 original pixel) away: weight 1/2
    assert image_heatmap[4, 7] == pytest.approx(0.5)
    assert image_heatmap[4, 5] == pytest.approx(0.5)
    assert image_heatmap[4, 8] == 0 and image_heatmap[2, 6] == 0


def test_heatmap_outside_the_network_input_is_zero():
    affine = np.array([[1., 0., -40.], [0., 1., 0.], [0., 0., 1.]])
    # cells 0..3 at input x 0, 4, 8, 12, i.e. original x 40 ... 52, y 0 ... 12
    image_heatmap = heatmap_to_image(np.ones((4, 4), np.float32), affine, 4,
                                     (16, 64))
    assert (image_heatmap[:13, 40:53] == 1).all()
    # beyond a cell from the outer cells, nothing (bilinear fades within it)
    assert (image_heatmap[:, :36] == 0).all()
    assert (image_heatmap[:, 57:] == 0).all()


def test_heatmap_to_image_names_bad_shapes():
    with pytest.raises(ValueError, match=r'heatmap must be \(h, w\)'):
        heatmap_to_image(np.zeros((1, 4, 4)), np.eye(3), 4, (8, 8))
    with pytest.raises(ValueError, match=r'affine_matrix must be \(3, 3\)'):
        heatmap_to_image(np.zeros((4, 4)), np.eye(2), 4, (8, 8))


def test_overlay_blends_the_colour_map():
    image = np.full((5, 6, 3), 100, np.uint8)
    heatmap = np.zeros((5, 6), np.float32)
    heatmap[2, 3] = 1.0
    blended = overlay_heatmap(image, heatmap, alpha=0.5)
    jet = cv2.applyColorMap(np.array([[0, 255]], np.uint8),
                            cv2.COLORMAP_JET)[0]
    np.testing.assert_allclose(blended[0, 0], 50 + jet[0] / 2, atol=1)
    np.testing.assert_allclose(blended[2, 3], 50 + jet[1] / 2, atol=1)
    assert (image == 100).all()  # the input is left as it was
    with pytest.raises(ValueError, match='same'):
        overlay_heatmap(image, np.zeros((4, 6)))


def make_sample(with_heatmap: bool) -> DetDataSample:
    sample = DetDataSample()
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([[10., 8., 30., 24.], [2., 2., 6., 6.]]),
        scores=torch.tensor([0.9, 0.1]), labels=torch.tensor([2, 0]))
    if with_heatmap:
        sample.pred_heatmap = PixelData(heatmap=torch.ones(1, 32, 40))
    return sample


def test_draw_det_sample_draws_boxes_over_the_threshold_only():
    image = np.zeros((32, 40, 3), np.uint8)
    canvas = draw_det_sample(image, make_sample(False), ('a', 'b', 'c'),
                             score_thr=0.3)
    color = class_color(2)
    assert tuple(canvas[24, 20]) == color  # bottom edge of the 0.9 box
    assert tuple(canvas[16, 10]) == color  # left edge
    assert (canvas[12:20, 14:26] == 0).all()  # inside: untouched
    assert (canvas[2:7, 2:7] == 0).all()  # the 0.1 box is not drawn
    assert (image == 0).all()


def test_draw_det_sample_blends_the_heatmap_under_the_boxes():
    image = np.zeros((32, 40, 3), np.uint8)
    plain = draw_det_sample(image, make_sample(False), score_thr=0.3)
    with_heatmap = draw_det_sample(image, make_sample(True), score_thr=0.3)
    hot = overlay_heatmap(image, np.ones((32, 40), np.float32))
    np.testing.assert_array_equal(with_heatmap[14:20, 14:26],
                                  hot[14:20, 14:26])
    assert (plain[14:20, 14:26] == 0).all()
    assert tuple(with_heatmap[24, 20]) == class_color(2)
