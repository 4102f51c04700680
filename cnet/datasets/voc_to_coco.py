"""Pascal VOC XML to the COCO-format json the original CenterNet trains on.

The original (``src/tools/get_pascal_voc.sh``, ``merge_pascal_json.py``)
downloads Detectron's COCO-format VOC files and merges VOC2007 + VOC2012
trainval into ``pascal_trainval0712.json``; it tests on
``pascal_test2007.json``. These functions write the same files from the XMLs:

- categories: the 20 VOC classes in VOC order, ids 1..20 (``_valid_ids`` of
  ``src/lib/datasets/dataset/pascal.py``);
- boxes: VOC corners are 1-based and inclusive; COCO ``[x, y, w, h]`` is
  ``[xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1]``, Detectron's
  convention, which the original's VOC evaluation undoes by adding 1 to every
  coordinate it writes (``_write_voc_results_file`` in
  ``src/tools/voc_eval_lib/datasets/pascal_voc.py``);
- difficult objects are kept with ``iscrowd=0`` and ``ignore=1``. The
  original's training sampler reads every annotation
  (``src/lib/datasets/sample/ctdet.py``) and so learns difficult objects as
  ordinary ones, as cnet's ``CocoDataset`` (which reads only ``iscrowd``) does;
  ``VOCMetric`` reads ``ignore`` to leave them out of VOC AP
  (``use_diff=False`` in ``voc_eval``).
"""
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Dict, List, Sequence, Tuple

from mmengine.utils import ProgressBar

VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
               'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse',
               'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train',
               'tvmonitor')

# (output file, ((year, image set), ...)) as the original trains and tests.
VOC_SPLITS = (
    ('pascal_trainval0712.json', (('2007', 'trainval'), ('2012', 'trainval'))),
    ('pascal_test2007.json', (('2007', 'test'), )),
)


def _text(node: ET.Element, tag: str, path: str) -> str:
    child = node.find(tag)
    if child is None or child.text is None:
        raise ValueError(f'{path}: <{node.tag}> has no <{tag}>')
    return child.text.strip()


def _number(node: ET.Element, tag: str, path: str) -> float:
    text = _text(node, tag, path)
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f'{path}: <{tag}> must be a number, got {text!r}') from None


def parse_voc_xml(path: str) -> dict:
    """Read one VOC annotation file.

    Args:
        path (str): ``Annotations/<name>.xml``.

    Returns:
        dict: ``file_name`` (``<filename>``), ``width``, ``height`` and
        ``objects``, each ``{name, bbox: [xmin, ymin, xmax, ymax] (1-based,
        inclusive), difficult: bool}``.

    Raises:
        ValueError: the file lacks a field, or a size or coordinate is not a
        number.
    """
    root = ET.parse(path).getroot()
    size = root.find('size')
    if size is None:
        raise ValueError(f'{path}: no <size>')
    width, height = int(_number(size, 'width',
                                path)), int(_number(size, 'height', path))
    objects = []
    for obj in root.findall('object'):
        box = obj.find('bndbox')
        if box is None:
            raise ValueError(f'{path}: an <object> has no <bndbox>')
        # absent in some VOC2012 files: not difficult
        difficult = obj.find('difficult')
        objects.append(
            dict(
                name=_text(obj, 'name', path),
                bbox=[
                    _number(box, tag, path)
                    for tag in ('xmin', 'ymin', 'xmax', 'ymax')
                ],
                difficult=difficult is not None
                and (difficult.text or '0').strip() == '1'))
    return dict(
        file_name=_text(root, 'filename', path),
        width=width,
        height=height,
        objects=objects)


def voc_box_to_coco(bbox: Sequence[float]) -> List[float]:
    """1-based inclusive ``[xmin, ymin, xmax, ymax]`` → 0-based ``[x, y, w,
    h]``."""
    xmin, ymin, xmax, ymax = bbox
    return [xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1]


def build_coco_dict(records: Sequence[Tuple[int, dict]],
                    classes: Sequence[str] = VOC_CLASSES) -> dict:
    """The COCO dict of parsed VOC records.

    Args:
        records (Sequence[Tuple[int, dict]]): ``(image_id,
        parse_voc_xml(...))`` per image. classes (Sequence[str]): category ``i
        + 1`` is ``classes[i]``.

    Returns:
        dict: ``images``, ``annotations`` (ids 1..N in record order),
        ``categories`` and ``type='instances'``.

    Raises:
        ValueError: an object's class is not in ``classes``, or an image id
        repeats.
    """
    cat_ids = {name: index + 1 for index, name in enumerate(classes)}
    images, annotations, seen = [], [], set()
    for image_id, record in records:
        if image_id in seen:
            raise ValueError(
                f'image id {image_id} ({record["file_name"]}) is used twice')
        seen.add(image_id)
        images.append(
            dict(
                id=image_id,
                file_name=record['file_name'],
                width=record['width'],
                height=record['height']))
        for obj in record['objects']:
            if obj['name'] not in cat_ids:
                raise ValueError(
                    f'{record["file_name"]}: class {obj["name"]!r} is not '
                    f'one of {list(classes)}')
            bbox = voc_box_to_coco(obj['bbox'])
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=cat_ids[obj['name']],
                    bbox=bbox,
                    area=bbox[2] * bbox[3],
                    iscrowd=0,
                    ignore=int(obj['difficult']),
                    segmentation=[]))
    categories = [
        dict(id=cat_ids[name], name=name, supercategory='none')
        for name in classes
    ]
    return dict(
        images=images,
        annotations=annotations,
        categories=categories,
        type='instances')


def voc_image_id(year: str, name: str) -> int:
    """A unique integer id: ``2007000005`` for ``000005``, ``2012001234`` for
    ``2012_001234``, so that 2007 and 2012 never collide in the merged file."""
    digits = name.split('_')[-1]
    if not digits.isdigit():
        raise ValueError(
            f'VOC{year} image name {name!r} does not end in digits')
    return int(year) * 1_000_000 + int(digits)


def convert_voc_split(devkit_root: str,
                      sets: Sequence[Tuple[str, str]],
                      progress: bool = False) -> dict:
    """COCO dict of the images of each set's
    ``VOC<year>/ImageSets/Main/<image set>.txt``.

    ``progress`` draws a bar over the XML files of each set.

    Raises:
        FileNotFoundError: an image-set list or an annotation file is missing.
    """
    records = []
    for year, image_set in sets:
        voc_dir = osp.join(devkit_root, f'VOC{year}')
        list_file = osp.join(voc_dir, 'ImageSets', 'Main', f'{image_set}.txt')
        if not osp.isfile(list_file):
            raise FileNotFoundError(
                f'VOC image set list {list_file} does not exist')
        with open(list_file, encoding='utf-8') as f:
            names = [line.strip() for line in f if line.strip()]
        if progress:
            print(f'VOC{year} {image_set}: {len(names)} annotation files')
        bar = ProgressBar(len(names)) if progress else None
        for name in names:
            xml_path = osp.join(voc_dir, 'Annotations', f'{name}.xml')
            if not osp.isfile(xml_path):
                raise FileNotFoundError(
                    f'annotation file {xml_path} does not exist')
            records.append((voc_image_id(year, name), parse_voc_xml(xml_path)))
            if bar is not None:
                bar.update()
        if bar is not None:
            print()
    return build_coco_dict(records)


def convert_voc(devkit_root: str,
                splits: Sequence[Tuple[str,
                                       Sequence[Tuple[str,
                                                      str]]]] = VOC_SPLITS,
                progress: bool = False) -> Dict[str, dict]:
    """``{file name: COCO dict}`` of each split (default: the original's two
    files)."""
    return {
        file_name: convert_voc_split(devkit_root, sets, progress)
        for file_name, sets in splits
    }


__all__ = [
    'VOC_CLASSES', 'VOC_SPLITS', 'parse_voc_xml', 'voc_box_to_coco',
    'build_coco_dict', 'voc_image_id', 'convert_voc_split', 'convert_voc'
]
