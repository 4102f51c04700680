import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.structures import InstanceData

import cnet.engine.optim_wrapper as optim_wrapper_module
from cnet.engine import (
    AutocastOptimWrapper,
    GuardedOptimWrapper,
    NonFiniteLossError,
)
from cnet.engine.optim_wrapper import TRAIN_BATCH_INFO

from shapes_setup import SHAPES_CONFIG


def test_forward_runs_in_bf16_and_the_step_updates_float32_weights():
    model = nn.Conv2d(3, 4, 3)
    # Explicit bf16 (on a CPU without native bf16 it warns, see
    # test_precision.py); the default 'auto' may pick float32.
    wrapper = AutocastOptimWrapper(torch.optim.SGD(model.parameters(), 0.1),
                                   dtype='bfloat16')
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        out = model(torch.randn(2, 3, 8, 8))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().square().mean())
    assert model.weight.dtype == torch.float32
    assert not torch.equal(before, model.weight)


def test_unknown_dtype_is_named():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="'float8'"):
        AutocastOptimWrapper(torch.optim.SGD(model.parameters(), 0.1),
                             dtype='float8')


def linear_and_wrapper(**kwargs):
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    wrapper = GuardedOptimWrapper(torch.optim.SGD(model.parameters(), 0.1),
                                  **kwargs)
    return model, wrapper


def record_batch(iteration, img_ids):
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', iteration)
    hub.update_info('epoch', 0)
    hub.update_info(TRAIN_BATCH_INFO, dict(
        img_ids=img_ids, img_paths=[f'img/{i}.jpg' for i in img_ids]))


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_nonfinite_loss_skips_the_step_and_names_iteration_and_images(
        bad, monkeypatch):
    messages = []
    monkeypatch.setattr(optim_wrapper_module, 'print_log',
                        lambda msg, **kwargs: messages.append(msg))
    model, wrapper = linear_and_wrapper()
    record_batch(17, [4, 9])
    before = [p.detach().clone() for p in model.parameters()]
    loss = model(torch.ones(2, 3)).sum() * bad
    wrapper.update_params(loss)
    assert all(torch.equal(b, p) for b, p in zip(before, model.parameters()))
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    assert wrapper.num_skipped_steps == 1
    assert len(messages) == 1
    assert 'iteration 17' in messages[0] and '[4, 9]' in messages[0]
    assert 'img/9.jpg' in messages[0] and 'step skipped' in messages[0]
    # The next finite loss updates again.
    wrapper.update_params(model(torch.ones(2, 3)).sum())
    assert not torch.equal(before[0], model.weight)


def test_nonfinite_loss_raises_when_configured():
    model, wrapper = linear_and_wrapper(nonfinite_loss='raise')
    record_batch(3, [11])
    with pytest.raises(NonFiniteLossError,
                       match=r'iteration 3 .*img_ids \[11\]'):
        wrapper.update_params(model(torch.ones(1, 3)).sum() * float('nan'))


def test_too_many_nonfinite_steps_in_a_row_stop_the_run():
    model, wrapper = linear_and_wrapper(max_consecutive_nonfinite=2)
    record_batch(0, [1])
    for _ in range(2):
        wrapper.update_params(model(torch.ones(1, 3)).sum() * float('nan'))
    with pytest.raises(NonFiniteLossError, match='3 steps in a row'):
        wrapper.update_params(model(torch.ones(1, 3)).sum() * float('nan'))


def test_unknown_nonfinite_action_is_named():
    with pytest.raises(ValueError, match="'ignore'"):
        linear_and_wrapper(nonfinite_loss='ignore')


def test_autocast_wrapper_clips_the_gradient_norm():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    wrapper = AutocastOptimWrapper(torch.optim.SGD(model.parameters(), 1.0),
                                   clip_grad=dict(max_norm=0.5))
    before = [p.detach().clone() for p in model.parameters()]
    with wrapper.optim_context(model):
        loss = model(torch.full((4, 3), 100.)).float().sum()
    wrapper.update_params(loss)
    # SGD with lr 1: the update is the clipped gradient, norm 0.5.
    step = torch.cat([(b - p.detach()).flatten()
                      for b, p in zip(before, model.parameters())])
    assert step.norm().item() == pytest.approx(0.5, rel=1e-3)
    grad_norm = MessageHub.get_current_instance().get_scalar(
        'train/grad_norm').current()
    assert grad_norm > 100


def test_centernet_train_step_reports_the_batch_of_a_nonfinite_loss(
        monkeypatch):
    """The detector records its batch's img_id/img_path for the wrapper."""
    from mmengine.config import Config

    from cnet.registry import MODELS
    from cnet.structures import DetDataSample
    from cnet.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(SHAPES_CONFIG)
    model = MODELS.build(cfg.model)
    wrapper = AutocastOptimWrapper(torch.optim.SGD(model.parameters(), 0.1),
                                   nonfinite_loss='raise')
    monkeypatch.setattr(model.bbox_head, 'loss_by_feat', lambda *args: dict(
        loss_center_heatmap=torch.tensor(float('nan'), requires_grad=True)))
    samples = []
    for img_id in (5, 8):
        sample = DetDataSample(metainfo=dict(img_id=img_id,
                                             img_path=f'x/{img_id}.jpg'))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[4., 4., 20., 20.]]),
            labels=torch.tensor([1]))
        samples.append(sample)
    data = dict(inputs=[torch.zeros(3, 32, 32, dtype=torch.uint8)] * 2,
                data_samples=samples)
    MessageHub.get_current_instance().update_info('iter', 42)
    with pytest.raises(NonFiniteLossError,
                       match=r'iteration 42 .*\[5, 8\].*x/8.jpg'):
        model.train_step(data, wrapper)
