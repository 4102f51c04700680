import pytest

from cnet.registry import MODELS


def test_lazy_location_builds_without_manual_import():
    model = MODELS.build(dict(type='ResNet', depth=18))
    assert type(model).__name__ == 'ResNet'


def test_unknown_type_names_registry_key_and_close_matches():
    with pytest.raises(KeyError) as info:
        MODELS.build(dict(type='ResNte', depth=18))
    message = str(info.value)
    assert "'ResNte'" in message
    assert 'cnet::model' in message
    assert 'ResNet' in message


def test_contains_stays_a_boolean_for_unknown_keys():
    assert 'ResNet' in MODELS
    assert 'NoSuchModel' not in MODELS
