"""Scalar logs: reading, curves with run names, training time."""
import json
import os.path as osp

import pytest

from cnet.utils.log_analysis import (
    curve,
    load_scalar_log,
    plot_curve,
    train_time,
)


def write_log(path, losses, times, maps) -> str:
    """Two epochs of len(losses) // 2 iterations, a validation per epoch."""
    per_epoch = len(losses) // 2
    lines = []
    for i, (loss, time) in enumerate(zip(losses, times)):
        epoch = i // per_epoch + 1
        lines.append(dict(lr=0.01, loss=loss, time=time, epoch=epoch,
                          iter=i + 1, step=i + 1))
        if (i + 1) % per_epoch == 0:
            lines.append({'coco/bbox_mAP': maps[epoch - 1], 'step': epoch})
    with open(path, 'w') as f:
        f.write('\n'.join(json.dumps(line) for line in lines) + '\n')
    return str(path)


@pytest.fixture
def two_logs(tmp_path):
    return [
        write_log(tmp_path / 'a.json', [4.0, 3.0, 2.0, 1.0],
                  [0.9, 0.1, 0.3, 0.2], [0.1, 0.2]),
        write_log(tmp_path / 'b.json', [5.0, 4.0, 3.0, 2.0],
                  [0.5, 0.5, 0.5, 0.5], [0.05, 0.15]),
    ]


def test_training_and_validation_lines_are_told_apart(two_logs):
    log = load_scalar_log(two_logs[0])
    assert len(log['train']) == 4 and len(log['val']) == 2
    loss = curve(log, 'loss')
    assert loss['x'].tolist() == [1, 2, 3, 4]
    assert loss['y'].tolist() == [4.0, 3.0, 2.0, 1.0]
    mAP = curve(log, 'coco/bbox_mAP')
    assert mAP['x'].tolist() == [1, 2] and mAP['y'].tolist() == [0.1, 0.2]


def test_plot_writes_a_png_with_the_run_names_in_each_legend(two_logs,
                                                              tmp_path):
    out = str(tmp_path / 'curves.png')
    figure = plot_curve(two_logs, ['loss', 'coco/bbox_mAP'],
                        legend=['run1', 'run2'], out=out)
    assert osp.getsize(out) > 0
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert len(figure.axes) == 2
    for ax, key in zip(figure.axes, ['loss', 'coco/bbox_mAP']):
        assert ax.get_ylabel() == key
        names = [t.get_text() for t in ax.get_legend().get_texts()]
        assert names == ['run1', 'run2']
        assert len(ax.get_lines()) == 2
    assert figure.axes[0].get_lines()[1].get_ydata().tolist() == [
        5.0, 4.0, 3.0, 2.0]


def test_missing_key_and_wrong_legend_are_named(two_logs):
    with pytest.raises(KeyError, match="'loss_typo'.*'coco/bbox_mAP'"):
        plot_curve(two_logs, ['loss_typo'])
    with pytest.raises(ValueError, match='1 legend names for 2 logs'):
        plot_curve(two_logs, ['loss'], legend=['only'])


def test_train_time_drops_each_epochs_first_iteration(two_logs):
    times = train_time(two_logs[0])
    assert times['epoch_times'] == {1: pytest.approx(0.1),
                                    2: pytest.approx(0.2)}
    assert times['slowest'] == 2 and times['fastest'] == 1
    assert times['std'] == pytest.approx(0.05)
    assert times['average'] == pytest.approx(0.15)
    with_outliers = train_time(two_logs[0], include_outliers=True)
    assert with_outliers['epoch_times'][1] == pytest.approx(0.5)
    assert with_outliers['average'] == pytest.approx(0.375)


def test_bad_line_is_named_with_its_number(tmp_path):
    path = tmp_path / 'broken.json'
    path.write_text('{"loss": 1.0, "iter": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r'broken.json:2'):
        load_scalar_log(str(path))


def test_metrics_against_training_time(tmp_path):
    """Each validation at the training seconds elapsed before it."""
    from cnet.utils.log_analysis import load_scalar_log, training_seconds
    lines = [dict(epoch=1, iter=10, time=0.5, loss=2.0),
             dict(epoch=1, iter=20, time=1.0, loss=1.5),
             {'coco/bbox_mAP': 0.1, 'step': 1},
             dict(epoch=2, iter=30, time=2.0, loss=1.0),
             {'coco/bbox_mAP': 0.3, 'step': 2}]
    path = tmp_path / 'log.json'
    path.write_text('\n'.join(json.dumps(line) for line in lines))
    log = load_scalar_log(str(path))
    assert training_seconds(log).tolist() == [15.0, 35.0]
    out = tmp_path / 'time.png'
    plot_curve([str(path)], ['coco/bbox_mAP'], out=str(out), x='time')
    assert out.stat().st_size > 0
    with pytest.raises(ValueError, match='training key'):
        plot_curve([str(path)], ['loss'], out=str(out), x='time')
