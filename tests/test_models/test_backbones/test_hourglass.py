import pytest
import torch

from cnet.models.backbones import HourglassNet
from cnet.models.heads import CenterHead
from cnet.registry import MODELS

# The whole network of the original's get_large_hourglass_net with heads
# {hm: 80, wh: 2, reg: 2} (src/lib/models/networks/large_hourglass.py).
ORIGINAL_HOURGLASS104_PARAMS = 191_284_008


def count(module):
    return sum(p.numel() for p in module.parameters())


def small_hourglass(**kwargs):
    cfg = dict(num_stacks=2, downsample_times=2, stage_channels=(16, 16, 24),
               stage_blocks=(1, 1, 2), feat_channels=8, stem_channels=8)
    cfg.update(kwargs)
    return HourglassNet(**cfg)


def test_returns_one_stride4_map_per_stack():
    model = small_hourglass()
    feats = model(torch.randn(2, 3, 64, 64))
    assert isinstance(feats, tuple)
    assert [tuple(f.shape) for f in feats] == [(2, 8, 16, 16)] * 2
    assert model.out_channels == (8, 8)


def test_both_stacks_receive_gradients_and_every_parameter_is_used():
    torch.manual_seed(0)
    model = small_hourglass()
    first, last = model(torch.randn(1, 3, 64, 64))
    # The last stack's loss reaches the first hourglass through cnvs_.
    last.square().mean().backward(retain_graph=True)
    assert model.kps[0].up1[0].conv1.weight.grad.abs().sum() > 0
    assert model.cnvs[0].conv.weight.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)
    # The first stack's loss stops before the second stack.
    first.square().mean().backward(retain_graph=True)
    assert model.pre[0].conv.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.kps[1].parameters())
    model.zero_grad(set_to_none=True)
    # Supervising both (as CenterNet trains) touches every parameter (DDP).
    (first.square().mean() + last.square().mean()).backward()
    unused = [name for name, p in model.named_parameters()
              if p.grad is None or p.grad.abs().sum() == 0]
    assert unused == []


def test_single_stack_has_no_merge_layers():
    model = small_hourglass(num_stacks=1)
    feats = model(torch.randn(1, 3, 64, 64))
    assert len(feats) == 1
    assert len(model.inters) == len(model.inters_) == len(model.cnvs_) == 0


def test_input_not_divisible_by_the_hourglass_stride_is_named():
    model = small_hourglass()  # 4 * 2 ** 2 = 16
    with pytest.raises(ValueError, match='divisible by 16'):
        model(torch.randn(1, 3, 64, 72))


def test_stage_lists_must_match_downsample_times():
    with pytest.raises(ValueError, match='stage_blocks needs .* 3 entries'):
        HourglassNet(downsample_times=2, stage_channels=(16, 16, 24),
                     stage_blocks=(1, 1))


def test_hourglass104_with_center_head_matches_original_parameter_count():
    backbone = MODELS.build(dict(type='HourglassNet'))
    head = CenterHead(num_classes=80, in_channels=256, feat_channels=256,
                      num_stacks=2)
    assert count(backbone) == 187_700_352
    assert count(head) == 3_583_656
    assert count(backbone) + count(head) == ORIGINAL_HOURGLASS104_PARAMS


def test_hourglass104_keeps_the_original_parameter_names():
    # So that the original's ExtremeNet / CenterNet checkpoints load as is.
    names = dict(HourglassNet().named_parameters())
    for name in ('pre.0.conv.weight', 'pre.1.skip.0.weight',
                 'kps.1.low2.low2.low2.low2.low2.3.conv2.weight',
                 'kps.0.low1.0.skip.1.bias', 'kps.0.low3.1.conv1.weight',
                 'cnvs.1.bn.weight', 'inters.0.conv1.weight',
                 'inters_.0.1.weight', 'cnvs_.0.0.weight'):
        assert name in names, name
