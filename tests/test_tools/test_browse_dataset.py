"""tools/browse_dataset.py on the shapes config pointed at the tiny set."""
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Tuple

import cv2
import numpy as np
import pytest
from mmengine.runner import set_random_seed

from cnet.engine.runner_setup import load_config
from cnet.utils.browse import SampleBrowser
from cnet.visualization import (
    class_color,
    draw_boxes,
    draw_training_sample,
    sample_file_name,
)

from shapes_setup import ROOT, SHAPES_CONFIG, as_cli, tiny_options

NUM = 3
CLASSES = ('ellipse', 'rectangle', 'triangle', 'star')
STRIDE = 4
# JET's hottest colour (BGR), at heatmap 1, and its coldest, at 0.
JET_HOT = (0, 0, 128)
JET_COLD = (128, 0, 0)


def headless_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.pop('DISPLAY', None)
    env.pop('WAYLAND_DISPLAY', None)
    return env


def run_tool(args: List[str], root: str, check: bool = True
             ) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, 'tools/browse_dataset.py', SHAPES_CONFIG, *args,
         '--cfg-options', *as_cli(tiny_options(root))],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=headless_env())
    if check:
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc


def browse_in_process(root: str, split: str = 'train',
                      with_heatmap: bool = True) -> List[Tuple[Dict,
                                                               np.ndarray]]:
    """The tool's samples again: same config, same seed (randomness.seed)."""
    cfg = load_config(SHAPES_CONFIG, tiny_options(root))
    browser = SampleBrowser(cfg, split=split, with_heatmap=with_heatmap)
    assert tuple(browser.class_names) == CLASSES
    set_random_seed(cfg.randomness.seed)
    return [browser[index] for index in range(NUM)]


def blend(pixel: np.ndarray, color: Tuple[int, int, int]) -> np.ndarray:
    """overlay_heatmap's arithmetic (alpha 0.5) on one pixel."""
    return cv2.addWeighted(pixel.reshape(1, 1, 3), 0.5,
                           np.uint8([[color]]), 0.5, 0.0)[0, 0]


def ink_mask(packed: Dict, boxes: np.ndarray = None,
             labels: np.ndarray = None) -> np.ndarray:
    """(H, W) bool: where boxes, names (and ignored regions) are drawn.

    Drawn on two constant images: a pixel is ink where either changes.
    """
    masks = []
    for value in (1, 254):
        blank = np.full(tuple(packed['inputs'].shape[1:]) + (3, ), value,
                        np.uint8)
        if boxes is None:
            fake = dict(inputs=packed['inputs'].new_full(
                packed['inputs'].shape, value),
                data_samples=packed['data_samples'])
            drawn = draw_training_sample(fake, None, CLASSES)
        else:
            drawn = draw_boxes(blank, boxes, labels, class_names=CLASSES)
        masks.append((drawn != value).any(axis=2))
    return masks[0] | masks[1]


def center_pixel(box: np.ndarray, height: int, width: int) -> Tuple[int, int]:
    """(x, y) input pixel of the box's integer centre cell (the coder's
    arithmetic: clip to the map in cells, mid-point, truncate)."""
    cells_w, cells_h = width // STRIDE, height // STRIDE
    x1, x2 = np.clip(box[[0, 2]] / STRIDE, 0, cells_w - 1)
    y1, y2 = np.clip(box[[1, 3]] / STRIDE, 0, cells_h - 1)
    return int((x1 + x2) / 2) * STRIDE, int((y1 + y2) / 2) * STRIDE


@pytest.fixture(scope='module')
def browsed(tiny_shapes_root, tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp('browse'))
    proc = run_tool(['--output-dir', out_dir, '--not-show', '--num',
                     str(NUM)], tiny_shapes_root)
    return out_dir, proc.stdout + proc.stderr, browse_in_process(
        tiny_shapes_root)


def test_tool_writes_one_png_per_sample_with_a_progress_bar(browsed):
    out_dir, output, samples = browsed
    expected = [sample_file_name(index,
                                 packed['data_samples'].metainfo['img_path'])
                for index, (packed, _) in enumerate(samples)]
    assert sorted(os.listdir(out_dir)) == sorted(expected)
    assert all(name.endswith('.png') for name in expected)
    assert f'{NUM}/{NUM}' in output


def test_tool_output_is_the_seeded_network_input_drawn(browsed):
    out_dir, _, samples = browsed
    for index, (packed, canvas) in enumerate(samples):
        name = sample_file_name(index,
                                packed['data_samples'].metainfo['img_path'])
        written = cv2.imread(osp.join(out_dir, name))
        assert written.shape == tuple(packed['inputs'].shape[1:]) + (3, )
        np.testing.assert_array_equal(written, canvas)


def test_heatmap_peak_is_hottest_at_every_gt_centre(browsed):
    out_dir, _, samples = browsed
    checked = 0
    for index, (packed, _) in enumerate(samples):
        sample = packed['data_samples']
        written = cv2.imread(osp.join(
            out_dir, sample_file_name(index, sample.metainfo['img_path'])))
        image = packed['inputs'].permute(1, 2, 0).numpy()
        height, width = image.shape[:2]
        ink = ink_mask(packed)
        boxes = sample.gt_instances.bboxes.numpy()
        assert len(boxes) > 0
        for box in boxes:
            x, y = center_pixel(box, height, width)
            if ink[y, x]:  # under another box's edge or name
                continue
            np.testing.assert_array_equal(written[y, x],
                                          blend(image[y, x], JET_HOT))
            checked += 1
        # A pixel far from every object (beyond each box's own extent from
        # its centre, which bounds the Gaussian) gets the coldest colour.
        centres = np.array([center_pixel(b, height, width) for b in boxes])
        reach = np.maximum(boxes[:, 2] - boxes[:, 0],
                           boxes[:, 3] - boxes[:, 1]) + STRIDE
        far = [(x, y) for y in range(height) for x in range(width)
               if not ink[y, x] and (np.hypot(centres[:, 0] - x,
                                              centres[:, 1] - y)
                                     > reach).all()]
        assert far, 'no pixel far from the objects in this sample'
        x, y = far[0]
        np.testing.assert_array_equal(written[y, x],
                                      blend(image[y, x], JET_COLD))
    assert checked >= NUM


def test_box_edges_have_their_class_colour(browsed):
    out_dir, _, samples = browsed
    checked = 0
    for index, (packed, _) in enumerate(samples):
        sample = packed['data_samples']
        written = cv2.imread(osp.join(
            out_dir, sample_file_name(index, sample.metainfo['img_path'])))
        boxes = sample.gt_instances.bboxes.numpy()
        labels = sample.gt_instances.labels.numpy()
        for i, (box, label) in enumerate(zip(boxes, labels)):
            # the middle of the left edge, unless a later box draws over it
            x = int(round(float(box[0])))
            y = int(round(float(box[1] + box[3]) / 2))
            if i + 1 < len(boxes) and ink_mask(
                    packed, boxes[i + 1:], labels[i + 1:])[y, x]:
                continue
            assert tuple(written[y, x]) == class_color(int(label))
            checked += 1
    assert checked >= NUM  # at least the last box of every sample


def test_val_split_without_heatmap_keeps_the_input_pixels(
        tiny_shapes_root, tmp_path):
    run_tool(['--output-dir', str(tmp_path), '--not-show', '--num', str(NUM),
              '--split', 'val', '--no-heatmap'], tiny_shapes_root)
    samples = browse_in_process(tiny_shapes_root, 'val', with_heatmap=False)
    for index, (packed, _) in enumerate(samples):
        written = cv2.imread(str(tmp_path / sample_file_name(
            index, packed['data_samples'].metainfo['img_path'])))
        image = packed['inputs'].permute(1, 2, 0).numpy()
        ink = ink_mask(packed)
        assert ink.any() and not ink.all()
        np.testing.assert_array_equal(written[~ink], image[~ink])


def test_headless_default_writes_and_show_fails_clearly(
        tiny_shapes_root, tmp_path):
    proc = run_tool(['--output-dir', str(tmp_path), '--num', '1'],
                    tiny_shapes_root)
    assert 'not showing' in proc.stdout
    assert len(os.listdir(tmp_path)) == 1
    proc = run_tool(['--show', '--num', '1'], tiny_shapes_root, check=False)
    assert proc.returncode != 0
    assert 'needs an OpenCV build with a GUI' in proc.stderr
    proc = run_tool(['--not-show', '--num', '1'], tiny_shapes_root,
                    check=False)
    assert proc.returncode != 0
    assert 'no --output-dir' in proc.stderr
