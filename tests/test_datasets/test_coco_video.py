"""CocoVideoDataset: CenterTrack's COCO-with-videos format, its checks, the
static fallback and the previous frames each item may be paired with."""
import json

import cv2
import numpy as np
import pytest

from cnet.datasets import AnnotationError, CocoVideoDataset


def write_set(tmp_path, frames=((1, (1, 2, 3, 4, 6)), (2, (1, 2))),
              videos=True, extra=None):
    """Videos of 32x24 black frames, one box (track 1) per frame moving
    right, a second track in video 1 from frame 3, a crowd box in frame
    2 of video 2. Frame 5 of video 1 is missing."""
    (tmp_path / 'img').mkdir(exist_ok=True)
    images, annotations = [], []
    for video_id, frame_ids in frames:
        for frame_id in frame_ids:
            img_id = len(images) + 1
            name = f'{video_id}_{frame_id}.png'
            cv2.imwrite(str(tmp_path / 'img' / name),
                        np.zeros((24, 32, 3), np.uint8))
            image = dict(id=img_id, file_name=name, height=24, width=32)
            if videos:
                image.update(video_id=video_id, frame_id=frame_id)
            images.append(image)
            boxes = [(1, 2 * frame_id, 4)]
            if video_id == 1 and frame_id >= 3:
                boxes.append((2, 20, 10))
            for track_id, x, w in boxes:
                ann = dict(id=len(annotations) + 1, image_id=img_id,
                           category_id=1, bbox=[x, 2, w, 6], area=w * 6)
                if videos:
                    ann['track_id'] = track_id
                annotations.append(ann)
            if video_id == 2 and frame_id == 2:
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=img_id,
                    category_id=-1, bbox=[0, 10, 8, 8], area=64,
                    track_id=9))
    data = dict(images=images, annotations=annotations,
                categories=[dict(id=1, name='pedestrian')])
    if videos:
        # Video 2 first: items follow the order of the 'videos' list.
        data['videos'] = [dict(id=2, file_name='b'),
                          dict(id=1, file_name='a')]
    if extra:
        extra(data)
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(data))
    return str(path)


def dataset(tmp_path, **kwargs):
    return CocoVideoDataset(ann_file=kwargs.pop('ann_file'),
                            data_prefix=dict(img=str(tmp_path / 'img') + '/'),
                            **kwargs)


def test_items_carry_video_fields_in_video_then_frame_order(tmp_path):
    ds = dataset(tmp_path, ann_file=write_set(tmp_path))
    keys = [(ds[i]['video_id'], ds[i]['frame_id']) for i in range(len(ds))]
    assert keys == [(2, 1), (2, 2), (1, 1), (1, 2), (1, 3), (1, 4), (1, 6)]
    first = [ds[i]['is_first_frame'] for i in range(len(ds))]
    assert first == [True, False, True, False, False, False, False]
    item = ds.get_data_info(4)  # video 1, frame 3
    assert [inst['track_id'] for inst in item['instances']] == [1, 2]
    assert item['instances'][0]['bbox_amodal'] == [6.0, 2.0, 10.0, 8.0]
    # CenterTrack's category -1 is an ignore region of category 1.
    crowd = ds.get_data_info(1)['instances'][1]
    assert crowd['ignore_flag'] == 1 and crowd['track_id'] == 9
    assert ds.get_video_frames()[1].tolist() == [2, 3, 4, 5, 6]


def test_training_candidates_are_within_max_frame_dist_both_ways(tmp_path):
    ds = dataset(tmp_path, ann_file=write_set(tmp_path), max_frame_dist=3)
    frames = {ds.get_data_info(i)['frame_id']: [
        f['frame_id'] for f in ds.get_data_info(i)['pre_frames']]
        for i in range(2, 7)}
    # |frame - f| < 3, the frame itself included; frame 5 does not exist.
    assert frames == {1: [1, 2, 3], 2: [1, 2, 3, 4], 3: [1, 2, 3, 4],
                      4: [2, 3, 4, 6], 6: [4, 6]}
    own = ds.get_data_info(2)['pre_frames'][0]
    assert own['img_id'] == ds.get_data_info(2)['img_id']


def test_test_mode_pairs_each_frame_with_the_one_before(tmp_path):
    ds = dataset(tmp_path, ann_file=write_set(tmp_path), test_mode=True)
    pairs = [(ds.get_data_info(i)['frame_id'],
              [f['frame_id'] for f in ds.get_data_info(i)['pre_frames']])
             for i in range(2, 7)]
    assert pairs == [(1, [1]), (2, [1]), (3, [2]), (4, [3]), (6, [4])]


def test_a_static_set_is_one_video_per_image(tmp_path):
    ds = dataset(tmp_path, ann_file=write_set(tmp_path, videos=False))
    assert ds.is_static and len(ds) == 7
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert info['frame_id'] == 1 and info['video_id'] == info['img_id']
        assert [f['img_id'] for f in info['pre_frames']] == [info['img_id']]
    ids = [inst['track_id'] for i in range(len(ds))
           for inst in ds.get_data_info(i)['instances']]
    assert len(ids) == len(set(ids))  # every annotation its own track


@pytest.mark.parametrize('edit,message', [
    (lambda d: d['images'][0].pop('frame_id'),
     r"image 0 \(id 1\): 'frame_id' is missing"),
    (lambda d: d['images'][0].update(video_id=7),
     r"'video_id' 7 is not the id of a video"),
    (lambda d: d['images'][1].update(frame_id=1),
     r"'frame_id' 1 is used by an earlier image of video 1"),
    (lambda d: d['annotations'][0].pop('track_id'),
     r"annotation 0 \(id 1\): 'track_id' is missing"),
    (lambda d: d['images'][0].update(prev_image_id='x'),
     r"'prev_image_id' must be an integer"),
    (lambda d: d['videos'].append(dict(id=2)),
     r"video 2 \(id 2\): 'id' is used by an earlier video"),
])
def test_bad_video_fields_name_the_file_entry_and_field(tmp_path, edit,
                                                        message):
    path = write_set(tmp_path, extra=edit)
    with pytest.raises(AnnotationError, match=message):
        dataset(tmp_path, ann_file=path)


def test_filtered_frames_are_not_drawn_as_previous_frames(tmp_path):
    ds = dataset(tmp_path, ann_file=write_set(tmp_path), indices=[0, 2, 4])
    pre = [[f['frame_id'] for f in ds.get_data_info(i)['pre_frames']]
           for i in range(len(ds))]
    assert pre == [[1], [1, 3], [1, 3]]
