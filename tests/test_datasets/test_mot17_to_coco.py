"""The MOT17 converter: CenterTrack's half splits, row filters, FRCNN-only
training sequences, public detections and the per-split ground truth."""
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from cnet.datasets import CocoVideoDataset
from cnet.datasets.mot17_to_coco import convert_mot17, frame_range

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# frame, id, x, y, w, h, consider, class, visibility
GT_ROWS = [
    (1, 1, 10, 10, 20, 40, 1, 1, 1.0),    # pedestrian
    (1, 2, 50, 10, 20, 40, 1, 1, 0.2),    # too hidden: dropped
    (2, 1, 12, 10, 20, 40, 1, 1, 0.9),
    (2, 3, 80, 5, 30, 30, 1, 3, 1.0),     # a car: dropped
    (3, 4, -5, 20, 20, 40, 1, 7, 0.6),    # static person: ignored
    (4, 1, 16, 10, 20, 40, 0, 1, 1.0),    # not considered: dropped
    (5, 1, 18, 10, 20, 40, 1, 1, 1.0),
    (6, 5, 60, 30, 10, 20, 1, 1, 0.5),
]


def make_sequence(folder, name, num_frames=6, with_gt=True):
    seq = folder / name
    (seq / 'img1').mkdir(parents=True)
    for i in range(num_frames):
        cv2.imwrite(str(seq / 'img1' / f'{i + 1:06d}.jpg'),
                    np.zeros((4, 4, 3), np.uint8))
    (seq / 'seqinfo.ini').write_text(
        f'[Sequence]\nname={name}\nseqLength={num_frames}\nimWidth=128\n'
        f'imHeight=96\n')
    (seq / 'det').mkdir()
    (seq / 'det' / 'det.txt').write_text(
        '1,-1,10,10,20,40,0.9\n5,-1,17,11,20,40,0.4\n')
    if with_gt:
        (seq / 'gt').mkdir()
        (seq / 'gt' / 'gt.txt').write_text(''.join(
            ','.join(str(v) for v in row) + '\n' for row in GT_ROWS))


@pytest.fixture
def mot17(tmp_path):
    root = tmp_path / 'MOT17'
    for name in ('MOT17-02-DPM', 'MOT17-02-FRCNN', 'MOT17-04-FRCNN'):
        make_sequence(root / 'train', name)
    for name in ('MOT17-01-DPM', 'MOT17-01-FRCNN'):
        make_sequence(root / 'test', name, num_frames=3, with_gt=False)
    return str(root)


def test_half_splits_cut_each_sequence_where_centertrack_does():
    assert frame_range(6, 'train_half') == (0, 3)
    assert frame_range(6, 'val_half') == (4, 5)
    assert frame_range(7, 'val_half') == (4, 6)
    assert frame_range(6, 'train') == (0, 5)
    with pytest.raises(ValueError, match='one of'):
        frame_range(6, 'half')


def test_train_half_keeps_centertracks_rows(mot17):
    coco, detections, gt = convert_mot17(mot17, 'train_half')
    assert [v['file_name'] for v in coco['videos']] == [
        'MOT17-02-FRCNN', 'MOT17-04-FRCNN']  # no DPM copy
    first = [im for im in coco['images'] if im['video_id'] == 1]
    assert [im['frame_id'] for im in first] == [1, 2, 3, 4]
    assert first[0]['file_name'] == 'MOT17-02-FRCNN/img1/000001.jpg'
    assert (first[0]['width'], first[0]['height']) == (128, 96)
    assert [im['prev_image_id'] for im in first] == [-1, 1, 2, 3]
    assert first[-1]['next_image_id'] == -1
    # Video 2's image ids continue after all 6 frames of video 1.
    assert coco['images'][4]['id'] == 7
    anns = [a for a in coco['annotations'] if a['image_id'] <= 6]
    assert [(a['image_id'], a['track_id'], a['iscrowd']) for a in anns] == [
        (1, 1, 0), (2, 1, 0), (3, 4, 1)]
    assert anns[2]['bbox'] == [-5.0, 20.0, 20.0, 40.0]  # not clipped
    assert [a['id'] for a in coco['annotations']] == list(
        range(1, len(coco['annotations']) + 1))
    assert detections['1'] == [dict(bbox=[10.0, 10.0, 30.0, 50.0],
                                    score=1.0, ct=[20.0, 30.0],
                                    det_score=0.9, **{'class': 1})]
    assert len(gt['MOT17-02-FRCNN']) == 6  # every row of frames 1-4


def test_val_half_renumbers_frames_and_ground_truth(mot17):
    coco, detections, gt = convert_mot17(mot17, 'val_half')
    first = [im for im in coco['images'] if im['video_id'] == 1]
    assert [(im['id'], im['frame_id']) for im in first] == [(5, 1), (6, 2)]
    assert first[0]['prev_image_id'] == -1  # not across the cut
    anns = [a for a in coco['annotations'] if a['image_id'] <= 6]
    assert [(a['image_id'], a['track_id']) for a in anns] == [(5, 1), (6, 5)]
    rows = gt['MOT17-02-FRCNN']
    assert rows[:, 0].tolist() == [1, 2] and rows[:, 1].tolist() == [1, 5]
    assert sorted(detections) == ['11', '5']  # det frame 5 of each video


def test_test_split_reads_every_sequence_without_ground_truth(mot17):
    coco, detections, gt = convert_mot17(mot17, 'test')
    assert len(coco['videos']) == 2 and len(coco['images']) == 6
    assert coco['annotations'] == [] and gt == {}
    assert sorted(detections, key=int) == ['1', '4']


def test_written_files_load_as_a_video_dataset(mot17, tmp_path):
    out = tmp_path / 'annotations'
    proc = subprocess.run(
        [sys.executable, 'tools/dataset_converters/mot17.py', mot17,
         '--out-dir', str(out), '--splits', 'train_half', 'val_half'],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'val_half: 2 videos, 4 images, 4 boxes' in proc.stdout
    gt_file = out / 'val_half_gt' / 'MOT17-02-FRCNN' / 'gt' / 'gt.txt'
    assert gt_file.read_text().splitlines()[0] == \
        '1,1,18,10,20,40,1,1,1.000000'
    ds = CocoVideoDataset(ann_file=str(out / 'train_half.json'),
                          data_prefix=dict(img=osp.join(mot17, 'train/')))
    assert len(ds) == 8
    crowd = ds.get_data_info(2)['instances']
    assert crowd[0]['ignore_flag'] == 1 and crowd[0]['track_id'] == 4
    # The crowd box reaching left of the image is clipped for detection
    # and kept whole as the amodal box.
    assert crowd[0]['bbox'][0] == 0.0 and crowd[0]['bbox_amodal'][0] == -5.0
    assert json.loads((out / 'train_half_det.json').read_text())['1']


def test_a_wrong_sequence_length_is_named(mot17):
    info = osp.join(mot17, 'train', 'MOT17-04-FRCNN', 'seqinfo.ini')
    text = open(info).read().replace('seqLength=6', 'seqLength=7')
    open(info, 'w').write(text)
    with pytest.raises(ValueError, match='6 jpg files, seqinfo.ini says '
                                         'seqLength=7'):
        convert_mot17(mot17, 'train')
