import pytest
import torch

from cnet.models.backbones import ResNet


def count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('depth,params', [
    (18, 11_176_512),   # torchvision resnet18 without its fc (513,000)
    (101, 42_500_160),  # torchvision resnet101 without its fc (2,049,000)
])
def test_parameter_count_matches_torchvision_trunk(depth, params):
    assert count(ResNet(depth)) == params


def test_stage_outputs_and_strides():
    model = ResNet(18, out_indices=(0, 1, 2, 3))
    outs = model(torch.randn(1, 3, 64, 96))
    assert [o.shape[1] for o in outs] == [64, 128, 256, 512]
    assert [o.shape[-1] for o in outs] == [24, 12, 6, 3]


def test_frozen_stages_stay_frozen_in_train_mode():
    model = ResNet(18, frozen_stages=1)
    model.train()
    assert not any(p.requires_grad for p in model.layer1.parameters())
    assert not model.bn1.training
    assert all(p.requires_grad for p in model.layer2.parameters())


def test_bad_depth_names_the_choices():
    with pytest.raises(KeyError, match='18, 34, 50, 101, 152'):
        ResNet(19)


@pytest.mark.parametrize('depth, last_bn', [(18, 'bn2'), (50, 'bn3')])
def test_zero_init_residual_makes_each_block_start_as_identity(depth,
                                                               last_bn):
    model = ResNet(depth, zero_init_residual=True)
    model.init_weights()
    for stage in (model.layer1, model.layer4):
        for block in stage:
            assert torch.count_nonzero(getattr(block, last_bn).weight) == 0
            assert torch.count_nonzero(block.bn1.weight) > 0
    default = ResNet(depth)
    default.init_weights()
    assert torch.count_nonzero(getattr(default.layer1[0], last_bn).weight) > 0


def test_num_stages_ends_the_trunk_early():
    model = ResNet(18, num_stages=3, out_indices=(0, 1, 2))
    assert not hasattr(model, 'layer4')
    assert model.out_channels == (64, 128, 256)
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[1:] for o in outs] == [(64, 16, 16), (128, 8, 8),
                                           (256, 4, 4)]
    # Every parameter takes part in the output (DDP needs this).
    sum(o.sum() for o in outs).backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError, match=r'out_indices must lie in 0\.\.2'):
        ResNet(18, num_stages=3, out_indices=(3, ))
    with pytest.raises(ValueError, match='num_stages must lie in 1..4'):
        ResNet(18, num_stages=5)


def test_a_narrower_trunk_scales_every_stage():
    trunk = ResNet(depth=18, num_stages=3, out_indices=(0, 1, 2),
                   base_channels=32)
    assert trunk.out_channels == (32, 64, 128)
    outs = trunk(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 32, 16, 16),
                                              (1, 64, 8, 8), (1, 128, 4, 4)]
    with pytest.raises(ValueError, match='base_channels'):
        ResNet(base_channels=0)
