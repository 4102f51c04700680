"""COCO-format detection datasets (COCO itself, or any set in its format)."""
import contextlib
import io
import logging
import os.path as osp
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from pycocotools.coco import COCO

from cnet.fileio.coco_json import (
    IMAGE_FIELDS,
    AnnotationError,
    check_coco_entries,
    load_coco_json,
    repair_box,
    repair_message,
)
from cnet.registry import DATASETS, TRANSFORMS

from .samplers import seeded_sample

# What a dataset treats as a bad sample when skip_bad_samples is on: a
# missing or undecodable image (FileNotFoundError, OSError) or a sample a
# transform refuses (ValueError). Anything else is a bug and propagates.
BAD_SAMPLE_ERRORS = (OSError, ValueError)
# data_samples metainfo key of the bad samples skipped before this one.
SKIPPED_SAMPLES_KEY = 'skipped_bad_samples'


@DATASETS.register_module()
class CocoDataset(BaseDataset):
    """A detection set in COCO's json format, MMDetection style.

    Each item of ``data_list``: ``img_path``, ``img_id``, ``height``,
    ``width`` and ``instances``, each instance with ``bbox`` [x1, y1, x2, y2]
    in original pixels, ``bbox_label`` (0..C−1) and ``ignore_flag`` (1 for
    ``iscrowd`` boxes, which become ignore regions).

    Classes are ``metainfo=dict(classes=(...))`` when the config gives them
    (matched to the file's categories by name, labels in the given order),
    else every category of the file sorted by id. ``cat_ids[label]`` is the
    category id of a label (also in ``metainfo['cat_ids']``, for the metric).
    The file is validated on load (see ``docs/reliability.md``): a
    structural fault (missing key, wrong type, a ``bbox`` that is not 4
    finite numbers, a duplicate id, an ``image_id`` or ``category_id`` that
    names nothing) raises :class:`AnnotationError` naming the file, the
    entry's position and id, and the field. Boxes that are usable after a
    repair are accepted with one warning per file: a box reaching outside
    its image is clipped to it, and one of zero or negative width or height
    (before or after clipping) is dropped. The clipping uses the file's
    ``width``/``height``; where the decoded image turns out to have another
    size, that size wins (``LoadImageFromFile`` warns naming the image and
    both sizes, ``LoadAnnotations`` clips the file's box to the decoded
    image; the instance keeps it as ``unclipped_bbox``). Annotations of
    categories of the file that are not among the classes are skipped.

    A bad sample at training time (missing or undecodable image, or one a
    transform refuses with a ``ValueError``) is skipped: another index is
    drawn, as mmengine does for a ``None`` from the pipeline, and the
    skipped file travels to the main process in the next good sample's
    ``data_samples.metainfo['skipped_bad_samples']``, where
    ``BadSampleHook`` warns once per file and counts them per epoch.

    Args:
        ann_file: the json file, relative to ``data_root``.
        metainfo: ``classes`` to override the file's categories.
        data_root: root of ``ann_file`` and ``data_prefix``.
        data_prefix: ``dict(img='train2017/')``: the images' folder.
        filter_cfg: training filters, ignored in ``test_mode``:
            ``filter_empty_gt`` drops images without a box to learn,
            ``min_size`` drops images whose width or height is smaller.
        indices: keep only these items (or the first ``indices``).
        serialize_data: store ``data_list`` as one numpy buffer (workers
            share it).
        pipeline: the transforms.
        test_mode: evaluation set: every image is kept.
        lazy_init: defer reading ``ann_file`` until first use.
        max_refetch: retries when the pipeline returns None or a bad
            sample is skipped; more in a row is an error.
        skip_bad_samples: skip bad samples instead of raising. ``None``
            (default): skip in training, raise in ``test_mode`` (every test
            image must be evaluated; skipping there is refused).
    """

    METAINFO: dict = dict()
    FILTER_KEYS = ('filter_empty_gt', 'min_size')

    def __init__(self,
                 ann_file: str = '',
                 metainfo: Optional[dict] = None,
                 data_root: str = '',
                 data_prefix: dict = dict(img=''),
                 filter_cfg: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 skip_bad_samples: Optional[bool] = None) -> None:
        if skip_bad_samples is None:
            skip_bad_samples = not test_mode
        if skip_bad_samples and test_mode:
            raise ValueError(f'{type(self).__name__}: skip_bad_samples=True '
                             f'with test_mode=True; a test set must evaluate '
                             f'every image, so a bad one is an error')
        self.skip_bad_samples = bool(skip_bad_samples)
        # Bad samples met in this process since the last good sample.
        self._pending_bad_samples: List[dict] = []
        unknown = set(filter_cfg or {}) - set(self.FILTER_KEYS)
        if unknown:
            raise ValueError(f'{type(self).__name__}: unknown filter_cfg keys '
                             f'{sorted(unknown)}; known: {self.FILTER_KEYS}')
        if 'img' not in data_prefix:
            raise ValueError(f"{type(self).__name__}: data_prefix needs 'img' "
                             f'(the images folder), got {data_prefix}')
        self.cat_ids: List[int] = []
        self.num_dropped_boxes = 0
        self.num_clipped_boxes = 0
        # Built from cnet's registry, so a dataset made outside a Runner
        # (default scope unset) finds cnet's transforms.
        pipeline = [
            TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline
        ]
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            filter_cfg=filter_cfg,
            indices=indices,
            serialize_data=serialize_data,
            pipeline=pipeline,
            test_mode=test_mode,
            lazy_init=lazy_init,
            max_refetch=max_refetch)

    def _select_categories(self, categories: List[dict]) -> List[dict]:
        """The categories of the classes, in label order."""
        path = self.ann_file
        classes = self._metainfo.get('classes')
        if classes is None:
            if not categories:
                raise ValueError(f"{path}: 'categories' is empty and the "
                                 f'config gives no metainfo classes')
            return sorted(categories, key=lambda c: c['id'])
        if isinstance(
                classes,
                str) or not all(isinstance(name, str) for name in classes):
            raise ValueError(f'metainfo classes must be a sequence of names, '
                             f'got {classes!r}')
        by_name: Dict[str, dict] = {}
        for category in categories:
            if category['name'] in by_name:
                raise ValueError(f"{path}: category name "
                                 f"{category['name']!r} is used twice, so "
                                 f'metainfo classes cannot select it')
            by_name[category['name']] = category
        missing = [name for name in classes if name not in by_name]
        if missing:
            raise ValueError(f'metainfo classes {missing} are not categories '
                             f'of {path}; it has {sorted(by_name)}')
        return [by_name[name] for name in classes]

    def load_data_list(self) -> List[dict]:
        path = self.ann_file
        data = self.load_annotation_file(path)
        check_coco_entries(path, data, IMAGE_FIELDS)
        categories = self._select_categories(data['categories'])
        self.cat_ids = [c['id'] for c in categories]
        self._metainfo['classes'] = tuple(c['name'] for c in categories)
        self._metainfo['cat_ids'] = tuple(self.cat_ids)
        cat2label = {
            cat_id: label
            for label, cat_id in enumerate(self.cat_ids)
        }
        ann_ids = {ann['id'] for ann in data['annotations'] if 'id' in ann}
        for index, ann in enumerate(data['annotations']):
            if 'id' not in ann:  # pycocotools indexes by id
                new_id = -1 - index
                while new_id in ann_ids:
                    new_id -= len(data['annotations'])
                ann['id'] = new_id
                ann_ids.add(new_id)

        with contextlib.redirect_stdout(io.StringIO()):  # its progress prints
            coco = COCO()
            coco.dataset = data
            coco.createIndex()

        num_skipped = num_crowd = num_boxes = 0
        clipped: List[Any] = []  # ids of the clipped and dropped boxes
        dropped: List[Any] = []
        data_list = []
        for image in data['images']:
            instances = []
            width, height = image['width'], image['height']
            for ann in coco.imgToAnns[image['id']]:
                label = cat2label.get(ann['category_id'])
                if label is None:
                    num_skipped += 1
                    continue
                x, y, w, h = (float(v) for v in ann['bbox'])
                box = repair_box(ann['bbox'], width, height)
                if box is None:
                    dropped.append(ann['id'])
                    continue
                x1, y1, x2, y2 = box
                # The file's box, for an image whose decoded size differs
                # from the declared one (LoadAnnotations clips it to that).
                unclipped = {}
                if box != (x, y, x + w, y + h):
                    clipped.append(ann['id'])
                    unclipped = dict(unclipped_bbox=[x, y, x + w, y + h])
                crowd = int(bool(ann.get('iscrowd', 0)))
                num_crowd += crowd
                num_boxes += 1
                instances.append(
                    dict(
                        bbox=[x1, y1, x2, y2],
                        bbox_label=label,
                        ignore_flag=crowd,
                        **unclipped,
                        **self.parse_instance_fields(ann)))
            data_list.append(
                dict(
                    img_path=osp.join(self.data_prefix['img'],
                                      image['file_name']),
                    img_id=image['id'],
                    height=height,
                    width=width,
                    instances=instances))
        self.num_dropped_boxes = len(dropped)
        self.num_clipped_boxes = len(clipped)
        print_log(
            f'{path}: {len(data_list)} images, {num_boxes} boxes '
            f'({num_crowd} crowd → ignore regions); skipped {num_skipped} '
            f'annotations of categories outside the {len(self.cat_ids)} '
            f'classes',
            logger='current')
        if clipped or dropped:
            print_log(repair_message(path, clipped, dropped),
                      logger='current', level=logging.WARNING)
        return data_list

    def load_annotation_file(self, path: str) -> dict:
        """The annotation file as a dict of top-level checked COCO lists
        (:func:`load_coco_json`); a subclass checks or normalises the
        fields of its own format here (``CocoVideoDataset``: videos)."""
        return load_coco_json(path)

    def parse_instance_fields(self, ann: dict) -> dict:
        """Extra fields of an instance from its annotation (none here;
        ``CocoKeypointsDataset`` adds the keypoints)."""
        return {}

    def prepare_data(self, idx: int) -> Any:
        """The pipeline's result for ``idx``, or ``None`` for a bad sample
        when ``skip_bad_samples`` (mmengine then draws another index).

        Bad samples skipped since the last good one are attached to the good
        one's metainfo (``skipped_bad_samples``: dicts of ``img_path``,
        ``img_id``, ``error``), which carries them out of dataloader
        workers to ``BadSampleHook`` in the main process.
        """
        if not self.skip_bad_samples:
            return super().prepare_data(idx)
        try:
            data = super().prepare_data(idx)
        except BAD_SAMPLE_ERRORS as error:
            info = self.get_data_info(idx)
            self._pending_bad_samples.append(
                dict(
                    img_path=info.get('img_path'),
                    img_id=info.get('img_id'),
                    error=f'{type(error).__name__}: {error}'))
            print_log(
                f'skipping bad sample {info.get("img_path")}: {error}',
                logger='current',
                level=logging.DEBUG)
            return None
        samples = data.get('data_samples') if isinstance(data, dict) else None
        if self._pending_bad_samples and hasattr(samples, 'set_metainfo'):
            samples.set_metainfo(
                {SKIPPED_SAMPLES_KEY: self._pending_bad_samples})
            self._pending_bad_samples = []
        return data

    def filter_data(self) -> List[dict]:
        """Apply ``filter_cfg`` to training sets; keep every image in test.

        Raises:
            AnnotationError: the file has no image.
            ValueError: ``filter_cfg`` keeps none of the images.
        """
        if not self.data_list:
            raise AnnotationError(
                self.ann_file, 'file', None, None, 'images',
                'is empty: a dataset needs at least one image')
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        filter_empty = self.filter_cfg.get('filter_empty_gt', False)
        min_size = self.filter_cfg.get('min_size', 0)
        kept = [
            info for info in self.data_list
            if min(info['width'], info['height']) >= min_size and (
                not filter_empty or any(not inst['ignore_flag']
                                        for inst in info['instances']))
        ]
        if not kept:
            raise ValueError(
                f'{self.ann_file}: filter_cfg {self.filter_cfg} keeps none '
                f'of its {len(self.data_list)} images (none has a box of the '
                f"classes {self.metainfo['classes']} left after the "
                f'annotation checks, or all are smaller than min_size): '
                f'there is nothing to train on')
        if len(kept) != len(self.data_list):
            print_log(
                f'{self.ann_file}: filter_cfg {self.filter_cfg} kept '
                f'{len(kept)} of {len(self.data_list)} images',
                logger='current')
        return kept

    def __getitem__(self, idx: int) -> dict:
        # A ResumableSampler index carries the seed of the sample's
        # augmentations (see cnet/datasets/samplers.py).
        with seeded_sample(idx) as index:
            return super().__getitem__(index)

    def get_cat_ids(self, idx: int) -> List[int]:
        """The labels of image ``idx`` (for ``ClassBalancedDataset``)."""
        return [
            inst['bbox_label'] for inst in self.get_data_info(idx)['instances']
        ]
