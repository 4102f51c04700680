"""The head contract: strict train_cfg / test_cfg, subclasses that override
only hooks, one decode, guarded targets."""
import inspect
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from cnet.engine.runner_setup import build_runner, setup_train_config
from cnet.models.coders import CenterNetBBoxCoder
from cnet.models.heads import (
    CenterHead,
    CenterPoseHead,
    CenterTrackHead,
    Mono3DCenterHead,
)
from cnet.models.utils import topk, topk_peaks
from cnet.registry import MODELS
from cnet.utils import register_all_modules

from shapes_setup import ROOT, SHAPES_CONFIG

# The flow CenterHead owns; a subclass never replaces it wholesale.
OWNED = ('loss', 'get_targets', 'loss_by_feat', 'predict', 'predict_by_feat',
         'decode', 'to_original_pixels', 'forward')


@pytest.mark.parametrize('head_class', [CenterPoseHead, Mono3DCenterHead,
                                        CenterTrackHead])
def test_pose_3d_and_tracking_heads_override_only_hooks(head_class):
    overridden = {name for name, value in vars(head_class).items()
                  if callable(value) or isinstance(value, property)}
    assert not overridden & set(OWNED), overridden & set(OWNED)
    hooks = {name for name in overridden if not name.startswith('__')}
    documented = inspect.getmodule(CenterHead).__doc__
    for hook in hooks - {'instance_keys'}:
        assert f':meth:`{hook}`' in documented, hook


@pytest.mark.parametrize('part, key, closest', [
    ('test_cfg', 'top_k', 'topk'),
    ('test_cfg', 'max_per_image', 'max_per_img'),
    ('train_cfg', 'min_overlp', 'min_overlap'),
])
def test_an_unknown_head_key_fails_naming_it_and_the_closest(part, key,
                                                            closest):
    with pytest.raises(KeyError, match=rf"CenterHead: {part} has no key "
                       rf"'{key}'; did you mean '{closest}'"):
        CenterHead(num_classes=2, in_channels=4, **{part: {key: 5}})


def test_the_pose_head_accepts_its_own_keys_and_refuses_a_misspelt_one():
    head = CenterPoseHead(in_channels=4, test_cfg=dict(joint_score_thr=0.4),
                          train_cfg=dict(dense_hp=True))
    assert head.test_cfg['joint_score_thr'] == 0.4
    assert head.train_cfg['dense_hp'] and head.train_cfg['min_overlap'] == 0.7
    with pytest.raises(KeyError, match="'joint_score_thr'"):
        CenterPoseHead(in_channels=4, test_cfg=dict(joint_score_th=0.4))
    # The base head does not know the pose keys.
    with pytest.raises(KeyError, match="CenterHead: test_cfg has no key "
                       "'joint_score_thr'"):
        CenterHead(num_classes=1, in_channels=4,
                   test_cfg=dict(joint_score_thr=0.4))


def test_a_typo_in_a_config_file_fails_when_the_model_is_built(tmp_path):
    config = tmp_path / 'typo.py'
    config.write_text(f'_base_ = {SHAPES_CONFIG!r}\n'
                      'model = dict(test_cfg=dict(top_k=5))\n')
    register_all_modules()
    cfg = Config.fromfile(str(config))
    with pytest.raises(KeyError, match=r"has no key 'top_k'; did you mean "
                       r"'topk'"):
        MODELS.build(cfg.model)
    # The head's own train_cfg is checked too.
    cfg = Config.fromfile(SHAPES_CONFIG)
    cfg.model.bbox_head.train_cfg = dict(min_overlp=0.3)
    with pytest.raises(KeyError, match="'min_overlp'; did you mean "
                       "'min_overlap'"):
        MODELS.build(cfg.model)


def test_a_typo_through_cfg_options_fails_before_training(tmp_path):
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path),
                             cfg_options={'model.test_cfg.top_k': 5})
    with pytest.raises(KeyError, match="'top_k'; did you mean 'topk'"):
        build_runner(cfg)
    assert not any(name.endswith('.pth') for name in
                   (osp.basename(p) for p in tmp_path.rglob('*')))


def test_num_classes_must_be_a_positive_integer():
    for bad in ('abc', 0, -2, 2.5, True):
        with pytest.raises(ValueError, match=r'num_classes must be a '
                           r'positive integer, got'):
            CenterHead(num_classes=bad, in_channels=4)


def box_sample(bboxes, labels):
    return InstanceData(bboxes=torch.tensor(bboxes, dtype=torch.float32),
                        labels=torch.tensor(labels))


@pytest.mark.parametrize('label', [-1, 3])
def test_a_label_outside_the_classes_is_refused_not_drawn_elsewhere(label):
    head = CenterHead(num_classes=3, in_channels=4)
    first = box_sample([[4., 4., 20., 20.]], [label])
    second = box_sample([[8., 8., 24., 24.]], [0])
    with pytest.raises(RuntimeError, match=r'outside 0\.\.2 '
                       r'\(num_classes=3\)'):
        head.get_targets([first, second], None, (2, 3, 16, 16))


def test_a_nan_box_is_masked_to_exact_zeros_and_the_loss_stays_finite():
    head = CenterHead(num_classes=2, in_channels=4)
    gt = box_sample([[4., 4., 20., 20.], [float('nan'), 8., 30., 30.]],
                    [0, 1])
    targets = head.get_targets([gt], None, (1, 2, 16, 16))
    assert targets['mask'].tolist() == [[1., 0.]]
    for key in ('wh_target', 'offset_target'):
        assert torch.isfinite(targets[key]).all(), key
        assert targets[key][0, 1].tolist() == [0., 0.]
    outputs = head(torch.randn(1, 4, 16, 16))
    losses = head.loss_by_feat(outputs, targets)
    assert all(torch.isfinite(v) for v in losses.values()), losses


def test_decoded_cells_stay_integers_on_a_wide_bf16_map():
    """bf16 holds 257 as 256: indices must not take the score dtype."""
    heatmap = torch.zeros(1, 1, 4, 300, dtype=torch.bfloat16)
    heatmap[0, 0, 2, 257] = 0.9
    scores, inds, labels, ys, xs = topk(heatmap, k=1)
    assert xs.dtype == ys.dtype == torch.int64
    assert (xs.item(), ys.item()) == (257, 2)
    scores, inds, labels, ys, xs = topk_peaks(heatmap, k=1)
    assert (xs.item(), ys.item()) == (257, 2)
    wh = torch.zeros(1, 2, 4, 300)
    offset = torch.zeros(1, 2, 4, 300)
    peaks = CenterNetBBoxCoder(stride=4).decode(heatmap, wh, offset, topk=1)
    assert peaks.cells.tolist() == [[[257, 2]]]
    assert peaks.bboxes[0, 0, 0].item() == 257 * 4


def test_the_box_formula_is_written_once():
    """``centers ± wh / 2`` lives in the coder alone."""
    import subprocess
    found = subprocess.run(
        ['grep', '-rn', '--include=*.py', '-E',
         r'centers? [-+] half|half = .*wh', 'cnet'],
        cwd=ROOT, capture_output=True, text=True).stdout.splitlines()
    assert len(found) == 2, found     # half = wh_at / 2, then centers ± half
    assert all('coders/centernet_bbox_coder.py' in line for line in found)
