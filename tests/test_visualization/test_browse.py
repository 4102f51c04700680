"""The pure parts of browse_dataset: upsampling, targets, drawing, showing."""
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from cnet.models.heads import CenterHead
from cnet.structures import DetDataSample
from cnet.utils.browse import target_heatmap
from cnet.visualization import (
    class_color,
    draw_training_sample,
    sample_file_name,
    show_image,
    upsample_heatmap,
)


def test_upsampled_cell_lands_on_the_pixel_it_decodes_to():
    heatmap = np.zeros((4, 5), np.float32)
    heatmap[2, 3] = 1.0  # cell (x=3, y=2) ↔ input pixel (12, 8)
    image_heatmap = upsample_heatmap(heatmap, 4, (16, 20))
    assert image_heatmap.shape == (16, 20)
    assert np.unravel_index(image_heatmap.argmax(),
                            image_heatmap.shape) == (8, 12)
    assert image_heatmap[8, 12] == 1.0
    assert image_heatmap[8, 14] == pytest.approx(0.5)  # half a cell away
    assert image_heatmap[8, 16] == 0
    # beyond the last cell the last row / column is replicated, not faded
    ones = upsample_heatmap(np.ones((4, 5), np.float32), 4, (16, 20))
    assert (ones == 1).all()


def test_target_heatmap_is_one_at_each_integer_centre():
    head = CenterHead(num_classes=3, in_channels=8)
    # centres (20, 12) and (41, 30) → cells (5, 3) and (10, 7)
    gt = InstanceData(bboxes=torch.tensor([[10., 4., 30., 20.],
                                           [33., 22., 49., 38.]]),
                      labels=torch.tensor([0, 2]))
    heatmap = target_heatmap(head, gt, (48, 64))
    assert heatmap.shape == (48, 64)
    assert heatmap[12, 20] == 1.0 and heatmap[28, 40] == 1.0
    assert heatmap.max() == 1.0 and heatmap[0, 63] == 0


def packed_sample(value: int = 100) -> dict:
    sample = DetDataSample()
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[8., 8., 24., 20.]]), labels=torch.tensor([1]))
    sample.ignored_instances = InstanceData(
        bboxes=torch.tensor([[30., 2., 38., 10.]]), labels=torch.tensor([0]))
    return dict(inputs=torch.full((3, 32, 40), value, dtype=torch.uint8),
                data_samples=sample)


def test_draw_training_sample_blends_heatmap_under_boxes():
    heatmap = np.zeros((32, 40), np.float32)
    heatmap[14, 16] = 1.0
    canvas = draw_training_sample(packed_sample(), heatmap, ['a', 'b'])
    assert canvas.shape == (32, 40, 3) and canvas.dtype == np.uint8
    # 0.5 · 100 + 0.5 · JET(1) = (0, 0, 128)
    assert tuple(canvas[14, 16]) == (50, 50, 114)
    # 0.5 · 100 + 0.5 · JET(0) = (128, 0, 0), away from everything
    assert tuple(canvas[28, 4]) == (114, 50, 50)
    assert tuple(canvas[14, 8]) == class_color(1)        # left edge
    assert tuple(canvas[6, 30]) == (160, 160, 160)       # ignored region


def test_draw_training_sample_without_heatmap_rounds_float_inputs():
    packed = packed_sample()
    packed['inputs'] = packed['inputs'].float() + 0.4
    canvas = draw_training_sample(packed, None, None)
    assert tuple(canvas[28, 4]) == (100, 100, 100)


def test_sample_file_name_is_index_and_stem():
    assert sample_file_name(3, '/data/train/images/000017.jpg') == \
        '3_000017.png'


def test_show_image_without_display_names_the_fix(monkeypatch):
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    with pytest.raises(RuntimeError, match='--not-show --output-dir'):
        show_image(np.zeros((4, 4, 3), np.uint8))
