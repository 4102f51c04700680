"""The synthetic moving-shapes videos: deterministic, in CenterTrack's
format, with shapes entering, leaving, occluding and frames dropped."""
import json
import os.path as osp
from collections import defaultdict

import numpy as np
import pytest

from cnet.datasets import MovingShapesDataset, generate_moving_shapes

SMALL = dict(num_videos=6, seed=5, num_frames=16, image_size=(96, 72),
             drop_ratio=0.2, max_objects=6)


@pytest.fixture(scope='module')
def small_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('moving_shapes'))
    ann_file = generate_moving_shapes(root, 'val', **SMALL)
    with open(ann_file) as f:
        return root, json.load(f)


def test_same_seed_writes_the_same_videos(small_set, tmp_path):
    root, data = small_set
    again = generate_moving_shapes(str(tmp_path), 'val', **SMALL)
    with open(again) as f:
        assert json.load(f) == data
    first = data['images'][3]['file_name']
    assert open(osp.join(root, 'val', 'images', first), 'rb').read() == \
        open(osp.join(tmp_path, 'val', 'images', first), 'rb').read()


def test_videos_have_links_gaps_entries_exits_and_occlusions(small_set):
    _, data = small_set
    assert [v['id'] for v in data['videos']] == [1, 2, 3, 4, 5, 6]
    by_video = defaultdict(list)
    for image in data['images']:
        by_video[image['video_id']].append(image)
    gaps = 0
    for images in by_video.values():
        frames = [im['frame_id'] for im in images]
        assert frames == sorted(frames) and frames[0] == 1
        gaps += sum(b - a > 1 for a, b in zip(frames, frames[1:]))
        for before, after in zip(images, images[1:]):
            assert before['next_image_id'] == after['id']
            assert after['prev_image_id'] == before['id']
        assert images[0]['prev_image_id'] == -1
        assert images[-1]['next_image_id'] == -1
    assert gaps > 0  # dropped frames
    frame_of = {im['id']: (im['video_id'], im['frame_id'])
                for im in data['images']}
    spans = defaultdict(list)
    for ann in data['annotations']:
        video, frame = frame_of[ann['image_id']]
        spans[video, ann['track_id']].append(frame)
        x, y, w, h = ann['bbox']
        assert w > 0 and h > 0 and x >= 0 and y >= 0
        assert x + w <= 96 and y + h <= 72
    last_frame = {v: ims[-1]['frame_id'] for v, ims in by_video.items()}
    assert any(min(f) > 1 for f in spans.values())               # entering
    assert any(max(f) < last_frame[v] for (v, _), f in spans.items())
    assert any(a['iscrowd'] for a in data['annotations'])        # hidden
    ids_per_frame = defaultdict(list)
    for ann in data['annotations']:
        ids_per_frame[ann['image_id']].append(ann['track_id'])
    assert all(len(ids) == len(set(ids)) for ids in ids_per_frame.values())


def test_dataset_reads_the_split_and_refuses_other_parameters(small_set):
    root, data = small_set
    ds = MovingShapesDataset(data_root=root, split='val', **SMALL)
    assert len(ds) == len(data['images'])
    info = ds.get_data_info(0)
    assert info['is_first_frame'] and info['frame_id'] == 1
    assert all('track_id' in inst for inst in info['instances'])
    with pytest.raises(ValueError, match='num_frames: 16 there, 20 asked'):
        MovingShapesDataset(data_root=root, split='val',
                            **dict(SMALL, num_frames=20))
    with pytest.raises(ValueError, match="split 'extra' needs num_videos"):
        MovingShapesDataset(data_root=root, split='extra')
    with pytest.raises(ValueError, match='max_objects must be >= 2'):
        generate_moving_shapes(root, 'x', 1, 0, max_objects=1)


def test_objects_move_with_their_own_velocity(small_set):
    _, data = small_set
    frame_of = {im['id']: (im['video_id'], im['frame_id'])
                for im in data['images']}
    centres = defaultdict(dict)
    for ann in data['annotations']:
        if ann['iscrowd']:
            continue
        x, y, w, h = ann['bbox']
        video, frame = frame_of[ann['image_id']]
        centres[video, ann['track_id']][frame] = (x + w / 2, y + h / 2)
    speeds = []
    for track in centres.values():
        frames = sorted(track)
        for a, b in zip(frames, frames[1:]):
            step = np.subtract(track[b], track[a]) / (b - a)
            speeds.append(np.hypot(*step))
    # speed_range (1, 5) px a frame, blurred by shape spin and occlusion.
    assert 0.5 < np.median(speeds) < 6
