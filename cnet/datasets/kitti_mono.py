"""KITTI object detection (monocular 3-D) in its own folder layout.

Reads ``training/image_2/<id>.png``, ``training/label_2/<id>.txt`` and the
``P2`` line of ``training/calib/<id>.txt`` for the ids listed in a split
file, e.g. ``ImageSets_3dop/val.txt`` (the 3DOP split of Chen et al., the
original CenterNet's default ``--kitti_split 3dop``), ``ImageSets_subcnn/
val.txt`` (SubCNN's split, ``--kitti_split subcnn``) or ``ImageSets/val.txt``.
The split files are data the user has, as the original expects them
(``src/tools/convert_kitti_to_coco.py``: ``data/kitti/ImageSets_{split}/``).

Classes and ignore regions follow the original (``cat_ids`` of
``src/lib/datasets/dataset/kitti.py``): Pedestrian, Car, Cyclist are
objects; a Van or Truck is an ignore region of the Car heatmap, a
Person_sitting one of the Pedestrian heatmap, a DontCare region one of every
class; Tram and Misc are dropped.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset

from cnet.fileio.kitti import parse_kitti_label, read_calib_p2
from cnet.registry import DATASETS, TRANSFORMS
from cnet.structures.bbox3d import box3d_centre_pixel

from .samplers import seeded_sample

KITTI_CLASSES = ('Pedestrian', 'Car', 'Cyclist')
# Split name → folder of its train.txt / val.txt.
SPLIT_FOLDERS = {'3dop': 'ImageSets_3dop', 'subcnn': 'ImageSets_subcnn',
                 'official': 'ImageSets'}
# Label types that become ignore regions of one class.
IGNORED_AS = {'Van': 'Car', 'Truck': 'Car', 'Person_sitting': 'Pedestrian'}
DROPPED = ('Tram', 'Misc')


def read_split_file(path: str) -> List[str]:
    """The image ids (``'000123'``) of a KITTI ``ImageSets`` file."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'KITTI split file {path} does not exist; the 3DOP and SubCNN '
            f'splits go in ImageSets_3dop/ and ImageSets_subcnn/ of the '
            f'data root (train.txt, val.txt), one image id per line')
    with open(path) as f:
        ids = [line.strip() for line in f if line.strip()]
    for image_id in ids:
        if not image_id.isdigit():
            raise ValueError(f'{path}: {image_id!r} is not a KITTI image id')
    return ids


def split_file_path(split: str, subset: str) -> str:
    """``('3dop', 'val')`` → ``'ImageSets_3dop/val.txt'``."""
    if split not in SPLIT_FOLDERS:
        raise ValueError(f'unknown KITTI split {split!r}; known: '
                         f'{sorted(SPLIT_FOLDERS)}')
    return osp.join(SPLIT_FOLDERS[split], f'{subset}.txt')


def label_to_instances(label_text: str, cam2img: np.ndarray,
                       classes: Sequence[str] = KITTI_CLASSES,
                       source: str = '<text>') -> List[Dict]:
    """The instances of one label file, as the pipeline reads them.

    Each has ``bbox`` (xyxy pixels), ``bbox_label``, ``ignore_flag`` and the
    3-D fields ``depth`` (location z), ``dimensions`` (h, w, l),
    ``location``, ``rotation_y``, ``alpha``, ``center_2d`` (projected 3-D
    centre), ``truncated``, ``occluded``.

    Args:
        label_text: the file's text (parsed by
            :func:`cnet.fileio.kitti.parse_kitti_label`).
        cam2img: (3, 4) P2 of the image.
        classes: the object classes, in label order.
        source: the file, for errors.
    """
    label = parse_kitti_label(label_text, source)
    instances = []
    for i, name in enumerate(label['name'].tolist()):
        if name in DROPPED:
            continue
        bbox = label['bbox'][i]
        if name == 'DontCare':
            targets = [(c, True) for c in range(len(classes))]
        elif name in IGNORED_AS:
            if IGNORED_AS[name] not in classes:
                continue
            targets = [(classes.index(IGNORED_AS[name]), True)]
        elif name in classes:
            targets = [(classes.index(name), False)]
        else:
            continue
        dimensions, location = label['dimensions'][i], label['location'][i]
        centre = (box3d_centre_pixel(location, dimensions[0], cam2img)
                  if name != 'DontCare' else (bbox[:2] + bbox[2:]) / 2)
        for class_index, ignore in targets:
            instances.append(dict(
                bbox=bbox.tolist(), bbox_label=class_index,
                ignore_flag=int(ignore),
                truncated=float(label['truncated'][i]),
                occluded=int(label['occluded'][i]),
                alpha=float(label['alpha'][i]),
                dimensions=dimensions.tolist(), location=location.tolist(),
                depth=float(location[2]),
                rotation_y=float(label['rotation_y'][i]),
                center_2d=centre.tolist()))
    return instances


@DATASETS.register_module()
class KittiMonoDataset(BaseDataset):
    """KITTI images with their P2 and 3-D labels.

    Args:
        data_root: the KITTI root (holding ``training/`` and the split
            folders).
        split_file: split file relative to ``data_root``, e.g.
            ``'ImageSets_3dop/val.txt'`` (see :func:`split_file_path`).
        image_dir, label_dir, calib_dir: folders relative to ``data_root``.
        classes: object classes (the original's order by default).
        filter_empty_gt: leave out training images without any object.
        pipeline, test_mode, indices, serialize_data, lazy_init: as
            mmengine's ``BaseDataset``.
    """

    METAINFO = dict(classes=KITTI_CLASSES)

    def __init__(self,
                 data_root: str,
                 split_file: str,
                 image_dir: str = 'training/image_2',
                 label_dir: str = 'training/label_2',
                 calib_dir: str = 'training/calib',
                 classes: Sequence[str] = KITTI_CLASSES,
                 filter_empty_gt: bool = False,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 indices: Optional[Sequence[int]] = None,
                 serialize_data: bool = True,
                 lazy_init: bool = False) -> None:
        self.split_file = split_file
        self.image_dir = image_dir
        self.label_dir = label_dir
        self.calib_dir = calib_dir
        self.filter_empty_gt = filter_empty_gt
        # cnet's registry, so that the transforms build without a default
        # scope (tools/browse_dataset.py, a dataset built in Python).
        pipeline = [TRANSFORMS.build(t) if isinstance(t, dict) else t
                    for t in pipeline]
        super().__init__(
            data_root=data_root, metainfo=dict(classes=tuple(classes)),
            pipeline=pipeline, test_mode=test_mode, indices=indices,
            serialize_data=serialize_data, lazy_init=lazy_init)

    def _path(self, folder: str, name: str) -> str:
        return osp.join(self.data_root, folder, name)

    def __getitem__(self, idx: int) -> dict:
        # A ResumableSampler index carries the seed of the sample's
        # augmentations, so that resume is exact (cnet/datasets/samplers.py).
        with seeded_sample(idx) as index:
            return super().__getitem__(index)

    def load_data_list(self) -> List[dict]:
        classes = tuple(self.metainfo['classes'])
        data_list = []
        split = osp.join(self.data_root, self.split_file)
        image_ids = read_split_file(split)
        if not image_ids:
            raise ValueError(f'{split}: the split lists no image: a dataset '
                             f'needs at least one')
        for image_id in image_ids:
            cam2img = read_calib_p2(self._path(self.calib_dir,
                                               f'{image_id}.txt'))
            label_path = self._path(self.label_dir, f'{image_id}.txt')
            instances = []
            if osp.isfile(label_path):
                with open(label_path) as f:
                    instances = label_to_instances(f.read(), cam2img, classes,
                                                   label_path)
            elif not self.test_mode:
                raise FileNotFoundError(f'KITTI label {label_path} does not '
                                        f'exist')
            if self.filter_empty_gt and not self.test_mode and not any(
                    not inst['ignore_flag'] for inst in instances):
                continue
            data_list.append(dict(
                img_path=self._path(self.image_dir, f'{image_id}.png'),
                img_id=int(image_id), label_path=label_path,
                calib=cam2img.astype(np.float32), instances=instances))
        if not data_list:
            raise ValueError(
                f'{split}: none of its {len(image_ids)} images has a box of '
                f'the classes {classes} (filter_empty_gt): there is nothing '
                f'to train on')
        return data_list


__all__ = ['KittiMonoDataset', 'KITTI_CLASSES', 'SPLIT_FOLDERS',
           'read_split_file', 'split_file_path', 'read_calib_p2',
           'label_to_instances']
