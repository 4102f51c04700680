"""The CenterTrack detector: the training-time previous heatmap and what
reaches the targets, and the test-time loop (tracker reset per video, the
previous frame's input, the heatmap of its tracks, order checks, the flip
test, public detections)."""
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from cnet.models.detectors import CenterTrack
from cnet.models.detectors.center_track import warp_boxes
from cnet.models.heads.center_track_head import (
    PRE_CENTERS_KEY,
    PRE_TRACK_IDS_KEY,
)
from cnet.models.utils import previous_centers, render_previous_heatmap
from cnet.structures import DetDataSample

H, W = 32, 48


def make_model(**kwargs):
    tracker = kwargs.pop('tracker', dict(type='CenterTracker',
                                         score_thresh=0.0, new_thresh=0.0))
    torch.manual_seed(0)
    return CenterTrack(
        backbone=dict(type='ResNet', depth=18, num_stages=2,
                      out_indices=(1, ), with_pre_img=True,
                      with_pre_hm=True, init_cfg=None),
        neck=dict(type='DeconvNeck', in_channels=128, out_channels=(16, ),
                  with_conv=False),
        bbox_head=dict(type='CenterTrackHead', num_classes=2,
                       in_channels=16, feat_channels=8),
        tracker=tracker, **kwargs)


def train_sample(pre_boxes, pre_ids, boxes, ids):
    sample = DetDataSample(metainfo=dict(img_id=1, img_shape=(H, W)))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.zeros(len(ids), dtype=torch.int64),
        track_ids=torch.tensor(ids, dtype=torch.int64))
    sample.pre_instances = InstanceData(
        bboxes=torch.tensor(pre_boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.zeros(len(pre_ids), dtype=torch.int64),
        track_ids=torch.tensor(pre_ids, dtype=torch.int64))
    return sample


PRE_BOXES = [[4., 4., 20., 16.], [30., 10., 46., 30.], [60., 0., 70., 9.]]


def test_undisturbed_previous_heatmap_draws_the_previous_boxes():
    model = make_model(hm_disturb=0, lost_disturb=0, fp_disturb=0)
    samples = [train_sample(PRE_BOXES, [1, 2, 3], [[6., 6., 22., 18.]], [1]),
               train_sample([], [], [[6., 6., 22., 18.]], [4])]
    inputs = torch.zeros(2, 6, H, W)
    pre_hm = model.training_previous_heatmap(inputs, samples)
    # The third box lies outside the input: no peak and no target.
    valid = torch.tensor([[True, True, True]])
    expected = previous_centers(torch.tensor([PRE_BOXES]), valid, H, W)
    assert expected.valid.tolist() == [[True, True, False]]
    assert torch.equal(pre_hm[0:1], render_previous_heatmap(
        expected.centers, expected.radii, expected.valid, H, W))
    assert pre_hm[1].abs().sum() == 0
    assert samples[0].metainfo[PRE_TRACK_IDS_KEY].tolist() == [1, 2]
    assert torch.equal(samples[0].metainfo[PRE_CENTERS_KEY],
                       torch.tensor([[12., 10.], [38., 20.]]))
    assert samples[1].metainfo[PRE_TRACK_IDS_KEY].tolist() == []


def test_a_lost_object_is_not_drawn_but_keeps_its_tracking_target():
    model = make_model(hm_disturb=0, lost_disturb=1.0, fp_disturb=0)
    samples = [train_sample(PRE_BOXES[:2], [1, 2], [[6., 6., 22., 18.]],
                            [1])]
    pre_hm = model.training_previous_heatmap(torch.zeros(1, 6, H, W),
                                             samples)
    assert pre_hm.abs().sum() == 0
    assert samples[0].metainfo[PRE_TRACK_IDS_KEY].tolist() == [1, 2]


def test_loss_trains_every_term_and_reaches_the_previous_frame_stems():
    model = make_model()
    model.train()
    samples = [train_sample(PRE_BOXES, [1, 2, 3],
                            [[6., 6., 22., 18.], [28., 8., 44., 30.]],
                            [1, 2]) for _ in range(2)]
    losses = model.loss(torch.randn(2, 6, H, W), samples)
    assert {'loss_center_heatmap', 'loss_wh', 'loss_offset',
            'loss_tracking'} == set(losses)
    sum(losses.values()).backward()
    for layer in ('pre_img_layer', 'pre_hm_layer'):
        grad = getattr(model.backbone, layer)[0].weight.grad
        assert grad is not None and grad.abs().sum() > 0, layer
    with pytest.raises(ValueError, match=r'\(B, 6, H, W\)'):
        model.loss(torch.randn(2, 3, H, W), samples)


def frame_sample(video, frame, first, affine=np.eye(3)):
    return DetDataSample(metainfo=dict(
        img_id=video * 100 + frame, video_id=video, frame_id=frame,
        is_first_frame=first, affine_matrix=np.asarray(affine, np.float32),
        img_shape=(H, W), ori_shape=(H, W)))


class BackboneInputs:
    """Records what the backbone is given."""

    def __init__(self, model):
        self.calls = []
        model.backbone.register_forward_hook(self.record, with_kwargs=False)

    def record(self, module, args, output):
        self.calls.append([None if a is None else a.clone() for a in args])


def test_test_time_feeds_the_previous_input_and_the_tracks_heatmap():
    model = make_model(pre_thresh=0.0).eval()
    seen = BackboneInputs(model)
    frames = torch.randn(3, 3, H, W)
    affine = np.array([[0.5, 0, 2], [0, 0.5, 1], [0, 0, 1]])
    with torch.no_grad():
        first = model.predict(frames[0:1], [frame_sample(1, 1, True,
                                                         affine)])[0]
        tracks = first.pred_track_instances
        boxes = model.tracker.previous_boxes(0.0)
        second = model.predict(frames[1:2], [frame_sample(1, 2, False,
                                                          affine)])[0]
    (img0, pre_img0, pre_hm0), (img1, pre_img1, pre_hm1) = seen.calls
    assert torch.equal(pre_img0, img0)           # first frame: itself
    assert pre_hm0.abs().sum() == 0               # no track yet
    assert torch.equal(pre_img1, frames[0:1])     # the previous input
    warped = warp_boxes(boxes, affine)
    expected = previous_centers(warped[None], torch.ones(1, len(warped),
                                                         dtype=torch.bool),
                                H, W)
    assert torch.equal(pre_hm1, render_previous_heatmap(
        expected.centers, expected.radii, expected.valid, H, W))
    assert len(tracks) > 0 and pre_hm1.max() == 1
    assert {'bboxes', 'scores', 'labels', 'track_ids', 'active'} <= set(
        second.pred_track_instances.keys())
    assert {'centers', 'tracking'} <= set(second.pred_instances.keys())
    # A new video starts the tracker again: ids from 1, the frame itself
    # as its previous one.
    with torch.no_grad():
        third = model.predict(frames[2:3], [frame_sample(2, 1, True,
                                                         affine)])[0]
    assert torch.equal(seen.calls[2][1], frames[2:3])
    assert third.pred_track_instances.track_ids.min() == 1


def test_frames_out_of_order_are_refused():
    model = make_model().eval()
    frames = torch.randn(1, 3, H, W)
    with torch.no_grad():
        model.predict(frames, [frame_sample(1, 5, True)])
        with pytest.raises(ValueError, match='comes after frame 5'):
            model.predict(frames, [frame_sample(1, 3, False)])
        with pytest.raises(ValueError, match='not its first frame'):
            model.predict(frames, [frame_sample(2, 7, False)])


def test_a_batch_of_frames_is_tracked_frame_after_frame():
    model = make_model().eval()
    frames = torch.randn(3, 3, H, W)
    with torch.no_grad():
        together = model.predict(frames, [frame_sample(1, t, t == 1)
                                          for t in (1, 2, 3)])
        model.reset_tracking()
        alone = [model.predict(frames[t:t + 1],
                               [frame_sample(1, t + 1, t == 0)])[0]
                 for t in range(3)]
    for a, b in zip(together, alone):
        assert torch.equal(a.pred_track_instances.track_ids,
                           b.pred_track_instances.track_ids)
        assert torch.allclose(a.pred_track_instances.bboxes,
                              b.pred_track_instances.bboxes, atol=1e-5)


def test_flip_test_mirrors_the_previous_frame_and_heatmap():
    model = make_model(pre_thresh=0.0).eval()
    seen = BackboneInputs(model)
    frames = torch.randn(2, 3, H, W)
    with torch.no_grad():
        model.predict(frames[0:1], [frame_sample(1, 1, True)], flip=True)
        model.predict(frames[1:2], [frame_sample(1, 2, False)], flip=True)
    img, pre_img, pre_hm = seen.calls[1]
    assert img.shape[0] == pre_img.shape[0] == pre_hm.shape[0] == 2
    assert torch.equal(pre_img[1], frames[0].flip(-1))
    assert torch.equal(pre_hm[1], pre_hm[0].flip(-1))
    assert torch.equal(img[1], frames[1].flip(-1))


def test_public_detections_start_the_first_tracks():
    model = make_model(tracker=dict(type='CenterTracker', score_thresh=0.9,
                                    new_thresh=0.9, public_det=True)).eval()
    sample = frame_sample(1, 1, True)
    sample.set_metainfo(dict(public_detections=np.array(
        [[2., 3., 12., 13., 1.], [20., 4., 30., 20., 1.]])))
    with torch.no_grad():
        out = model.predict(torch.randn(1, 3, H, W), [sample])[0]
    # The untrained network scores under 0.9: the public tracks are kept
    # only as lost ones (max_age -1 drops them) -- but they were started.
    assert model.tracker.num_ids == 2
    assert len(out.pred_track_instances) == 0
    with pytest.raises(KeyError, match="no 'public_detections'"):
        with torch.no_grad():
            model.predict(torch.randn(1, 3, H, W), [frame_sample(2, 1,
                                                                 True)])


def test_tensor_mode_runs_a_frame_as_its_own_previous_one():
    model = make_model().eval()
    with torch.no_grad():
        outputs = model(torch.randn(1, 3, H, W), mode='tensor')
    assert set(outputs) == {'hm', 'reg', 'wh', 'tracking'}
    assert outputs['tracking'][0].shape == (1, 2, H // 4, W // 4)


def test_a_head_without_tracking_is_refused():
    with pytest.raises(ValueError, match='needs a tracking branch'):
        CenterTrack(backbone=dict(type='ResNet', depth=18, init_cfg=None),
                    neck=dict(type='DeconvNeck', in_channels=512),
                    bbox_head=dict(type='CenterHead', num_classes=1,
                                   in_channels=256))
