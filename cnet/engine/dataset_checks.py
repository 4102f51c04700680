"""Checks of the built datasets against the model, run before the first
iteration of training, validation or testing.

A dataset whose classes outnumber the head's ``num_classes`` would give
labels that draw into the next image's heatmap planes (the head refuses
them too, but only once a batch reaches it); one with fewer classes trains
planes that no label ever reaches. Both are refused when the runner starts,
naming the config keys.
"""
from typing import Any, Iterator, Optional, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

# Runner attribute of each loop, and the config key of its dataloader.
LOOPS = (('_train_loop', 'train_dataloader'), ('_val_loop', 'val_dataloader'),
         ('_test_loop', 'test_dataloader'))


def _innermost(dataset: Any) -> Any:
    """The dataset inside mmengine's wrappers (ClassBalancedDataset,
    RepeatDataset, ConcatDataset's first)."""
    while True:
        if hasattr(dataset, 'datasets') and len(dataset.datasets):
            dataset = dataset.datasets[0]
        elif hasattr(dataset, 'dataset'):
            dataset = dataset.dataset
        else:
            return dataset


def dataset_num_classes(dataset: Any) -> Optional[int]:
    """How many labels a dataset can produce: the length of its metainfo
    ``classes`` (a COCO set's labels index ``cat_ids``, one per class);
    ``None`` when it does not say."""
    metainfo = getattr(dataset, 'metainfo', None) or {}
    classes = metainfo.get('classes')
    return None if classes is None else len(classes)


def check_classes_match_head(dataset: Any, head: Any, dataset_key: str,
                             config_name: str = 'the config') -> None:
    """Refuse a dataset whose number of classes is not the head's.

    Args:
        dataset: a built dataset (``metainfo['classes']``).
        head: the model's head (``num_classes``).
        dataset_key: the config key of the dataset, for the message
            (``train_dataloader.dataset``).
        config_name: the config file, for the message.

    Raises:
        ValueError: naming the config, both keys and both numbers.
    """
    num_classes = getattr(head, 'num_classes', None)
    dataset_classes = dataset_num_classes(dataset)
    if num_classes is None or dataset_classes is None \
            or dataset_classes == num_classes:
        return
    inner = _innermost(dataset)
    source = getattr(inner, 'ann_file', '') or ''
    source = f' ({type(inner).__name__}, ann_file {source!r})' if source \
        else f' ({type(inner).__name__})'
    names = tuple(dataset.metainfo['classes'])
    shown = names if len(names) <= 10 else names[:10] + ('...', )
    if dataset_classes > num_classes:
        effect = (f'labels {num_classes}..{dataset_classes - 1} would draw '
                  "into the next image's heatmap planes")
    else:
        effect = (f'heatmap planes {dataset_classes}..{num_classes - 1} '
                  'would never get a label')
    raise ValueError(
        f'{config_name}: {dataset_key}{source} has {dataset_classes} '
        f"classes (metainfo 'classes' {shown}) but "
        f'model.bbox_head.num_classes is {num_classes}: {effect}. Set '
        f'model.bbox_head.num_classes={dataset_classes}, or '
        f"{dataset_key}.metainfo=dict(classes=...) to the classes wanted")


def built_datasets(runner: Any) -> Iterator[Tuple[str, Any]]:
    """``(config key, dataset)`` of each loop the runner has built."""
    for attribute, key in LOOPS:
        loop = getattr(runner, attribute, None)
        loader = getattr(loop, 'dataloader', None)
        dataset = getattr(loader, 'dataset', None)
        if dataset is not None:
            yield f'{key}.dataset', dataset


class DatasetCheckHook(Hook):
    """Runs :func:`check_classes_match_head` on every built dataset at
    ``before_run``: after the runner has built its loops (and datasets),
    before weights are loaded and before any iteration."""

    priority = 'VERY_HIGH'

    def __init__(self, config_name: str = 'the config') -> None:
        self.config_name = config_name

    def before_run(self, runner: Any) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        while hasattr(model, 'module'):  # the TTA wrapper
            model = model.module
        head = getattr(model, 'bbox_head', None)
        if head is None:
            return
        for key, dataset in built_datasets(runner):
            check_classes_match_head(dataset, head, key, self.config_name)
