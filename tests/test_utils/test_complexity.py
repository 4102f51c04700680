"""FLOPs and parameters of the shapes config's network."""
import pytest
from mmengine.config import Config

from cnet.utils.complexity import model_complexity

from shapes_setup import SHAPES_CONFIG


def test_flops_double_with_the_input_area_and_params_do_not_change():
    cfg = Config.fromfile(SHAPES_CONFIG)
    square = model_complexity(cfg, (64, 64), show_table=False)
    wide = model_complexity(cfg, (64, 128), show_table=False)
    assert square['flops'] > 0 and square['params'] > 0
    assert wide['flops'] / square['flops'] == pytest.approx(2, rel=0.1)
    assert wide['params'] == square['params']
    assert square['input_shape'] == (1, 3, 64, 64)
    # One value, as `tools/get_flops.py --shape 64` passes it: a square.
    assert model_complexity(cfg, [64], show_table=False) == square


def test_table_names_the_backbone_and_head():
    info = model_complexity(Config.fromfile(SHAPES_CONFIG), 64)
    rows = [line.split('|')[1].strip()
            for line in info['out_table'].splitlines() if '|' in line]
    assert {'detector', 'backbone', 'neck'} <= set(rows)
    # mmengine folds a module with one child into that child's row.
    assert 'bbox_head.branches' in rows


def test_bad_shape_is_named():
    with pytest.raises(ValueError, match=r'shape.*\(64, 64, 3\)'):
        model_complexity(Config.fromfile(SHAPES_CONFIG), (64, 64, 3))
