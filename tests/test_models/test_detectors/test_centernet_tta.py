"""The flip test inside CenterNet, and CenterNetTTAModel's merge of views."""
import math

import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from cnet.models.detectors import CenterNetTTAModel
from cnet.models.utils import merge_flipped
from cnet.registry import MODELS
from cnet.structures import DetDataSample

NUM_CLASSES, HEIGHT, WIDTH = 2, 4, 6       # output maps; input is 4x larger


def tiny_centernet(test_cfg=None):
    """ResNet stem + one stage (stride 4, 64 channels), a thin head."""
    with DefaultScope.overwrite_default_scope('cnet'):
        model = MODELS.build(dict(
            type='CenterNet',
            data_preprocessor=dict(type='DetDataPreprocessor',
                                   mean=[0, 0, 0], std=[1, 1, 1]),
            backbone=dict(type='ResNet', depth=18, num_stages=1,
                          out_indices=(0, ), init_cfg=None),
            bbox_head=dict(type='CenterHead', num_classes=NUM_CLASSES,
                           in_channels=64, feat_channels=8),
            test_cfg=dict(dict(topk=3, local_maximum_kernel=3,
                               max_per_img=3), **(test_cfg or {}))))
    return model.eval()


def planted_pair():
    """Maps of one image (batch row 0) and of its mirror (row 1).

    Class 1 peaks at (y, x) = (1, 1) in the image (logit 2) and at the
    mirrored place (1, W - 2) in the mirror's maps (logit 0); the image says
    size (2, 2) and offset (0.25, 0.5) there, the mirror size (4, 2) and an
    offset (0.9, 0.9) that the flip test must ignore.
    """
    hm = torch.full((2, NUM_CLASSES, HEIGHT, WIDTH), -8.)
    wh = torch.ones(2, 2, HEIGHT, WIDTH)
    reg = torch.zeros(2, 2, HEIGHT, WIDTH)
    hm[0, 1, 1, 1], hm[1, 1, 1, WIDTH - 2] = 2., 0.
    wh[0, :, 1, 1] = torch.tensor([2., 2.])
    wh[1, :, 1, WIDTH - 2] = torch.tensor([4., 2.])
    reg[0, :, 1, 1] = torch.tensor([0.25, 0.5])
    reg[1, :, 1, WIDTH - 2] = torch.tensor([0.9, 0.9])
    return dict(hm=[hm], wh=[wh], reg=[reg])


def control(model, monkeypatch, outputs):
    """Make the network return ``outputs``; record what it and the coder
    were given."""
    seen = {}

    def extract_feat(inputs):
        seen['inputs'] = inputs
        return (inputs, )

    decode = model.bbox_head.bbox_coder.decode

    def spy_decode(heatmap, wh, offset, **kwargs):
        seen.update(heatmap=heatmap, wh=wh, offset=offset, **kwargs)
        return decode(heatmap, wh, offset, **kwargs)

    monkeypatch.setattr(model, 'extract_feat', extract_feat)
    monkeypatch.setattr(model.bbox_head, 'forward', lambda feats: outputs)
    monkeypatch.setattr(model.bbox_head.bbox_coder, 'decode', spy_decode)
    return seen


def test_merge_flipped_averages_each_map_with_its_mirror_flipped_back():
    maps = torch.arange(4 * 3 * 2 * 4, dtype=torch.float32).view(4, 3, 2, 4)
    merged = merge_flipped(maps)
    assert merged.shape == (2, 3, 2, 4)
    assert torch.equal(merged[1], (maps[1] + maps[3].flip(-1)) / 2)
    assert torch.equal(merge_flipped(torch.cat([maps, maps.flip(-1)])),
                       maps)
    with pytest.raises(ValueError, match='images then their mirrors'):
        merge_flipped(maps[:3])


def test_flip_test_averages_scores_and_sizes_and_keeps_the_images_offset(
        monkeypatch):
    model = tiny_centernet()
    outputs = planted_pair()
    seen = control(model, monkeypatch, outputs)
    inputs = torch.rand(1, 3, HEIGHT * 4, WIDTH * 4)
    sample = DetDataSample(metainfo=dict(affine_matrix=np.eye(3)))
    result = model.predict(inputs, [sample], rescale=False,
                           flip=True)[0].pred_instances

    # The batch held the image and its mirror, as the original's pre_process.
    assert torch.equal(seen['inputs'], torch.cat([inputs, inputs.flip(-1)]))
    # The coder got the original's process(): mean of the sigmoid scores,
    # mean of the sizes, the image's offsets, no further activation.
    hm, wh, reg = outputs['hm'][0], outputs['wh'][0], outputs['reg'][0]
    assert seen['activation'] is None
    assert torch.allclose(seen['heatmap'], (hm[:1].sigmoid() +
                                            hm[1:].sigmoid().flip(-1)) / 2)
    assert torch.equal(seen['wh'], (wh[:1] + wh[1:].flip(-1)) / 2)
    assert torch.equal(seen['offset'], reg[:1])

    score = (1 / (1 + math.exp(-2.)) + 0.5) / 2
    assert result.scores[0].item() == pytest.approx(score)
    assert result.labels[0].item() == 1
    # centre (1.25, 1.5), size (3, 2) in feature cells, times the stride 4
    assert result.bboxes[0].tolist() == pytest.approx([-1., 2., 11., 10.])


def test_test_cfg_flip_switches_the_flip_test_on(monkeypatch):
    sample = DetDataSample(metainfo=dict(affine_matrix=np.eye(3)))
    inputs = torch.rand(1, 3, HEIGHT * 4, WIDTH * 4)
    with_flip = tiny_centernet(dict(flip=True))
    seen = control(with_flip, monkeypatch, planted_pair())
    with_flip.predict(inputs, [sample])
    assert seen['inputs'].shape[0] == 2 and seen['activation'] is None

    plain = tiny_centernet()
    single = planted_pair()
    single = {key: [maps[0][:1]] for key, maps in single.items()}
    seen = control(plain, monkeypatch, single)
    result = plain.predict(inputs, [sample], rescale=False)[0]
    assert seen['inputs'].shape[0] == 1
    assert seen['activation'] is torch.sigmoid
    assert result.pred_instances.scores[0].item() == pytest.approx(
        1 / (1 + math.exp(-2.)))


def sample_with(bboxes, scores, labels):
    sample = DetDataSample(metainfo=dict(img_id=7))
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor(bboxes, dtype=torch.float32),
        scores=torch.tensor(scores), labels=torch.tensor(labels))
    return sample


def test_views_merge_per_class_by_gaussian_soft_nms_then_the_best_kept():
    tta = CenterNetTTAModel(tiny_centernet(), max_per_img=3)
    box, far = [0., 0., 10., 10.], [50., 50., 60., 60.]
    views = [sample_with([box, box], [0.9, 0.5], [0, 1]),
             sample_with([box, far], [0.8, 0.3], [0, 0])]
    merged = tta.merge_preds([views])[0]
    assert merged.img_id == 7
    result = merged.pred_instances
    # Class 0: the duplicate decays by exp(-1 / 0.5); class 1 is untouched.
    # All four are kept by Soft-NMS; max_per_img keeps the 3 best.
    assert result.scores.tolist() == pytest.approx([0.9, 0.5, 0.3])
    assert result.labels.tolist() == [0, 1, 0]
    assert result.bboxes.tolist() == [box, box, far]

    tta = CenterNetTTAModel(tiny_centernet(), max_per_img=10)
    views = [sample_with([box, box], [0.9, 0.5], [0, 1]),
             sample_with([box, far], [0.8, 0.3], [0, 0])]
    result = tta.merge_preds([views])[0].pred_instances
    assert result.scores.tolist() == pytest.approx(
        [0.9, 0.5, 0.3, 0.8 * math.exp(-2.)])


def test_one_view_is_not_merged_by_nms():
    tta = CenterNetTTAModel(tiny_centernet())
    box = [0., 0., 10., 10.]
    view = sample_with([box, box, box], [0.5, 0.9, 0.8], [0, 0, 0])
    result = tta.merge_preds([[view]])[0].pred_instances
    assert result.scores.tolist() == pytest.approx([0.9, 0.8, 0.5])


def test_hard_nms_merge_and_bad_settings():
    box = [0., 0., 10., 10.]
    tta = CenterNetTTAModel(tiny_centernet(),
                            nms=dict(type='nms', iou_threshold=0.5))
    views = [sample_with([box], [0.9], [0]), sample_with([box], [0.8], [0])]
    assert tta.merge_preds([views])[0].pred_instances.scores.tolist() == \
        pytest.approx([0.9])
    with pytest.raises(ValueError, match="nms.type.*'snms'"):
        CenterNetTTAModel(tiny_centernet(), nms=dict(type='snms'))
    with pytest.raises(ValueError, match="unknown.*'sigma'"):
        CenterNetTTAModel(tiny_centernet(), nms=dict(type='nms', sigma=0.5))


def test_test_step_predicts_every_view_with_flip_and_merges(monkeypatch):
    model = tiny_centernet()
    tta = CenterNetTTAModel(model, flip=True)
    calls = []

    def predict(inputs, data_samples, rescale=True, flip=None):
        calls.append((tuple(inputs.shape), flip))
        for sample in data_samples:
            sample.pred_instances = InstanceData(
                bboxes=torch.tensor([[0., 0., 10., 10.]]),
                scores=torch.tensor([0.5 + 0.1 * len(calls)]),
                labels=torch.tensor([0]))
        return data_samples

    monkeypatch.setattr(model, 'predict', predict)
    # Two views (scales) of a batch of one image, of different sizes.
    data = dict(
        inputs=[[torch.zeros(3, 32, 32, dtype=torch.uint8)],
                [torch.zeros(3, 64, 64, dtype=torch.uint8)]],
        data_samples=[[DetDataSample(metainfo=dict(img_id=1))],
                      [DetDataSample(metainfo=dict(img_id=1))]])
    results = tta.test_step(data)
    assert calls == [((1, 3, 32, 32), True), ((1, 3, 64, 64), True)]
    assert len(results) == 1 and results[0].img_id == 1
    # Same box, same class: the weaker view's copy decays by exp(-2).
    assert results[0].pred_instances.scores.tolist() == pytest.approx(
        [0.7, 0.6 * math.exp(-2.)])
