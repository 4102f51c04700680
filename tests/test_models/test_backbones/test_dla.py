import pytest
import torch

from cnet.models.backbones import DLA
from cnet.registry import MODELS

# dla34(pretrained=False) of the original's pose_dla_dcn.py; its ImageNet
# loader attaches a 512 → 1000 1×1 fc (513,000 more) that the network never
# calls and that DLASeg's 19,675,892 does not include.
ORIGINAL_DLA34_PARAMS = 15_270_832


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_count_matches_the_original_dla34_without_fc():
    model = DLA(34)
    assert count(model) == ORIGINAL_DLA34_PARAMS
    assert not any(k.startswith('fc.') for k in model.state_dict())


def test_six_levels_have_strides_1_to_32_and_the_dla34_channels():
    model = MODELS.build(dict(type='DLA', depth=34))
    outs = model(torch.randn(2, 3, 64, 64))
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == [
        (2, 16, 64, 64), (2, 32, 32, 32), (2, 64, 16, 16),
        (2, 128, 8, 8), (2, 256, 4, 4), (2, 512, 2, 2)]
    assert model.out_channels == (16, 32, 64, 128, 256, 512)


def test_out_indices_select_levels():
    model = DLA(out_indices=(2, 5))
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    outs = model(x)
    assert model.out_channels == (64, 512)
    assert [tuple(o.shape) for o in outs] == [(1, 64, 16, 16), (1, 512, 2, 2)]
    all_levels = DLA()
    all_levels.load_state_dict(model.state_dict())
    all_levels.eval()
    full = all_levels(x)
    assert torch.equal(outs[0], full[2]) and torch.equal(outs[1], full[5])


def test_tree_roots_aggregate_the_original_maps():
    shapes = {k: tuple(v.shape) for k, v in DLA().state_dict().items()}
    # level3 (depth 2, level root): the first subtree's root sees its two
    # blocks (2 × 128); the second's sees its two blocks, the first subtree's
    # output and the level's downsampled input (3 × 128 + 64).
    assert shapes['level3.tree1.root.conv.weight'] == (128, 256, 1, 1)
    assert shapes['level3.tree2.root.conv.weight'] == (128, 448, 1, 1)
    assert shapes['level5.root.conv.weight'] == (512, 2 * 512 + 256, 1, 1)
    # level2 is not a level root: its root sees only its two blocks.
    assert shapes['level2.root.conv.weight'] == (64, 128, 1, 1)
    assert shapes['base_layer.0.weight'] == (16, 3, 7, 7)
    assert shapes['level1.0.weight'] == (32, 16, 3, 3)


def test_only_the_original_dead_projections_are_frozen():
    torch.manual_seed(0)
    model = DLA()
    model.train()
    outs = model(torch.randn(1, 3, 64, 64))
    sum(o.sum() for o in outs).backward()
    frozen = {k for k, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {f'level{i}.project.{k}'
                      for i in (3, 4) for k in ('0.weight', '1.weight',
                                                '1.bias')}
    # Every other parameter takes part in the output (DDP needs this).
    assert all(p.grad is not None for p in model.parameters()
               if p.requires_grad)


def test_bad_arguments_name_the_choices():
    with pytest.raises(KeyError, match=r'\[34\]'):
        DLA(60)
    with pytest.raises(ValueError, match=r'out_indices must lie in 0\.\.5'):
        DLA(out_indices=(6, ))
