"""COCO-format annotation files: reading them and checking their entries.

One reader and one set of entry checks for every part that takes a COCO
json (``CocoDataset`` and its subclasses, ``CocoMetric`` and ``VOCMetric``),
so that a file the dataset accepts is one the metric evaluates the same way,
and a file either refuses names the file, the entry and the field.
"""
import json
import math
import os.path as osp
from numbers import Real
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

# field → (is_valid(value), what a valid value is)
FieldChecks = Dict[str, Tuple[Callable[[Any], bool], str]]


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, Real) and not isinstance(value, bool) \
        and math.isfinite(value)


def is_int(value: Any) -> bool:
    """An int (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


class AnnotationError(ValueError):
    """An annotation file that cannot be used as it is.

    The message names the file, the entry (its kind, position and id) and
    the field; the same facts are attributes, for tools and tests.

    Attributes:
        path: the annotation file.
        kind: ``'image'``, ``'annotation'``, ``'category'`` or ``'file'``.
        index: position of the entry in its list (``None`` for the file).
        entry_id: the entry's ``id`` when it has a usable one.
        field: the offending key (``None`` when the entry as a whole is bad).
    """

    def __init__(self, path: str, kind: str, index: Optional[int],
                 entry_id: Any, field: Optional[str], problem: str) -> None:
        where = kind if index is None else f'{kind} {index}'
        if entry_id is not None:
            where += f' (id {entry_id!r})'
        what = f": '{field}' {problem}" if field else f': {problem}'
        super().__init__(f'{path}: {where}{what}')
        self.path, self.kind, self.index = path, kind, index
        self.entry_id, self.field = entry_id, field


def load_coco_json(path: str,
                   required: Sequence[str] = ('images', 'categories'),
                   fill_annotations: bool = True) -> dict:
    """Read a COCO-format json file and check its top level.

    The one reader of COCO files: the datasets, ``CocoMetric`` (and its
    subclasses) and ``MOTMetric`` all read through it, so that a file one
    accepts the others read the same way.

    Args:
        path: the json file.
        required: the top-level lists the reader needs (``MOTMetric`` needs
            only ``images``).
        fill_annotations: give a file without ``annotations`` (an image list
            such as COCO test-dev) an empty list; ``False`` leaves the key
            absent, so that a metric can tell "nothing to evaluate against"
            from "no objects".

    Returns:
        The file's object; each of ``images``, ``annotations``,
        ``categories`` and ``videos`` that it holds is a list.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        AnnotationError (a ValueError): the file cannot be read, is not
            JSON, is not an object, lacks a required list or holds a
            top-level entry that is not a list.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation file {path} does not exist')
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise AnnotationError(path, 'file', None, None, None,
                              f'cannot be read: {e}') from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise AnnotationError(path, 'file', None, None, None,
                              f'is not valid JSON: reading it as JSON gave '
                              f'{str(e)!r}') from e
    if not isinstance(data, dict):
        raise AnnotationError(
            path, 'file', None, None, None,
            f'holds a {type(data).__name__}, not a JSON object with '
            f"'images', 'annotations' and 'categories' lists")
    for key in required:
        if key not in data:
            raise AnnotationError(path, 'file', None, None, key,
                                  f"is missing (the file has no '{key}' "
                                  f'list)')
    for key in ('images', 'annotations', 'categories', 'videos'):
        if key in data and not isinstance(data[key], list):
            raise AnnotationError(
                path, 'file', None, None, key,
                f'at the top level is a {type(data[key]).__name__}, not a '
                'list')
    if fill_annotations:  # image lists (COCO test-dev) have none
        data.setdefault('annotations', [])
    return data


def entry_id(entry: Any) -> Any:
    """An entry's ``id`` (``None`` when it has none or is not a dict)."""
    return entry.get('id') if isinstance(entry, dict) else None


def check_fields(path: str, kind: str, index: int, entry: Any,
                 checks: FieldChecks) -> None:
    """Raise an AnnotationError naming the file, the entry and the field."""
    if not isinstance(entry, dict):
        raise AnnotationError(path, kind, index, None, None,
                              f'must be an object, got {entry!r}')
    for field, (is_valid, expected) in checks.items():
        if field not in entry:
            raise AnnotationError(path, kind, index, entry_id(entry), field,
                                  'is missing')
        if not is_valid(entry[field]):
            raise AnnotationError(
                path, kind, index, entry_id(entry), field,
                f'must be {expected}, got '
                f'{entry[field]!r}')


CATEGORY_FIELDS: FieldChecks = {
    'id': (is_int, 'an integer'),
    'name': (lambda v: isinstance(v, str), 'a string'),
}
# What evaluation needs of an image; a dataset needs IMAGE_FIELDS.
IMAGE_ID_FIELDS: FieldChecks = {'id': (is_int, 'an integer')}
IMAGE_FIELDS: FieldChecks = {
    'id': (is_int, 'an integer'),
    'file_name':
    (lambda v: isinstance(v, str) and v != '', 'a non-empty string'),
    'height': (lambda v: is_int(v) and v > 0, 'a positive integer'),
    'width': (lambda v: is_int(v) and v > 0, 'a positive integer'),
}
ANNOTATION_FIELDS: FieldChecks = {
    'image_id': (is_int, 'an integer'),
    'category_id': (is_int, 'an integer'),
    'bbox': (lambda v: isinstance(v, (list, tuple)) and len(v) == 4 and all(
        is_number(x) for x in v), '4 finite numbers'),
}
# Optional annotation fields, checked when present.
OPTIONAL_ANNOTATION_FIELDS: FieldChecks = {
    'id': (is_int, 'an integer'),
    'iscrowd': (lambda v: v in (0, 1) and not isinstance(v, float), '0 or 1'),
    'area': (lambda v: is_number(v) and v >= 0, 'a finite number >= 0'),
}


def check_coco_entries(path: str, data: dict,
                       image_fields: FieldChecks = IMAGE_FIELDS) -> None:
    """Check every entry of a COCO dict read by :func:`load_coco_json`.

    Categories: an integer ``id`` (unique) and a ``name``. Images: the
    ``image_fields`` (an integer ``id``, unique; a dataset also needs
    ``file_name``, ``height`` and ``width``). Annotations: an integer
    ``image_id`` naming an image, an integer ``category_id`` naming a
    category, a ``bbox`` of 4 finite numbers and, when present, an ``id``
    that is an integer other than 0 (pycocotools' "unmatched") used once,
    ``iscrowd`` 0 or 1, ``area`` a finite number >= 0.

    Raises:
        AnnotationError (a ValueError): the first entry that fails, with the
            file, the entry's kind, position and id, and the field.
    """
    for kind, key, fields in (('category', 'categories', CATEGORY_FIELDS),
                              ('image', 'images', image_fields)):
        seen = set()
        for index, entry in enumerate(data[key]):
            check_fields(path, kind, index, entry, fields)
            if entry['id'] in seen:
                raise AnnotationError(path, kind, index, entry['id'], 'id',
                                      f'is used by an earlier {kind}')
            seen.add(entry['id'])
    image_ids = {image['id'] for image in data['images']}
    category_ids = {category['id'] for category in data['categories']}
    annotation_ids = set()
    for index, ann in enumerate(data['annotations']):
        check_fields(path, 'annotation', index, ann, ANNOTATION_FIELDS)
        for field, (is_valid, expected) in OPTIONAL_ANNOTATION_FIELDS.items():
            if field in ann and not is_valid(ann[field]):
                raise AnnotationError(
                    path, 'annotation', index, entry_id(ann), field,
                    f'must be {expected}, got {ann[field]!r}')
        if ann['image_id'] not in image_ids:
            raise AnnotationError(
                path, 'annotation', index, entry_id(ann), 'image_id',
                f"{ann['image_id']} is not the id of an image")
        if ann['category_id'] not in category_ids:
            raise AnnotationError(
                path, 'annotation', index, entry_id(ann), 'category_id',
                f"{ann['category_id']} is not the id of a category")
        if 'id' in ann:
            if ann['id'] == 0:
                # COCOeval's match arrays hold 0 for "unmatched".
                raise AnnotationError(
                    path, 'annotation', index, 0, 'id',
                    'is 0, which pycocotools reserves for "unmatched": this '
                    'ground truth could never be matched and would count as '
                    'missed; number annotations from 1')
            if ann['id'] in annotation_ids:
                raise AnnotationError(path, 'annotation', index, ann['id'],
                                      'id', 'is used by an earlier annotation')
            annotation_ids.add(ann['id'])


Box = Tuple[float, float, float, float]


def repair_box(bbox: Any, width: Any = None,
               height: Any = None) -> Optional[Box]:
    """A COCO ``[x, y, w, h]`` box as the corners every reader uses.

    The one rule of the dataset and the metric for boxes the file cannot
    mean as written: clipped to its image ``width`` x ``height`` (when both
    are positive numbers; a reader without them only drops), and ``None``
    (drop it) when its width or height is zero or negative, a coordinate is
    not finite, or nothing of it is left inside the image.
    """
    x, y, w, h = (float(v) for v in bbox)
    if not math.isfinite(x + y + w + h) or w <= 0 or h <= 0:
        return None
    x1, y1, x2, y2 = x, y, x + w, y + h
    if is_number(width) and is_number(height) and width > 0 and height > 0:
        x1, x2 = min(max(x1, 0.), width), min(max(x2, 0.), width)
        y1, y2 = min(max(y1, 0.), height), min(max(y2, 0.), height)
    if x2 <= x1 or y2 <= y1:
        return None
    return x1, y1, x2, y2


def repair_message(path: str, clipped: List[Any], dropped: List[Any]) -> str:
    """The one warning a reader logs per file for :func:`repair_box`'s
    repairs, naming the file and the first ids of each."""
    def ids(values: List[Any]) -> str:
        return f'{values[:10]}{" ..." if len(values) > 10 else ""}'
    return (f'{path}: clipped {len(clipped)} boxes reaching outside their '
            f'image (annotation ids {ids(clipped)}) and dropped '
            f'{len(dropped)} boxes of zero or negative width/height or '
            f'outside their image (annotation ids {ids(dropped)})')


__all__ = [
    'repair_box', 'repair_message', 'AnnotationError', 'load_coco_json',
    'check_coco_entries',
    'check_fields', 'entry_id', 'is_int', 'is_number', 'CATEGORY_FIELDS',
    'IMAGE_FIELDS', 'IMAGE_ID_FIELDS', 'ANNOTATION_FIELDS',
    'OPTIONAL_ANNOTATION_FIELDS'
]
