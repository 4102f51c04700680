"""MOTMetric: tracks of data samples against a COCO-with-videos file or
MOTChallenge gt files, per video and overall."""
import json

import pytest
import torch
from mmengine.structures import InstanceData

from cnet.evaluation import mot_challenge
from cnet.evaluation.metrics import MOTMetric
from cnet.registry import METRICS
from cnet.structures import DetDataSample


def video_file(tmp_path):
    """Two videos: 'walk' (3 frames, ids 1 and 2, a crowd region in frame
    1) and 'run' (frames 5 and 6, id 1)."""
    images, annotations = [], []

    def add_image(img_id, video_id, frame_id):
        images.append(dict(id=img_id, video_id=video_id, frame_id=frame_id,
                           file_name=f'{img_id}.jpg', height=100,
                           width=200))

    def add_box(img_id, track_id, x, crowd=0):
        annotations.append(dict(
            id=len(annotations) + 1, image_id=img_id, category_id=1,
            bbox=[x, 10, 20, 40], area=800, iscrowd=crowd,
            track_id=track_id))

    for frame in (1, 2, 3):
        add_image(frame, 1, frame)
        add_box(frame, 1, 10 + 5 * frame)
        add_box(frame, 2, 100 + 5 * frame)
    add_box(1, 9, 160, crowd=1)
    for img_id, frame in ((11, 5), (12, 6)):
        add_image(img_id, 2, frame)
        add_box(img_id, 1, 50)
    path = tmp_path / 'video.json'
    path.write_text(json.dumps(dict(
        images=images, annotations=annotations,
        categories=[dict(id=1, name='pedestrian')],
        videos=[dict(id=1, file_name='walk'), dict(id=2, file_name='run')])))
    return str(path)


def sample(img_id, boxes, ids, active=None):
    data_sample = DetDataSample(metainfo=dict(img_id=img_id))
    tracks = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        track_ids=torch.tensor(ids, dtype=torch.int64),
        scores=torch.ones(len(ids)))
    if active is not None:
        tracks.active = torch.tensor(active)
    data_sample.pred_track_instances = tracks
    return data_sample


def box(x):
    return [x, 10, x + 20, 50]


def predicted_samples():
    """'walk': perfect but the two ids swap in frame 3, and a box on the
    crowd region in frame 1 plus an inactive (lost) track; 'run': only
    frame 5 predicted."""
    return [
        sample(1, [box(15), box(105), box(160), box(60)], [1, 2, 3, 4],
               active=[True, True, True, False]),
        sample(2, [box(20), box(110)], [1, 2]),
        sample(3, [box(25), box(115)], [2, 1]),
        sample(11, [box(50)], [7]),
    ]


def test_coco_ground_truth_per_video_and_overall(tmp_path):
    metric = METRICS.build(dict(type='MOTMetric',
                                ann_file=video_file(tmp_path),
                                outfile_prefix=str(tmp_path / 'results')))
    metric.process(None, predicted_samples())
    metrics = metric.compute_metrics(metric.results)
    walk = metric.sequence_results['walk']
    # 6 boxes matched, the crowd one ignored, the lost one not reported.
    assert (walk['TP'], walk['FP'], walk['FN']) == (6, 0, 0)
    assert walk['IDSW'] == 2 and walk['MOTA'] == pytest.approx(4 / 6)
    run = metric.sequence_results['run']
    assert (run['TP'], run['FN']) == (1, 1)
    assert metrics['MOTA'] == pytest.approx((8 - 1 - 2) / 8)
    assert metrics['IDSW'] == 2 and 0 < metrics['HOTA'] < 1
    assert metrics['IDF1'] == pytest.approx(
        mot_challenge.evaluate_mot(
            *_rows_of(metric), benchmark='MOT17')['COMBINED_SEQ']['IDF1'])
    written = (tmp_path / 'results' / 'walk.txt').read_text().splitlines()
    assert written[0] == '1,1,15,10,20,40,1,-1,-1' and len(written) == 7


def _rows_of(metric):
    """The same evaluation written out by hand from the file's boxes."""
    rows = mot_challenge.mot_rows
    walk_gt = rows([1, 1, 1, 2, 2, 3, 3], [1, 2, 99, 1, 2, 1, 2],
                   [box(15), box(105), box(160), box(20), box(110), box(25),
                    box(115)], confidences=[1] * 7,
                   classes=[1, 1, 8, 1, 1, 1, 1])
    walk = rows([1, 1, 1, 2, 2, 3, 3], [1, 2, 3, 1, 2, 2, 1],
                [box(15), box(105), box(160), box(20), box(110), box(25),
                 box(115)])
    run_gt = rows([1, 2], [1, 1], [box(50), box(50)], confidences=[1, 1],
                  classes=[1, 1])
    run = rows([1], [7], [box(50)])
    return ({'walk': walk_gt, 'run': run_gt}, {'walk': walk, 'run': run},
            {'walk': 3, 'run': 2})


def test_mot_ground_truth_files_with_their_frame_numbers(tmp_path):
    ann_file = video_file(tmp_path)
    for name, frames in (('walk', (1, 2, 3)), ('run', (5, 6))):
        rows = mot_challenge.mot_rows(
            frames, [1] * len(frames), [box(15)] * len(frames),
            confidences=[1] * len(frames), classes=[1] * len(frames))
        mot_challenge.write_mot_file(
            str(tmp_path / 'gt' / name / 'gt' / 'gt_val_half.txt'), rows)
    metric = MOTMetric(ann_file, gt_format='mot',
                       gt_folder=str(tmp_path / 'gt'),
                       gt_file='gt/gt_val_half.txt')
    metric.process(None, [sample(11, [box(15)], [3]),
                          sample(12, [box(15)], [3])])
    metrics = metric.compute_metrics(metric.results)
    # Frames 5 and 6 of 'run' are its file's frames 5 and 6.
    assert metric.sequence_results['run']['TP'] == 2
    assert metrics['MOTA'] == 1.0 and metrics['IDF1'] == 1.0


def test_bad_configuration_and_samples_are_named(tmp_path):
    ann_file = video_file(tmp_path)
    with pytest.raises(ValueError, match="gt_format='mot' needs gt_folder"):
        MOTMetric(ann_file, gt_format='mot')
    metric = MOTMetric(ann_file)
    with pytest.raises(KeyError, match='image 5 has no pred_track'):
        metric.process(None, [DetDataSample(metainfo=dict(img_id=5))])
    metric.process(None, [sample(42, [box(1)], [1])])
    with pytest.raises(ValueError, match=r'images \[42\] are not in'):
        metric.compute_metrics(metric.results)
    static = tmp_path / 'static.json'
    static.write_text(json.dumps(dict(images=[dict(id=1)], categories=[])))
    with pytest.raises(ValueError, match="image 0 has no 'video_id'"):
        MOTMetric(str(static))
