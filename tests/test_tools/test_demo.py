"""tools/demo.py on an image, a folder and a video of the tiny shapes set."""
import json
import os
import os.path as osp
import subprocess
import sys
from typing import List

import cv2
import numpy as np
import pytest

from cnet.apis import (
    detections_to_record,
    inference_detector,
    init_detector,
    list_images,
    run_demo,
)
from cnet.visualization import draw_det_sample

from shapes_setup import ROOT, SHAPES_CONFIG

CLASSES = ('ellipse', 'rectangle', 'triangle', 'star')


@pytest.fixture(scope='module')
def model(tiny_shapes_checkpoint):
    return init_detector(SHAPES_CONFIG, tiny_shapes_checkpoint)


def run_tool(args: List[str]) -> str:
    proc = subprocess.run([sys.executable, 'tools/demo.py', *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    return output


def score_threshold(samples) -> float:
    """Just under the median of the images' best scores: some images get
    boxes, others none (the tiny checkpoint's scores are low and close)."""
    best = sorted(float(s.pred_instances.scores[0]) for s in samples)
    return best[len(best) // 2] - 1e-6


def load_records(out_dir: str) -> list:
    with open(osp.join(out_dir, 'detections.json')) as f:
        return json.load(f)


def assert_records_match(records, samples, files, score_thr, frames=None):
    assert len(records) == len(samples) == len(files)
    for i, (record, sample, file) in enumerate(zip(records, samples, files)):
        expected = detections_to_record(sample, CLASSES, score_thr,
                                        file, None if frames is None else i)
        assert set(record) == set(expected)
        assert record['file'] == file
        assert all(score >= score_thr for score in record['scores'])
        np.testing.assert_allclose(record['boxes'], expected['boxes'],
                                   atol=1e-4)
        np.testing.assert_allclose(record['scores'], expected['scores'],
                                   atol=1e-6)
        assert record['labels'] == expected['labels']
        assert record['class_names'] == [CLASSES[label]
                                         for label in record['labels']]
        if frames is not None:
            assert record['frame'] == i
    assert 0 < sum(bool(record['boxes']) for record in records) < len(records)


def edge_difference(drawn: np.ndarray, image: np.ndarray,
                    box: List[float]) -> float:
    """Mean |drawn − image| along the top edge of ``box``."""
    x1, y1, x2, _ = (int(round(v)) for v in box)
    height, width = image.shape[:2]
    y1 = min(max(y1, 0), height - 1)
    x1, x2 = max(x1, 0), min(x2, width - 1)
    diff = np.abs(drawn[y1, x1:x2 + 1].astype(int)
                  - image[y1, x1:x2 + 1].astype(int))
    return float(diff.mean())


def test_demo_on_a_folder_writes_drawings_and_detections(
        tiny_shapes_root, tiny_shapes_checkpoint, model, tmp_path):
    folder = osp.join(tiny_shapes_root, 'val', 'images')
    paths = list_images(folder)
    samples = inference_detector(model, paths)
    score_thr = score_threshold(samples)
    out_dir = str(tmp_path / 'out')
    output = run_tool([folder, SHAPES_CONFIG, tiny_shapes_checkpoint,
                       '--out-dir', out_dir, '--score-thr', str(score_thr),
                       '--batch-size', '4'])
    assert '6/6' in output  # the progress bar

    assert sorted(os.listdir(out_dir)) == sorted(
        [osp.basename(p) for p in paths] + ['detections.json'])
    records = load_records(out_dir)
    assert_records_match(records, samples, paths, score_thr)
    for path, sample, record in zip(paths, samples, records):
        image = cv2.imread(path)
        drawn = cv2.imread(osp.join(out_dir, osp.basename(path)))
        # the same drawing as draw_det_sample, JPEG-encoded the same way
        expected = draw_det_sample(image, sample, CLASSES, score_thr)
        cv2.imwrite(str(tmp_path / 'expected.jpg'), expected)
        np.testing.assert_array_equal(
            drawn, cv2.imread(str(tmp_path / 'expected.jpg')))
        if record['boxes']:
            # pixels differ along the box edges, far more than JPEG noise
            assert edge_difference(drawn, image, record['boxes'][0]) > 25
        else:
            # nothing drawn: the image as it was, up to JPEG noise
            assert np.abs(drawn.astype(int) - image.astype(int)).mean() < 3


def test_demo_on_a_video_writes_an_annotated_video(
        tiny_shapes_root, tiny_shapes_checkpoint, model, tmp_path):
    size = (112, 96)  # (w, h)
    video = str(tmp_path / 'clip.avi')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 5,
                             size)
    assert writer.isOpened()
    for path in list_images(osp.join(tiny_shapes_root, 'val', 'images'))[:4]:
        writer.write(cv2.resize(cv2.imread(path), size))
    writer.release()
    capture = cv2.VideoCapture(video)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == 4

    samples = inference_detector(model, frames)
    score_thr = score_threshold(samples)
    out_dir = str(tmp_path / 'out')
    output = run_tool([video, SHAPES_CONFIG, tiny_shapes_checkpoint,
                       '--out-dir', out_dir, '--score-thr', str(score_thr),
                       '--heatmap', '--batch-size', '3'])
    assert '4/4' in output

    assert sorted(os.listdir(out_dir)) == ['clip.avi', 'detections.json']
    records = load_records(out_dir)
    assert_records_match(records, samples, [video] * 4, score_thr,
                         frames=True)
    capture = cv2.VideoCapture(osp.join(out_dir, 'clip.avi'))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(5)
    drawn_frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        drawn_frames.append(frame)
    capture.release()
    assert len(drawn_frames) == 4
    for frame, drawn, record in zip(frames, drawn_frames, records):
        assert drawn.shape == frame.shape
        if record['boxes']:
            assert edge_difference(drawn, frame, record['boxes'][0]) > 25
        # the heatmap's colour map covers the whole frame
        assert np.abs(drawn.astype(int) - frame.astype(int)).mean() > 25


def test_heatmap_changes_the_drawing_not_the_detections(
        tiny_shapes_root, model, tmp_path):
    path = list_images(osp.join(tiny_shapes_root, 'val', 'images'))[0]
    plain = run_demo(model, path, str(tmp_path / 'plain'), score_thr=0.0)
    hot = run_demo(model, path, str(tmp_path / 'hot'), score_thr=0.0,
                   heatmap=True)
    assert plain == hot and len(plain) == 1 and len(plain[0]['boxes']) == 100
    assert load_records(str(tmp_path / 'hot')) == hot
    image = cv2.imread(path).astype(int)
    plain_image = cv2.imread(str(tmp_path / 'plain' / osp.basename(path)))
    hot_image = cv2.imread(str(tmp_path / 'hot' / osp.basename(path)))
    assert np.abs(hot_image.astype(int) - plain_image.astype(int)).mean() > 25
    assert plain_image.shape == hot_image.shape == image.shape


def test_demo_names_a_missing_input(model, tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        run_demo(model, str(tmp_path / 'missing.jpg'), str(tmp_path))
    with pytest.raises(FileNotFoundError, match='no image'):
        run_demo(model, str(tmp_path), str(tmp_path / 'out'))


def test_test_tool_ends_with_a_picture_of_detections_and_heatmaps(
        tiny_shapes_root, tiny_shapes_checkpoint, tmp_path):
    """README command 1's last step: ``tools/test.py --picture N``."""
    from shapes_setup import as_cli, tiny_options
    work = tmp_path / 'test'
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', SHAPES_CONFIG,
         tiny_shapes_checkpoint, '--work-dir', str(work), '--picture', '4',
         '--no-progress', '--cfg-options',
         *as_cli(tiny_options(tiny_shapes_root))],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    picture = work / 'detections.png'
    assert f'{picture}' in proc.stdout
    image = cv2.imread(str(picture))
    # Four drawings of 256 rows tiled three to a row: two rows.
    assert image.shape[0] == 2 * 256 + 4
    # The heatmap's colour map is blended in: not the raw grey-ish input.
    assert image[..., 2].astype(int).std() > 10
