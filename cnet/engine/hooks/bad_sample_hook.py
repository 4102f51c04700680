"""Report the bad training samples the dataset skipped: one warning per
file, and a count per epoch.

A dataset built with ``skip_bad_samples`` (``CocoDataset`` and its
subclasses, the default in training) replaces a missing, undecodable or
unusable sample by another and attaches what it skipped to the next good
sample's ``metainfo['skipped_bad_samples']``. That list rides with the batch
out of the dataloader's worker processes, so this hook, in the main process,
sees every skip exactly once however many workers there are, persistent or
not. In distributed training each rank warns for its own batches and the
epoch count is summed over the ranks.
"""
import logging
from typing import List, Optional, Sequence, Set

from mmengine.dist import all_gather_object, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log

from cnet.datasets.coco import SKIPPED_SAMPLES_KEY
from cnet.registry import HOOKS


def skipped_samples(data_batch: Optional[dict]) -> List[dict]:
    """The bad samples recorded in a collated batch's ``data_samples``."""
    if not isinstance(data_batch, dict):
        return []
    samples = data_batch.get('data_samples')
    if not isinstance(samples, Sequence):
        return []
    skipped = []
    for sample in samples:
        skipped.extend(getattr(sample, 'metainfo', {}).get(
            SKIPPED_SAMPLES_KEY, ()))
    return skipped


@HOOKS.register_module()
class BadSampleHook(Hook):
    """Warn once per bad training file; log how many were skipped.

    The warning names the file, the image id and the error; at the end of
    each epoch one line gives the epoch's count of skipped samples (summed
    over ranks) and the number of distinct bad files seen so far.
    """

    priority = 'NORMAL'

    def __init__(self) -> None:
        self.seen_files: Set[str] = set()
        self.epoch_skips: List[str] = []
        self.total_skips = 0

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        for record in skipped_samples(data_batch):
            path = str(record.get('img_path'))
            self.epoch_skips.append(path)
            if path not in self.seen_files:
                self.seen_files.add(path)
                print_log(f'skipped bad sample {path} (img_id '
                          f'{record.get("img_id")}): {record.get("error")}',
                          logger='current', level=logging.WARNING)

    def after_train_epoch(self, runner) -> None:
        skips = self.epoch_skips
        files = self.seen_files
        if get_world_size() > 1:
            gathered = all_gather_object((skips, sorted(files)))
            skips = [path for rank_skips, _ in gathered for path in rank_skips]
            files = {path for _, rank_files in gathered for path in rank_files}
        self.total_skips += len(skips)
        if skips or self.total_skips:
            print_log(f'epoch {runner.epoch + 1}: skipped {len(skips)} bad '
                      f'samples; {len(files)} distinct bad files and '
                      f'{self.total_skips} skips so far', logger='current',
                      level=logging.WARNING)
        self.epoch_skips = []
