"""COCO-format detection datasets (COCO itself, or any set in its format)."""
import contextlib
import io
import json
import math
import os.path as osp
from numbers import Real
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from pycocotools.coco import COCO

from cnet.registry import DATASETS, TRANSFORMS


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) \
        and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def load_coco_json(path: str) -> dict:
    """Read a COCO-format json file and check its top level.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not JSON, not an object, or lacks ``images``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation file {path} does not exist')
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'{path} is not valid JSON: {e}') from e
    if not isinstance(data, dict):
        raise ValueError(f'{path} must hold a JSON object with images, '
                         f'annotations and categories, got '
                         f'{type(data).__name__}')
    for key in ('images', 'annotations', 'categories'):
        if key not in data:
            if key == 'annotations':  # image lists (COCO test-dev) have none
                data[key] = []
                continue
            raise ValueError(f"{path} has no '{key}'")
        if not isinstance(data[key], list):
            raise ValueError(f"{path}: '{key}' must be a list, got "
                             f'{type(data[key]).__name__}')
    return data


def _check_fields(path: str, kind: str, index: int, entry: Any,
                  checks: Dict[str, tuple]) -> None:
    """Raise a ValueError naming the file, the entry and the bad field."""
    if not isinstance(entry, dict):
        raise ValueError(f'{kind} {index} of {path} must be an object, got '
                         f'{entry!r}')
    for field, (is_valid, expected) in checks.items():
        if field not in entry:
            raise ValueError(f"{kind} {index} of {path} has no '{field}'")
        if not is_valid(entry[field]):
            raise ValueError(f"{kind} {index} of {path}: '{field}' must be "
                             f'{expected}, got {entry[field]!r}')


_CATEGORY_FIELDS = {
    'id': (_is_int, 'an integer'),
    'name': (lambda v: isinstance(v, str), 'a string'),
}
_IMAGE_FIELDS = {
    'id': (_is_int, 'an integer'),
    'file_name': (lambda v: isinstance(v, str) and v != '',
                  'a non-empty string'),
    'height': (lambda v: _is_int(v) and v > 0, 'a positive integer'),
    'width': (lambda v: _is_int(v) and v > 0, 'a positive integer'),
}
_ANNOTATION_FIELDS = {
    'image_id': (_is_int, 'an integer'),
    'category_id': (_is_int, 'an integer'),
    'bbox': (lambda v: isinstance(v, (list, tuple)) and len(v) == 4
             and all(_is_number(x) for x in v), '4 numbers'),
}


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
    Boxes of zero or negative width or height are dropped and counted;
    annotations of categories outside the classes are skipped.

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
        max_refetch: retries when the pipeline returns None.
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
                 max_refetch: int = 1000) -> None:
        unknown = set(filter_cfg or {}) - set(self.FILTER_KEYS)
        if unknown:
            raise ValueError(f'{type(self).__name__}: unknown filter_cfg keys '
                             f'{sorted(unknown)}; known: {self.FILTER_KEYS}')
        if 'img' not in data_prefix:
            raise ValueError(f"{type(self).__name__}: data_prefix needs 'img' "
                             f'(the images folder), got {data_prefix}')
        self.cat_ids: List[int] = []
        self.num_dropped_boxes = 0
        # Built from cnet's registry, so a dataset made outside a Runner
        # (default scope unset) finds cnet's transforms.
        pipeline = [TRANSFORMS.build(t) if isinstance(t, dict) else t
                    for t in pipeline]
        super().__init__(
            ann_file=ann_file, metainfo=metainfo, data_root=data_root,
            data_prefix=data_prefix, filter_cfg=filter_cfg, indices=indices,
            serialize_data=serialize_data, pipeline=pipeline,
            test_mode=test_mode, lazy_init=lazy_init, max_refetch=max_refetch)

    def _select_categories(self, categories: List[dict]) -> List[dict]:
        """The categories of the classes, in label order."""
        path = self.ann_file
        for index, category in enumerate(categories):
            _check_fields(path, 'category', index, category, _CATEGORY_FIELDS)
        ids = [c['id'] for c in categories]
        if len(set(ids)) != len(ids):
            raise ValueError(f'{path}: category ids must be unique, got {ids}')
        classes = self._metainfo.get('classes')
        if classes is None:
            if not categories:
                raise ValueError(f"{path}: 'categories' is empty and the "
                                 f'config gives no metainfo classes')
            return sorted(categories, key=lambda c: c['id'])
        if isinstance(classes, str) or not all(
                isinstance(name, str) for name in classes):
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
        data = load_coco_json(path)
        categories = self._select_categories(data['categories'])
        self.cat_ids = [c['id'] for c in categories]
        self._metainfo['classes'] = tuple(c['name'] for c in categories)
        self._metainfo['cat_ids'] = tuple(self.cat_ids)
        cat2label = {cat_id: label for label, cat_id in enumerate(self.cat_ids)}

        image_ids = set()
        for index, image in enumerate(data['images']):
            _check_fields(path, 'image', index, image, _IMAGE_FIELDS)
            if image['id'] in image_ids:
                raise ValueError(f"image {index} of {path}: id {image['id']} "
                                 f'is used by an earlier image')
            image_ids.add(image['id'])
        for index, ann in enumerate(data['annotations']):
            _check_fields(path, 'annotation', index, ann, _ANNOTATION_FIELDS)
            if ann['image_id'] not in image_ids:
                raise ValueError(f"annotation {index} of {path}: 'image_id' "
                                 f"{ann['image_id']} is not in 'images'")
            ann.setdefault('id', -1 - index)  # pycocotools indexes by id

        with contextlib.redirect_stdout(io.StringIO()):  # its progress prints
            coco = COCO()
            coco.dataset = data
            coco.createIndex()

        num_dropped = num_skipped = num_crowd = num_boxes = 0
        data_list = []
        for image in data['images']:
            instances = []
            for ann in coco.imgToAnns[image['id']]:
                label = cat2label.get(ann['category_id'])
                if label is None:
                    num_skipped += 1
                    continue
                x, y, w, h = ann['bbox']
                if w <= 0 or h <= 0:
                    num_dropped += 1
                    continue
                crowd = int(bool(ann.get('iscrowd', 0)))
                num_crowd += crowd
                num_boxes += 1
                instances.append(dict(
                    bbox=[float(x), float(y), float(x + w), float(y + h)],
                    bbox_label=label, ignore_flag=crowd,
                    **self.parse_instance_fields(ann)))
            data_list.append(dict(
                img_path=osp.join(self.data_prefix['img'], image['file_name']),
                img_id=image['id'], height=image['height'],
                width=image['width'], instances=instances))
        self.num_dropped_boxes = num_dropped
        print_log(
            f'{path}: {len(data_list)} images, {num_boxes} boxes '
            f'({num_crowd} crowd → ignore regions); dropped {num_dropped} '
            f'boxes of zero or negative width/height; skipped {num_skipped} '
            f'annotations of categories outside the {len(self.cat_ids)} '
            f'classes', logger='current')
        return data_list

    def parse_instance_fields(self, ann: dict) -> dict:
        """Extra fields of an instance from its annotation (none here;
        ``CocoKeypointsDataset`` adds the keypoints)."""
        return {}

    def filter_data(self) -> List[dict]:
        """Apply ``filter_cfg`` to training sets; keep every image in test."""
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        filter_empty = self.filter_cfg.get('filter_empty_gt', False)
        min_size = self.filter_cfg.get('min_size', 0)
        kept = [
            info for info in self.data_list
            if min(info['width'], info['height']) >= min_size and (
                not filter_empty or any(
                    not inst['ignore_flag'] for inst in info['instances']))
        ]
        if len(kept) != len(self.data_list):
            print_log(f'{self.ann_file}: filter_cfg {self.filter_cfg} kept '
                      f'{len(kept)} of {len(self.data_list)} images',
                      logger='current')
        return kept

    def get_cat_ids(self, idx: int) -> List[int]:
        """The labels of image ``idx`` (for ``ClassBalancedDataset``)."""
        return [inst['bbox_label']
                for inst in self.get_data_info(idx)['instances']]
