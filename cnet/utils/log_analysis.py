"""Curves and training time from mmengine's scalar logs.

What ``tools/analyze_logs.py`` runs, as MMDetection's tool of that name. A
cnet run writes its scalars, one JSON dict per line, to
``<work_dir>/<timestamp>/vis_data/<timestamp>.json`` (the
``LoggerHook``'s file; ``LocalVisBackend`` writes the same lines to
``vis_data/scalars.json``). A training line holds ``epoch``, ``iter`` (the
global iteration, also its ``step``) and the losses, ``lr`` and ``time``; a
validation line holds the metrics (``coco/bbox_mAP``, ...) and its ``step``,
the epoch (or the iteration of an iteration-based schedule).
"""
import json
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np


def load_scalar_log(path: str) -> Dict[str, List[dict]]:
    """Read one scalar log.

    Args:
        path: a ``<timestamp>.json`` or ``scalars.json`` file.

    Returns:
        ``{'train': [...], 'val': [...]}``, the lines in file order; a line
        with ``iter`` is a training line, any other a validation line.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a line is not a JSON dict (the line number is named).
    """
    log: Dict[str, List[dict]] = dict(train=[], val=[])
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path}:{number}: not a JSON line: '
                                 f'{e}') from e
            if not isinstance(entry, dict):
                raise ValueError(f'{path}:{number}: expected a JSON dict, '
                                 f'got {type(entry).__name__}')
            log['train' if 'iter' in entry else 'val'].append(entry)
    return log


def curve(log: Dict[str, List[dict]], key: str,
          path: str = '<log>') -> Dict[str, np.ndarray]:
    """The values of ``key`` and their steps (iterations for training keys,
    the validation ``step`` for metrics).

    Returns:
        ``dict(x=(N,), y=(N,), xlabel=str)``.

    Raises:
        KeyError: no line of the log has ``key``; the keys it has are named.
    """
    for split, xkey, xlabel in (('train', 'iter', 'iter'),
                                ('val', 'step', 'step (epoch)')):
        entries = [e for e in log[split] if key in e]
        if entries:
            return dict(x=np.array([e[xkey] for e in entries]),
                        y=np.array([e[key] for e in entries], dtype=float),
                        xlabel=xlabel)
    known = sorted({k for entries in log.values() for e in entries
                    for k in e})
    raise KeyError(f'{path}: no line has the key {key!r}; its keys are '
                   f'{known}')


def training_seconds(log: Dict[str, List[dict]]) -> np.ndarray:
    """(N,) training seconds elapsed at each validation of ``log``.

    Each training line's ``time`` is the mean seconds per iteration of the
    iterations since the line before it, so the elapsed time is the sum of
    ``time × iterations``; a validation at epoch e counts the training up
    to e's last line (validation itself excluded).
    """
    elapsed, last_iter = 0.0, 0
    at_epoch: Dict[int, float] = {}
    for entry in log['train']:
        if 'time' in entry:
            elapsed += entry['time'] * (entry['iter'] - last_iter)
            last_iter = entry['iter']
        at_epoch[entry.get('epoch', 0)] = elapsed
    steps = [entry['step'] for entry in log['val']]
    return np.array([max((seconds for epoch, seconds in at_epoch.items()
                          if epoch <= step), default=0.0)
                     for step in steps])


def plot_curve(log_paths: Sequence[str], keys: Sequence[str],
               legend: Optional[Sequence[str]] = None,
               title: Optional[str] = None, out: Optional[str] = None,
               x: str = 'step'):
    """Plot ``keys`` of every log, one subplot per key, one line per run.

    Args:
        log_paths: scalar logs (see :func:`load_scalar_log`).
        keys: e.g. ``['loss', 'coco/bbox_mAP']``.
        legend: one name per log (default: the log's path).
        title: the figure's title.
        out: save the figure here (PNG, PDF, ... by the suffix).
        x: ``'step'`` (iterations, or epochs for metrics) or ``'time'``
            (metrics against the training seconds elapsed,
            :func:`training_seconds`).

    Returns:
        the matplotlib ``Figure`` (the Agg backend; nothing is shown).

    Raises:
        ValueError: ``legend`` does not give one name per log.
        KeyError: a log lacks a key.
    """
    if x not in ('step', 'time'):
        raise ValueError(f"analyze_logs: x must be 'step' or 'time', got "
                         f'{x!r}')
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    legend = list(log_paths) if legend is None else list(legend)
    if len(legend) != len(log_paths):
        raise ValueError(f'analyze_logs: {len(legend)} legend names for '
                         f'{len(log_paths)} logs; give one per log')
    logs = [load_scalar_log(path) for path in log_paths]
    figure, axes = plt.subplots(len(keys), 1, squeeze=False,
                                figsize=(8, 3.5 * len(keys)))
    for ax, key in zip(axes[:, 0], keys):
        for path, log, name in zip(log_paths, logs, legend):
            values = curve(log, key, path)
            if x == 'time':
                if values['xlabel'] == 'iter':
                    raise ValueError(f"analyze_logs: x='time' plots metrics "
                                     f'(validation keys); {key!r} is a '
                                     f'training key')
                values = dict(x=training_seconds(log) / 60, y=values['y'],
                              xlabel='training time (min)')
            ax.plot(values['x'], values['y'], label=name,
                    marker='o' if len(values['x']) < 20 else None)
            ax.set_xlabel(values['xlabel'])
        ax.set_ylabel(key)
        ax.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if out:
        figure.savefig(out)
    plt.close(figure)
    return figure


def train_time(log_path: str,
               include_outliers: bool = False) -> Dict[str, float]:
    """Seconds per training iteration, per epoch and overall.

    Args:
        log_path: a scalar log.
        include_outliers: keep each epoch's first logged ``time``, which
            includes the data loader's start (dropped by default, as
            MMDetection's ``cal_train_time``).

    Returns:
        ``epoch_times`` (epoch → mean seconds per iteration), ``slowest`` and
        ``fastest`` (epochs), ``std`` (of the epoch means) and ``average``
        (seconds per iteration over all kept lines).

    Raises:
        ValueError: the log has no training line with ``time``.
    """
    per_epoch: Dict[int, List[float]] = defaultdict(list)
    for entry in load_scalar_log(log_path)['train']:
        if 'time' in entry:
            per_epoch[entry.get('epoch', 0)].append(entry['time'])
    if not include_outliers:
        per_epoch = {e: t[1:] if len(t) > 1 else t
                     for e, t in per_epoch.items()}
    if not per_epoch:
        raise ValueError(f'{log_path}: no training line with a time')
    epoch_times = {e: float(np.mean(t)) for e, t in per_epoch.items()}
    means = np.array(list(epoch_times.values()))
    return dict(
        epoch_times=epoch_times,
        slowest=max(epoch_times, key=epoch_times.get),
        fastest=min(epoch_times, key=epoch_times.get),
        std=float(means.std()),
        average=float(np.mean([t for ts in per_epoch.values()
                               for t in ts])))
