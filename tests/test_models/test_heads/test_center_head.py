import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.structures import InstanceData

from cnet.models.heads.center_head import CenterHead
from cnet.models.utils import transpose_and_gather_feat
from cnet.registry import MODELS
from cnet.structures import DetDataSample

_REFERENCE = Path(__file__).parents[1] / 'test_utils' / 'original_reference.py'
_spec = importlib.util.spec_from_file_location('original_reference',
                                               _REFERENCE)
original = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(original)

STRIDE = 4


def random_boxes(rng, num, size, num_classes):
    """Boxes in input pixels, some crossing the border, some tiny."""
    xy = rng.uniform(-20, size, (num, 2))
    wh = rng.uniform(0.5, size / 2, (num, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    return boxes, rng.integers(0, num_classes, num)


def make_samples(rng, counts, size, num_classes, ignored=None):
    samples = []
    for i, count in enumerate(counts):
        boxes, labels = random_boxes(rng, count, size, num_classes)
        sample = DetDataSample(metainfo=dict(img_shape=(size, size)))
        sample.gt_instances = InstanceData(
            bboxes=torch.from_numpy(boxes), labels=torch.from_numpy(labels))
        if ignored is not None and ignored[i] is not None:
            sample.ignored_instances = ignored[i]
        samples.append(sample)
    return samples


def reference_targets(samples, num_classes, out_h, out_w):
    """The original's per-image arrays, stacked with max_objs = M."""
    num_slots = max([len(s.gt_instances) for s in samples] + [1])
    per_image = [
        original.ctdet_targets(s.gt_instances.bboxes.numpy() / STRIDE,
                               s.gt_instances.labels.numpy(), num_classes,
                               out_h, out_w, num_slots) for s in samples
    ]
    return {key: np.stack([t[key] for t in per_image])
            for key in per_image[0]}


def test_branches_per_stack_and_the_original_init():
    torch.manual_seed(0)
    head = CenterHead(num_classes=5, in_channels=16, feat_channels=32,
                      num_stacks=2)
    assert set(head.branches) == {'hm', 'wh', 'reg'}
    assert all(len(stacks) == 2 for stacks in head.branches.values())
    for heatmap_branch in head.branches['hm']:
        assert torch.all(heatmap_branch[-1].bias == -2.19)
        # The first conv keeps PyTorch's default (kaiming-uniform) init.
        assert heatmap_branch[0].weight.abs().max() > 0.01
    for name in ('wh', 'reg'):
        for branch in head.branches[name]:
            for conv in (branch[0], branch[2]):
                assert conv.weight.std().item() == pytest.approx(0.001,
                                                                 rel=0.2)
                assert torch.all(conv.bias == 0)
    outputs = head((torch.randn(2, 16, 6, 7), torch.randn(2, 16, 6, 7)))
    assert [o.shape for o in outputs['hm']] == [(2, 5, 6, 7)] * 2
    assert [o.shape for o in outputs['wh']] == [(2, 2, 6, 7)] * 2
    with pytest.raises(ValueError, match='1 feature maps for 2 stack'):
        head((torch.randn(2, 16, 6, 7), ))


def test_mmengine_init_weights_keeps_the_original_init():
    head = CenterHead(num_classes=2, in_channels=4)
    wh_weight = head.branches['wh'][0][0].weight.clone()
    head.init_weights()
    assert torch.all(head.branches['hm'][0][-1].bias == -2.19)
    assert torch.equal(head.branches['wh'][0][0].weight, wh_weight)


@pytest.mark.parametrize('feat_channels', [32, 0])
def test_branch_init_follows_the_named_original_network(feat_channels):
    """Per ``branch_init``, which convs of a regression branch get
    N(0, 0.001²) and which biases are 0; the heatmap's bias is -2.19."""
    def first_and_last(branch_init):
        torch.manual_seed(0)
        head = CenterHead(num_classes=3, in_channels=16,
                          feat_channels=feat_channels,
                          branch_init=branch_init)
        hm_last = head.branches['hm'][0][-1]
        assert torch.all(hm_last.bias == torch.tensor(-2.19))
        wh = head.branches['wh'][0]
        return wh[0], wh[-1]

    tiny = 0.01       # N(0, 0.001²) draws; PyTorch's default is ≥ 0.02 here
    first, last = first_and_last('msra_resnet')
    assert last.weight.abs().max() < tiny and torch.all(last.bias == 0)
    if feat_channels:
        assert first.weight.abs().max() > tiny
        assert torch.count_nonzero(first.bias) == first.bias.numel()
    first, last = first_and_last('resnet_dcn')
    assert first.weight.abs().max() < tiny and torch.all(first.bias == 0)
    assert last.weight.abs().max() < tiny and torch.all(last.bias == 0)
    first, last = first_and_last('pose_dla_dcn')
    assert first.weight.abs().max() > tiny and torch.all(first.bias == 0)
    assert last.weight.abs().max() > tiny and torch.all(last.bias == 0)
    first, last = first_and_last('large_hourglass')
    assert first.weight.abs().max() > tiny
    assert torch.count_nonzero(last.bias) == last.bias.numel()


def test_unknown_branch_init_names_the_choices():
    with pytest.raises(ValueError, match="'large_hourglass', 'msra_resnet'"):
        CenterHead(num_classes=2, in_channels=4, branch_init='dla')


def test_get_targets_names_a_missing_field():
    head = CenterHead(num_classes=2, in_channels=4)
    gt = InstanceData(bboxes=torch.tensor([[0., 0., 8., 8.]]))
    with pytest.raises(KeyError, match="image 0 have no 'labels'"):
        head.get_targets([gt], None, (1, 2, 4, 4))


def test_branches_must_hold_the_detection_channels():
    with pytest.raises(ValueError, match=r"branches\['hm'\] must be 3"):
        CenterHead(num_classes=3, in_channels=8, branches=dict(hm=4, wh=2,
                                                                 reg=2))
    head = CenterHead(num_classes=3, in_channels=8, feat_channels=0)
    assert isinstance(head.branches['wh'][0][0], nn.Conv2d)
    assert len(head.branches['wh'][0]) == 1


@pytest.mark.parametrize('seed', range(3))
def test_batched_targets_equal_the_original_per_object_loop(seed):
    rng = np.random.default_rng(seed)
    num_classes, size = 4, 96
    out = size // STRIDE
    samples = make_samples(rng, [30, 0, 7, 45], size, num_classes)
    head = CenterHead(num_classes=num_classes, in_channels=8)
    targets = head.get_targets([s.gt_instances for s in samples], None,
                               feat_shape=(4, num_classes, out, out))
    expected = reference_targets(samples, num_classes, out, out)
    heatmap = targets['center_heatmap_target'].numpy()
    assert np.abs(heatmap - expected['hm']).max() < 1e-6
    assert ((heatmap == 1) == (expected['hm'] == 1)).all()
    assert np.array_equal(targets['ind'].numpy(), expected['ind'])
    assert np.array_equal(targets['mask'].numpy(),
                          expected['reg_mask'].astype(np.float32))
    assert np.array_equal(targets['wh_target'].numpy(), expected['wh'])
    assert np.array_equal(targets['offset_target'].numpy(), expected['reg'])
    assert targets['ind'].shape == (4, 45)
    assert 'center_heatmap_weight' not in targets


def test_losses_equal_the_original_ctdet_loss_over_two_stacks():
    rng = np.random.default_rng(3)
    torch.manual_seed(3)
    num_classes, size = 3, 64
    out = size // STRIDE
    head = CenterHead(num_classes=num_classes, in_channels=8, num_stacks=2)
    samples = make_samples(rng, [5, 12, 1], size, num_classes)
    feats = tuple(torch.randn(3, 8, out, out) for _ in range(2))
    losses = head.loss(feats, samples)

    outputs = head(feats)
    reference = original.ctdet_loss(
        [{name: outputs[name][s].detach().numpy()
          for name in ('hm', 'wh', 'reg')} for s in range(2)],
        reference_targets(samples, num_classes, out, out))
    assert set(losses) == {'loss_center_heatmap', 'loss_wh', 'loss_offset'}
    assert losses['loss_center_heatmap'].item() == pytest.approx(
        reference['hm_loss'], rel=1e-5)
    assert losses['loss_wh'].item() == pytest.approx(reference['wh_loss'],
                                                     rel=1e-5)
    assert losses['loss_offset'].item() == pytest.approx(
        reference['off_loss'], rel=1e-5)
    sum(losses.values()).backward()
    assert head.branches['wh'][1][2].weight.grad.abs().sum() > 0


def test_loss_with_big_random_logits_matches_the_clamped_reference():
    # Saturated logits exercise the [1e-4, 1 - 1e-4] clamp.
    rng = np.random.default_rng(4)
    num_classes, out = 2, 20
    head = CenterHead(num_classes=num_classes, in_channels=4)
    samples = make_samples(rng, [9, 3], out * STRIDE, num_classes)
    targets = head.get_targets([s.gt_instances for s in samples], None,
                               feat_shape=(2, num_classes, out, out))
    generator = torch.Generator().manual_seed(0)
    outputs = {name: [30 * torch.randn(2, c, out, out, generator=generator)]
               for name, c in (('hm', num_classes), ('wh', 2), ('reg', 2))}
    losses = head.loss_by_feat(outputs, targets)
    reference = original.ctdet_loss(
        [{k: v[0].numpy() for k, v in outputs.items()}],
        reference_targets(samples, num_classes, out, out))
    assert losses['loss_center_heatmap'].item() == pytest.approx(
        reference['hm_loss'], rel=1e-5)
    assert losses['loss_wh'].item() == pytest.approx(reference['wh_loss'],
                                                     rel=1e-5)


def test_images_without_objects_give_a_negative_only_loss():
    head = CenterHead(num_classes=2, in_channels=4)
    samples = make_samples(np.random.default_rng(0), [0, 0], 32, 2)
    feats = (torch.randn(2, 4, 8, 8), )
    losses = head.loss(feats, samples)
    heatmap = head(feats)['hm'][0].sigmoid().clamp(1e-4, 1 - 1e-4)
    expected = -(torch.log(1 - heatmap) * heatmap ** 2).sum()
    assert losses['loss_center_heatmap'].item() == pytest.approx(
        expected.item(), rel=1e-5)
    assert losses['loss_wh'].item() == 0 and losses['loss_offset'].item() == 0


def test_ignore_regions_zero_the_negatives_of_their_class_only():
    num_classes, out = 2, 16
    head = CenterHead(num_classes=num_classes, in_channels=4)
    gt = InstanceData(bboxes=torch.tensor([[8., 8., 24., 24.]]),
                      labels=torch.tensor([0]))
    # Crowd box of class 0 over the object and beyond: feature cells
    # x in [1, 8), y in [2, 7) (x1/4 = 1.5 → 1, x2/4 = 7.25 → 8).
    ignored = InstanceData(bboxes=torch.tensor([[6., 8., 29., 28.]]),
                           labels=torch.tensor([0]))
    targets = head.get_targets([gt, gt], [ignored, None],
                               feat_shape=(2, num_classes, out, out))
    weight = targets['center_heatmap_weight']
    expected = torch.ones(2, num_classes, out, out)
    expected[0, 0, 2:7, 1:8] = 0
    expected[0, 0, 4, 4] = 1          # the object's centre stays a positive
    assert targets['center_heatmap_target'][0, 0, 4, 4] == 1
    assert torch.equal(weight, expected)

    generator = torch.Generator().manual_seed(1)
    outputs = {name: [torch.randn(2, c, out, out, generator=generator)]
               for name, c in (('hm', num_classes), ('wh', 2), ('reg', 2))}
    loss = head.loss_by_feat(outputs, targets)['loss_center_heatmap']
    pred = outputs['hm'][0].sigmoid().clamp(1e-4, 1 - 1e-4)
    target = targets['center_heatmap_target']
    pos = (target == 1).double()
    terms = (torch.log(pred) * (1 - pred) ** 2 * pos +
             torch.log(1 - pred) * pred ** 2 * (1 - target) ** 4 *
             (1 - pos)) * expected
    assert loss.item() == pytest.approx((-terms.sum() / 2).item(), rel=1e-5)

    # Without labels a region is ignored for every class.
    unlabelled = InstanceData(bboxes=torch.tensor([[0., 0., 8., 4.]]))
    weight = head.get_targets(
        [gt, gt], [None, unlabelled],
        feat_shape=(2, num_classes, out, out))['center_heatmap_weight']
    assert torch.all(weight[1, :, 0, 0:2] == 0) and weight[1].sum() == (
        num_classes * (out * out - 2))


def planted_outputs(num_classes, out):
    """Logits with two objects in image 0 and one in image 1."""
    logit = torch.logit(torch.tensor([0.9, 0.6, 0.8]))
    hm = torch.full((2, num_classes, out, out), -20.)
    wh = torch.zeros(2, 2, out, out)
    reg = torch.zeros(2, 2, out, out)
    for (b, c, y, x, w, h), score in zip(
            [(0, 1, 3, 5, 4., 2.), (0, 0, 10, 12, 8., 6.),
             (1, 2, 7, 7, 2., 2.)], logit):
        hm[b, c, y, x] = score
        wh[b, :, y, x] = torch.tensor([w, h])
        reg[b, :, y, x] = torch.tensor([0.5, 0.25])
    return dict(hm=[hm], wh=[wh], reg=[reg])


def test_predict_decodes_the_last_stack_and_maps_back_to_original_pixels():
    num_classes, out = 3, 16
    head = CenterHead(num_classes=num_classes, in_channels=4,
                      test_cfg=dict(topk=5, max_per_img=4))
    outputs = planted_outputs(num_classes, out)
    # Image 0: input = 0.5 * original + (10, 20); image 1: flipped in a
    # 64-wide input (x → 63 - x), numpy matrix.
    scale_shift = torch.tensor([[0.5, 0., 10.], [0., 0.5, 20.], [0., 0., 1.]])
    flip = np.array([[-1., 0., 63.], [0., 1., 0.], [0., 0., 1.]], np.float32)
    metas = [dict(affine_matrix=scale_shift), dict(affine_matrix=flip)]

    in_input = head.predict_by_feat(outputs, metas, rescale=False)
    assert len(in_input) == 2 and len(in_input[0]) == 4
    # Best first: (x + 0.5 ± w/2, y + 0.25 ± h/2) * 4 of the planted boxes.
    assert torch.equal(in_input[0].bboxes[:2],
                       torch.tensor([[3.5, 2.25, 7.5, 4.25],
                                     [8.5, 7.25, 16.5, 13.25]]) * 4)
    assert in_input[0].labels[:2].tolist() == [1, 0]
    assert in_input[0].scores[:2].tolist() == pytest.approx([0.9, 0.6])
    assert in_input[1].labels[0] == 2
    assert in_input[0].bboxes.dtype == torch.float32
    assert in_input[0].labels.dtype == torch.int64
    assert (in_input[0].scores[:-1] >= in_input[0].scores[1:]).all()

    restored = head.predict_by_feat(outputs, metas, rescale=True)
    expected = (torch.tensor([14., 9., 30., 17.]) -
                torch.tensor([10., 20., 10., 20.])) / 0.5
    assert torch.allclose(restored[0].bboxes[0], expected, atol=1e-4)
    box = in_input[1].bboxes[0]       # flipped back: x1 = 63 - x2
    assert torch.allclose(restored[1].bboxes[0],
                          torch.stack([63 - box[2], box[1], 63 - box[0],
                                       box[3]]), atol=1e-4)

    with pytest.raises(KeyError, match="'affine_matrix'.*image 0"):
        head.predict_by_feat(outputs, [dict(), dict()], rescale=True)


def test_predict_runs_from_features_and_metainfo():
    head = CenterHead(num_classes=2, in_channels=4, num_stacks=2)
    sample = DetDataSample(metainfo=dict(affine_matrix=np.eye(3)))
    results = head.predict((torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8,
                                                                  8)),
                           [sample])
    assert results[0].bboxes.shape == (100, 4)
    assert results[0].scores.shape == (100, )


@MODELS.register_module(force=True)
class DepthCenterHead(CenterHead):
    """A subclass with one more branch: depth at object centres (L1)."""

    def __init__(self, num_classes: int, in_channels: int, **kwargs) -> None:
        branches = dict(hm=num_classes, wh=2, reg=2, dep=1)
        super().__init__(num_classes, in_channels, branches=branches,
                         **kwargs)
        self.loss_depth = MODELS.build(dict(type='L1Loss', loss_weight=0.5))

    INSTANCE_KEYS = ('bboxes', 'labels', 'depths')

    def extra_targets(self, packed, targets):
        return dict(depth_target=packed.to_slots(
            packed.fields['depths'].float()[:, None]))

    def extra_loss_terms(self, outputs, targets):
        depth = transpose_and_gather_feat(outputs['dep'], targets['ind'])
        return dict(loss_depth=self.loss_depth(
            depth, targets['depth_target'], targets['mask']))


def test_a_subclass_adds_a_branch_with_its_own_target_and_loss():
    head = MODELS.build(dict(type='DepthCenterHead', num_classes=2,
                             in_channels=4, feat_channels=8))
    assert head.branches['dep'][0][-1].out_channels == 1
    sample = DetDataSample()
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[4., 4., 20., 12.], [0., 0., 8., 8.]]),
        labels=torch.tensor([0, 1]), depths=torch.tensor([10., 30.]))
    feats = (torch.randn(1, 4, 8, 8), )
    losses = head.loss(feats, [sample])
    assert set(losses) == {'loss_center_heatmap', 'loss_wh', 'loss_offset',
                           'loss_depth'}
    # Centres (feature units): (3, 2) and (1, 1).
    depth_map = head(feats)['dep'][0][0, 0]
    expected = 0.5 * ((depth_map[2, 3] - 10).abs() +
                      (depth_map[1, 1] - 30).abs()) / (2 + 1e-4)
    assert losses['loss_depth'].item() == pytest.approx(expected.item(),
                                                        rel=1e-5)
