"""CrowdHuman's ``annotation_<split>.odgt`` to a COCO json, as CenterTrack's
``src/tools/convert_crowdhuman_to_coco.py``.

The facts kept: one category (1, ``person``); each image's file is
``<ID>.jpg``; each ``gtboxes`` entry is an annotation whose ``bbox`` is the
full-body box ``fbox`` (COCO xywh, which may reach outside the image: the
amodal box CenterTrack's ``ltrb_amodal`` learns), with the visible box
``vbox`` kept as ``bbox_vis``; an entry with ``extra.ignore == 1`` is a crowd
region (``iscrowd: 1``). CenterTrack pre-trains on it as a static set: a
file without ``videos``, which ``CocoVideoDataset`` reads as one-frame
videos.

Where cnet differs: images also carry ``height`` and ``width`` (read from
the image files; COCO readers need them), and every annotation ``area``
(w · h of ``fbox``).
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Tuple

import cv2

from cnet.fileio import dump_json_atomic

CATEGORIES = [dict(id=1, name='person')]


def read_odgt(path: str) -> List[dict]:
    """The records of an ``.odgt`` file (one JSON object a line)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist')
    records = []
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f'{path}:{number}: not a JSON object '
                                 f'({e.msg})') from e
    return records


def image_size(path: str) -> Tuple[int, int]:
    """(height, width) of an image file."""
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise OSError(f'cannot read the image {path}')
    return int(image.shape[0]), int(image.shape[1])


def convert_crowdhuman(odgt_path: str, image_dir: str,
                       sizes: Optional[Dict[str, Tuple[int, int]]] = None
                       ) -> dict:
    """One split of CrowdHuman as a COCO dict.

    Args:
        odgt_path: ``annotation_train.odgt`` or ``annotation_val.odgt``.
        image_dir: the split's ``Images`` folder (sizes are read there).
        sizes: ``ID → (height, width)`` to use instead of reading images.

    Returns:
        ``dict(images, annotations, categories)``; file names relative to
        ``image_dir``.
    """
    images, annotations = [], []
    for index, record in enumerate(read_odgt(odgt_path)):
        if 'ID' not in record:
            raise ValueError(f"{odgt_path}: record {index} has no 'ID'")
        file_name = f"{record['ID']}.jpg"
        height, width = (sizes[record['ID']] if sizes is not None else
                         image_size(osp.join(image_dir, file_name)))
        image_id = len(images) + 1
        images.append(dict(id=image_id, file_name=file_name, height=height,
                           width=width))
        for box in record.get('gtboxes', []):
            if 'fbox' not in box:
                raise ValueError(f"{odgt_path}: a box of record {index} "
                                 f"({record['ID']}) has no 'fbox'")
            x, y, w, h = (float(v) for v in box['fbox'])
            ignore = int((box.get('extra') or {}).get('ignore', 0) == 1)
            annotations.append(dict(
                id=len(annotations) + 1, image_id=image_id, category_id=1,
                bbox=[x, y, w, h], bbox_vis=box.get('vbox'), area=w * h,
                iscrowd=ignore))
    return dict(images=images, annotations=annotations,
                categories=[dict(c) for c in CATEGORIES])


def write_crowdhuman(root: str, out_dir: str,
                     splits: Tuple[str, ...] = ('train', 'val')
                     ) -> Dict[str, dict]:
    """Write ``<out_dir>/<split>.json`` for each split of a CrowdHuman
    folder (``annotation_<split>.odgt``, ``CrowdHuman_<split>/Images/``),
    atomically.

    Returns:
        split → ``dict(images=..., annotations=..., crowd=...)`` counts.
    """
    counts = {}
    for split in splits:
        coco = convert_crowdhuman(
            osp.join(root, f'annotation_{split}.odgt'),
            osp.join(root, f'CrowdHuman_{split}', 'Images'))
        dump_json_atomic(coco, osp.join(out_dir, f'{split}.json'))
        counts[split] = dict(
            images=len(coco['images']), annotations=len(coco['annotations']),
            crowd=sum(a['iscrowd'] for a in coco['annotations']))
    return counts
