import os

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub

import cnet  # noqa: F401  (registers the allow-list on import)
from cnet.engine import checkpoint_safe_globals


def test_message_hub_state_loads_with_weights_only(tmp_path):
    hub = MessageHub.get_instance('test_safe_globals')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', np.float32(0.5))
    hub.update_info('best_score', np.float64(0.42))
    checkpoint = dict(
        meta=dict(epoch=3, iter=30, seed=np.int64(7)),
        message_hub=hub.state_dict(),
        state_dict={'w': torch.ones(2)})
    path = tmp_path / 'epoch_3.pth'
    torch.save(checkpoint, path)

    loaded = torch.load(path, weights_only=True)
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert buffer.mean() == pytest.approx(1.0)
    assert loaded['message_hub']['runtime_info']['best_score'] == 0.42
    assert loaded['meta']['seed'] == 7


class _RunsCode:

    def __reduce__(self):
        return (os.system, ('echo pwned', ))


def test_a_pickle_that_runs_code_is_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': _RunsCode()}, path)
    with pytest.raises(
            Exception, match='(?i)weights[_ ]only|unsupported global'):
        torch.load(path, weights_only=True)


def test_allow_list_is_narrow():
    names = {getattr(g, '__name__', str(g)) for g in checkpoint_safe_globals()}
    assert 'HistoryBuffer' in names
    assert 'system' not in names and 'eval' not in names
