"""The previous frame through the pipeline: the same crop (or CenterTrack's
disturbed one), the same flip, its own colour jitter, packed as 6
channels with its objects."""
import numpy as np
import pytest
import torch

from cnet.datasets.transforms import (
    ColorJitter,
    LoadPreviousFrame,
    LoadTrackAnnotations,
    PackTrackInputs,
    PreviousFrame,
    PreviousFrameAffine,
    RandomCenterAffine,
    SamplePreviousFrame,
    TrackRandomFlip,
    affine_transform_bboxes,
    get_affine_transform,
)
from cnet.models.data_preprocessors import (
    DetDataPreprocessor,
    TrackDataPreprocessor,
)

INPUT = (64, 48)  # (w, h)


def instances(boxes, track_ids, ignore=()):
    return [dict(bbox=box, bbox_label=0, ignore_flag=int(i in ignore),
                 track_id=t, bbox_amodal=box)
            for i, (box, t) in enumerate(zip(boxes, track_ids))]


def results(frame_dist=1, same_image=False):
    """An image and a previous frame (already sampled), both 100 × 80."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (80, 100, 3), dtype=np.uint8)
    pre = img if same_image else rng.integers(0, 255, (80, 100, 3),
                                              dtype=np.uint8)
    out = dict(img=img, img_shape=(80, 100), ori_shape=(80, 100), img_id=1,
               img_path='now.png', frame_id=5, video_id=1,
               instances=instances([[10, 10, 30, 40], [-20, 50, 40, 70],
                                    [60, 5, 90, 30]], [1, 2, 3], ignore=[2]),
               pre_img_id=1 if same_image else 0, pre_img_path='before.png',
               pre_frame_id=5 - frame_dist,
               pre_instances=instances([[12, 8, 34, 38], [70, 40, 95, 75],
                                        [60, 5, 90, 30]], [1, 4, 3],
                                       ignore=[2]),
               frame_dist=frame_dist)
    out = LoadTrackAnnotations()(out)
    view = LoadTrackAnnotations()(dict(instances=out['pre_instances']))
    out.update({f'pre_{k}': v for k, v in view.items()})
    out['pre_img'] = pre.copy()
    return out


def crop(sample, seed=0):
    np.random.seed(seed)
    return RandomCenterAffine(input_size=INPUT, border=16)(sample)


def test_same_aug_warps_the_previous_frame_with_the_images_crop():
    sample = crop(results(frame_dist=2))
    matrix = sample['affine_matrix'].copy()
    raw = sample['pre_gt_bboxes'].copy()
    pre_img = sample['pre_img'].copy()
    sample = PreviousFrameAffine(shift=0.05, scale=0.05, same_aug=True)(
        sample)
    assert np.allclose(sample['pre_affine_matrix'], matrix)
    assert sample['pre_img'].shape == sample['img'].shape
    expected = affine_transform_bboxes(raw, matrix)
    expected[:, 0::2] = expected[:, 0::2].clip(0, INPUT[0])
    expected[:, 1::2] = expected[:, 1::2].clip(0, INPUT[1])
    keep = (expected[:, 2] > expected[:, 0]) & (expected[:, 3] >
                                                expected[:, 1])
    assert np.allclose(sample['pre_gt_bboxes'], expected[keep], atol=1e-4)
    assert np.array_equal(sample['pre_gt_track_ids'],
                          np.array([1, 4, 3])[keep])
    import cv2
    assert np.array_equal(sample['pre_img'], cv2.warpAffine(
        pre_img, matrix[:2].astype(np.float64), INPUT,
        flags=cv2.INTER_LINEAR, borderValue=0))


def test_a_frame_paired_with_itself_gets_centertracks_disturbed_crop():
    sample = results(frame_dist=0, same_image=True)
    sample = LoadPreviousFrame()(sample)  # the same image: copied
    assert np.array_equal(sample['pre_img'], sample['img'])
    assert sample['pre_img'] is not sample['img']
    # The crop CenterTrack's _get_aug_param draws for the image ...
    np.random.seed(3)
    scale = max(80, 100) * float(np.random.choice(
        RandomCenterAffine().scales))
    center = np.array([np.random.randint(16, 100 - 16),
                       np.random.randint(16, 80 - 16)], np.float64)
    # ... then its disturbed one (disturb=True): c + s·δ, s·a.
    shift = np.clip(np.random.randn(2) * 0.05, -0.1, 0.1)
    factor = np.clip(np.random.randn() * 0.05 + 1, 0.95, 1.05)
    expected = get_affine_transform(center + scale * shift, scale * factor,
                                    0, INPUT)
    np.random.seed(3)
    sample = RandomCenterAffine(input_size=INPUT, border=16)(sample)
    sample = PreviousFrameAffine(shift=0.05, scale=0.05, same_aug=True)(
        sample)
    assert np.allclose(sample['pre_affine_matrix'][:2], expected, atol=1e-4)
    assert not np.allclose(sample['pre_affine_matrix'],
                           sample['affine_matrix'])


def test_flip_mirrors_both_frames_by_one_draw():
    sample = PreviousFrameAffine(same_aug=True)(crop(results()))
    img, pre_img = sample['img'].copy(), sample['pre_img'].copy()
    np.random.seed(0)
    flipped = TrackRandomFlip(prob=1.0)(sample)
    assert flipped['flip']
    assert np.array_equal(flipped['img'], img[:, ::-1])
    assert np.array_equal(flipped['pre_img'], pre_img[:, ::-1])
    raw = np.array([[12, 8, 34, 38], [70, 40, 95, 75]], np.float32)
    expected = affine_transform_bboxes(raw, flipped['pre_affine_matrix'])
    expected[:, 0::2] = expected[:, 0::2].clip(0, INPUT[0])
    expected[:, 1::2] = expected[:, 1::2].clip(0, INPUT[1])
    assert np.allclose(flipped['pre_gt_bboxes'][:2], expected, atol=1e-4)
    kept = TrackRandomFlip(prob=0.0)(PreviousFrameAffine(same_aug=True)(
        crop(results())))
    assert not kept['flip']
    with pytest.raises(ValueError, match='before the flip'):
        PreviousFrameAffine()(flipped)


def test_previous_frame_wrapper_touches_only_the_previous_image():
    sample = PreviousFrameAffine(same_aug=True)(crop(results()))
    img = sample['img'].copy()
    np.random.seed(0)
    out = PreviousFrame([dict(type='ColorJitter')])(sample)
    assert np.array_equal(out['img'], img)
    assert out['pre_img'].dtype == np.float32
    assert isinstance(PreviousFrame([ColorJitter()]).transforms[0],
                      ColorJitter)


def test_pack_gives_six_channels_the_previous_objects_and_amodal_boxes():
    sample = PreviousFrameAffine(same_aug=True)(crop(results()))
    matrix = sample['affine_matrix']
    packed = PackTrackInputs()(sample)
    inputs, data_sample = packed['inputs'], packed['data_samples']
    assert inputs.shape == (6, INPUT[1], INPUT[0])
    assert torch.equal(inputs[3:], torch.from_numpy(
        sample['pre_img'].transpose(2, 0, 1).copy()))
    gt = data_sample.gt_instances
    assert gt.track_ids.tolist() == [1, 2][:len(gt)]
    # Box 2 reaches out of the image: its amodal box is not clipped.
    expected = affine_transform_bboxes(
        np.array([[10, 10, 30, 40], [-20, 50, 40, 70]], np.float32), matrix)
    assert np.allclose(gt.amodal_bboxes.numpy(), expected[:len(gt)],
                       atol=1e-4)
    pre = data_sample.pre_instances
    assert 3 not in pre.track_ids.tolist()  # the ignored one
    assert data_sample.metainfo['frame_dist'] == 1
    assert data_sample.metainfo['video_id'] == 1


def test_sample_previous_frame_draws_uniformly_among_candidates():
    frames = [dict(img_path=f'{f}.png', img_id=f, frame_id=f, instances=[])
              for f in (3, 4, 5, 6, 7)]
    np.random.seed(0)
    counts = {}
    for _ in range(2000):
        out = SamplePreviousFrame()(dict(frame_id=5, pre_frames=frames))
        counts[out['pre_frame_id']] = counts.get(out['pre_frame_id'], 0) + 1
        assert out['frame_dist'] == abs(5 - out['pre_frame_id'])
        assert 'pre_frames' not in out
    assert sorted(counts) == [3, 4, 5, 6, 7]
    assert all(abs(c / 2000 - 0.2) < 0.03 for c in counts.values())
    with pytest.raises(KeyError, match='CocoVideoDataset'):
        SamplePreviousFrame()(dict(img_path='x.png'))


def test_track_preprocessor_normalises_both_frames_as_images():
    mean, std = [100., 110., 120.], [50., 60., 70.]
    det = DetDataPreprocessor(mean, std, bgr_to_rgb=True)
    track = TrackDataPreprocessor(mean, std, bgr_to_rgb=True)
    six = [torch.randint(0, 255, (6, 8, 16), dtype=torch.uint8)
           for _ in range(2)]
    out = track(dict(inputs=six))['inputs']
    assert out.shape == (2, 6, 8, 16)
    image, previous = TrackDataPreprocessor.split(out)
    assert torch.allclose(image, det(dict(inputs=[x[:3] for x in six]))[
        'inputs'])
    assert torch.allclose(previous, det(dict(inputs=[x[3:] for x in six]))[
        'inputs'])
    three = track(dict(inputs=[x[:3] for x in six]))['inputs']
    assert torch.equal(three, image)
    with pytest.raises(ValueError, match='3 or 6 channels'):
        track(dict(inputs=[torch.zeros(4, 8, 8)]))
