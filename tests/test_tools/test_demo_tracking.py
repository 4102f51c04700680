"""tools/demo.py with a tracking config: a video's frames are tracked in
order, each track drawn with its id and trail, and the records list the
tracks; the drawing helpers alone."""
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from cnet.apis import init_detector, run_demo
from cnet.datasets import generate_moving_shapes
from cnet.visualization import draw_tracks, track_color, update_trails

from shapes_setup import ROOT

CONFIG = osp.join(ROOT, 'configs', 'centertrack_resnet18_shapes.py')
# An untrained network scores low: track everything among the 3 best.
OPTIONS = {'model.tracker.score_thresh': 0.0,
           'model.tracker.new_thresh': 0.0, 'model.test_cfg.topk': 3,
           'model.test_cfg.max_per_img': 3}


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    """An .avi of one moving-shapes video (6 frames)."""
    root = str(tmp_path_factory.mktemp('moving'))
    ann_file = generate_moving_shapes(root, 'val', num_videos=1, seed=1,
                                      num_frames=6, drop_ratio=0.0)
    with open(ann_file) as f:
        images = json.load(f)['images']
    path = osp.join(root, 'clip.avi')
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 5,
                             (160, 120))
    for image in images:
        writer.write(cv2.imread(osp.join(root, 'val', 'images',
                                         image['file_name'])))
    writer.release()
    return path


def test_update_trails_keeps_recent_centres_of_present_tracks():
    trails = {}
    update_trails(trails, np.array([[0, 0, 4, 4], [10, 10, 20, 30]]),
                  np.array([1, 2]), length=2)
    update_trails(trails, np.array([[2, 0, 6, 4]]), np.array([1]), length=2)
    assert trails == {1: [(2.0, 2.0), (4.0, 2.0)]}
    update_trails(trails, np.array([[4, 0, 8, 4]]), np.array([1]), length=2)
    assert trails == {1: [(4.0, 2.0), (6.0, 2.0)]}


def test_draw_tracks_draws_box_and_trail_in_the_track_colour():
    image = np.zeros((40, 60, 3), np.uint8)
    trails = {7: [(5.0, 30.0), (25.0, 30.0)]}
    canvas = draw_tracks(image, np.array([[30., 5., 50., 25.]]),
                         np.array([7]), trails)
    color = np.array(track_color(7))
    # On the trail (anti-aliased: near the colour), on the box's side.
    assert np.abs(canvas[30, 10].astype(int) - color).max() <= 40
    assert (canvas[15, 30] == color).all()
    assert canvas[30, 40].sum() == 0                 # neither
    assert image.sum() == 0                          # a copy is drawn


def test_demo_tracks_a_video_and_draws_ids(video, tmp_path):
    model = init_detector(CONFIG, None, cfg_options=OPTIONS)
    out_dir = str(tmp_path / 'out')
    records = run_demo(model, video, out_dir=out_dir)
    assert len(records) == 6
    ids = [{t['track_id'] for t in r['tracks']} for r in records]
    assert ids[0] == {1, 2, 3}             # a new video: ids from 1
    assert all(len(r['tracks']) >= 1 for r in records)
    # A second video starts the tracker again.
    again = run_demo(model, video, out_dir=str(tmp_path / 'again'))
    assert {t['track_id'] for t in again[0]['tracks']} == {1, 2, 3}
    capture = cv2.VideoCapture(osp.join(out_dir, 'clip.avi'))
    ok, frame = capture.read()
    capture.release()
    assert ok and frame.shape == (120, 160, 3)


def test_demo_tool_on_a_tracking_config(video, tmp_path):
    out_dir = str(tmp_path / 'tool')
    options = [f'{key}={value}' for key, value in OPTIONS.items()]
    checkpoint = str(tmp_path / 'random.pth')
    import torch
    model = init_detector(CONFIG, None, cfg_options=OPTIONS)
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    proc = subprocess.run(
        [sys.executable, 'tools/demo.py', video, CONFIG, checkpoint,
         '--out-dir', out_dir, '--cfg-options', *options],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    with open(osp.join(out_dir, 'detections.json')) as f:
        records = json.load(f)
    assert len(records) == 6 and all('tracks' in r for r in records)
