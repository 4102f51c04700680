import pytest
from mmengine.config import Config

from cnet.utils import check_cfg_options


def make_cfg() -> Config:
    return Config(dict(
        model=dict(type='CenterNet', backbone=dict(type='ResNet', depth=18)),
        train_dataloader=dict(batch_size=2),
        param_scheduler=[dict(type='MultiStepLR', milestones=[9])]))


def test_existing_paths_and_new_leaves_pass():
    check_cfg_options(make_cfg(), {
        'model.backbone.depth': 50,
        'model.backbone.frozen_stages': 1,  # a new constructor argument
        'param_scheduler.0.milestones': [5],
    }, 'x.py')


def test_typo_in_a_parent_names_the_config_the_option_and_a_fix():
    with pytest.raises(KeyError) as info:
        check_cfg_options(make_cfg(), {'model.backbon.depth': 50}, 'x.py')
    message = str(info.value)
    assert 'x.py' in message and 'model.backbon' in message
    assert 'backbone' in message


def test_unknown_top_level_key_is_refused():
    with pytest.raises(KeyError, match='train_dataloder'):
        check_cfg_options(make_cfg(), {'train_dataloder': 1}, 'x.py')


def test_list_index_out_of_range_is_refused():
    with pytest.raises(KeyError, match='out of range'):
        check_cfg_options(make_cfg(), {'param_scheduler.3.gamma': 0.5},
                          'x.py')


def test_runner_keys_absent_from_the_config_are_accepted():
    check_cfg_options(make_cfg(), {'randomness.seed': 0}, 'x.py')
