"""A synthetic video set of moving shapes, generated on first use.

Each video has a still textured background (the shapes set's) and a few
filled shapes of the shapes set's four classes, each with its own constant
velocity and spin: some are there from the first frame, others enter
through a border later, and they leave through the borders. They are drawn
in a fixed depth order, so they pass in front of and behind each other. A
few frames are dropped (not written; ``frame_id`` keeps counting time), as
a video with missing frames would be.

The annotations are CenterTrack's COCO-with-videos format: ``videos``;
images with ``video_id``, ``frame_id``, ``prev_image_id`` and
``next_image_id`` (the neighbouring written frames, -1 at the ends);
annotations with ``track_id`` (the shape's number in its video, from 1).
A box is the tight box of the shape's visible pixels; a shape hidden by
more than ``max_occlusion`` (by others or the border), or whose visible box
is smaller than ``min_visible_size``, is a crowd region (``iscrowd: 1``),
which keeps its ``track_id``; a shape with no visible pixel has no
annotation in that frame.

Generation is deterministic: video ``v`` of a split depends only on
``(seed, v)`` and the parameters; a split is written into a temporary
folder and renamed into place (:mod:`cnet.datasets.generated`).
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log

from cnet.registry import DATASETS

from .coco_video import CocoVideoDataset
from .generated import check_generation, ensure_generated, written_into_place
from .shapes import (
    SHAPE_CLASSES,
    distinct_colour,
    place_outline,
    random_texture,
    rasterize_polygon,
    shape_outline,
)

ANNOTATION_FILE = 'annotations.json'
IMAGE_DIR = 'images'
DEFAULT_SPLITS = {'train': dict(num_videos=60, seed=0),
                  'val': dict(num_videos=8, seed=1)}


def generation_params(num_videos: int, seed: int, num_frames: int = 24,
                      image_size: Sequence[int] = (160, 120),
                      max_objects: int = 6,
                      object_size_range: Sequence[float] = (14, 40),
                      speed_range: Sequence[float] = (1.0, 5.0),
                      drop_ratio: float = 0.05,
                      max_occlusion: float = 0.7,
                      min_visible_size: float = 6,
                      image_format: str = 'jpg') -> Dict:
    """Check the generation parameters; return them as a JSON-able dict.

    Args:
        num_videos: videos in the split.
        seed: the split's seed.
        num_frames: time steps of a video (some of them dropped).
        image_size: (w, h) of every frame.
        max_objects: shapes per video are drawn from 2..max_objects.
        object_size_range: (min, max) larger extent of a shape in pixels.
        speed_range: (min, max) speed of a shape, pixels per frame.
        drop_ratio: chance that a frame after the first is dropped.
        max_occlusion: hidden share beyond which a shape is a crowd region.
        min_visible_size: a smaller visible box is a crowd region too.
        image_format: ``'jpg'`` (quality 95) or ``'png'``.
    """
    name = 'moving shapes'
    if num_videos < 1 or num_frames < 2:
        raise ValueError(f'{name}: need num_videos >= 1 and num_frames >= 2,'
                         f' got {num_videos} and {num_frames}')
    if len(image_size) != 2 or min(image_size) < 32:
        raise ValueError(f'{name}: image_size must be (w, h), sides >= 32, '
                         f'got {image_size}')
    if max_objects < 2:
        raise ValueError(f'{name}: max_objects must be >= 2, got '
                         f'{max_objects}')
    if len(object_size_range) != 2 or not \
            4 <= object_size_range[0] <= object_size_range[1]:
        raise ValueError(f'{name}: object_size_range must be (min, max) '
                         f'with 4 <= min <= max, got {object_size_range}')
    if len(speed_range) != 2 or not 0 <= speed_range[0] <= speed_range[1]:
        raise ValueError(f'{name}: speed_range must be (min, max) >= 0, got '
                         f'{speed_range}')
    if not 0 <= drop_ratio < 1 or not 0 <= max_occlusion <= 1:
        raise ValueError(f'{name}: need drop_ratio in [0, 1) and '
                         f'max_occlusion in [0, 1], got {drop_ratio} and '
                         f'{max_occlusion}')
    if image_format not in ('jpg', 'png'):
        raise ValueError(f"{name}: image_format must be 'jpg' or 'png', got "
                         f'{image_format!r}')
    return dict(num_videos=int(num_videos), seed=int(seed),
                num_frames=int(num_frames),
                image_size=[int(v) for v in image_size],
                max_objects=int(max_objects),
                object_size_range=[float(v) for v in object_size_range],
                speed_range=[float(v) for v in speed_range],
                drop_ratio=float(drop_ratio),
                max_occlusion=float(max_occlusion),
                min_visible_size=float(min_visible_size),
                image_format=image_format)


def plan_objects(rng: np.random.Generator, params: Dict) -> List[dict]:
    """The shapes of one video: class, look, start, position, velocity.

    About half are in the image from the first frame; the others enter
    later from just outside a border, heading into the image.
    """
    width, height = params['image_size']
    min_size, max_size = params['object_size_range']
    num = int(rng.integers(2, params['max_objects'] + 1))
    objects = []
    for _ in range(num):
        size = float(np.exp(rng.uniform(np.log(min_size), np.log(max_size))))
        speed = rng.uniform(*params['speed_range'])
        start = 0 if rng.random() < 0.5 else int(
            rng.integers(1, max(2, params['num_frames'] * 2 // 3)))
        if start == 0:
            position = np.array([rng.uniform(0.1, 0.9) * width,
                                 rng.uniform(0.1, 0.9) * height])
            heading = rng.uniform(0, 2 * np.pi)
        else:
            side = int(rng.integers(4))
            along = rng.uniform(0.15, 0.85)
            outside = size / 2
            position = np.array([
                [-outside, along * height], [width + outside, along * height],
                [along * width, -outside], [along * width, height + outside],
            ][side])
            inward = [0.0, np.pi, np.pi / 2, -np.pi / 2][side]
            heading = inward + rng.uniform(-0.6, 0.6)
        objects.append(dict(
            category=int(rng.integers(len(SHAPE_CLASSES))), size=size,
            aspect=rng.uniform(0.55, 1.0), angle=rng.uniform(0, 2 * np.pi),
            spin=rng.uniform(-0.08, 0.08), start=start, position=position,
            velocity=speed * np.array([np.cos(heading), np.sin(heading)]),
            shading=(rng.uniform(0, 2 * np.pi), rng.uniform(15, 40))))
    return objects


def render_frame(background: np.ndarray, objects: List[dict],
                 colours: List[np.ndarray], t: int,
                 rng: np.random.Generator, params: Dict
                 ) -> Tuple[np.ndarray, List[dict]]:
    """Frame ``t``: the shapes present at ``t`` over the background, in
    their depth order (list order), and one dict per visible shape:
    ``track_id``, ``category``, ``bbox`` (COCO xywh of its visible pixels),
    ``area``, ``iscrowd``."""
    height, width = background.shape[:2]
    img = background.copy()
    owner = np.full((height, width), -1, dtype=np.int16)
    full_areas = {}
    for index, obj in enumerate(objects):
        if t < obj['start']:
            continue
        center = obj['position'] + obj['velocity'] * (t - obj['start'])
        points = place_outline(
            shape_outline(SHAPE_CLASSES[obj['category']], obj['aspect']),
            obj['angle'] + obj['spin'] * t, obj['size'], tuple(center))
        coverage, (x0, y0) = rasterize_polygon(points)
        inside = coverage >= 128
        full_areas[index] = int(inside.sum())
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1 = min(x0 + coverage.shape[1], width)
        cy1 = min(y0 + coverage.shape[0], height)
        if cx0 >= cx1 or cy0 >= cy1 or full_areas[index] == 0:
            continue
        local = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
        window = (slice(cy0, cy1), slice(cx0, cx1))
        alpha = coverage[local].astype(np.float32)[..., None] / 255.0
        ys, xs = np.mgrid[cy0:cy1, cx0:cx1].astype(np.float32)
        direction, strength = obj['shading']
        shade = ((xs - center[0]) * np.cos(direction) +
                 (ys - center[1]) * np.sin(direction)) / obj['size']
        layer = colours[index] + (strength * shade)[..., None]
        img[window] = img[window] * (1.0 - alpha) + layer * alpha
        owner[window][inside[local]] = index
    img += rng.normal(0, 3.0, img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    annotations = []
    for index, full_area in full_areas.items():
        ys, xs = np.nonzero(owner == index)
        if len(xs) == 0:
            continue
        x, y = int(xs.min()), int(ys.min())
        w, h = int(xs.max()) + 1 - x, int(ys.max()) + 1 - y
        hidden = 1.0 - len(xs) / full_area
        crowd = hidden > params['max_occlusion'] or \
            max(w, h) < params['min_visible_size']
        annotations.append(dict(
            track_id=index + 1, category=objects[index]['category'],
            bbox=[x, y, w, h], area=int(len(xs)), iscrowd=int(crowd)))
    return img, annotations


def _write_split(folder: str, split: str, params: Dict) -> None:
    os.makedirs(osp.join(folder, IMAGE_DIR))
    encode = ([cv2.IMWRITE_JPEG_QUALITY, 95]
              if params['image_format'] == 'jpg'
              else [cv2.IMWRITE_PNG_COMPRESSION, 1])
    width, height = params['image_size']
    videos, images, annotations = [], [], []
    for video in range(params['num_videos']):
        rng = np.random.default_rng([params['seed'], video])
        background = random_texture(rng, height, width)
        objects = plan_objects(rng, params)
        avoid = [np.median(background.reshape(-1, 3), axis=0)]
        colours = []
        for _ in objects:
            colours.append(distinct_colour(rng, np.stack(avoid + colours)))
        name = f'video{video:04d}'
        videos.append(dict(id=video + 1, file_name=name))
        written = []
        for t in range(params['num_frames']):
            img, objs = render_frame(background, objects, colours, t, rng,
                                     params)
            if t > 0 and rng.random() < params['drop_ratio']:
                continue  # dropped after rendering: the draws stay aligned
            file_name = f"{name}/{t + 1:06d}.{params['image_format']}"
            path = osp.join(folder, IMAGE_DIR, file_name)
            os.makedirs(osp.dirname(path), exist_ok=True)
            if not cv2.imwrite(path, img, encode):
                raise OSError(f'could not write {path}')
            image_id = len(images) + 1
            images.append(dict(id=image_id, file_name=file_name,
                               height=height, width=width,
                               video_id=video + 1, frame_id=t + 1,
                               prev_image_id=written[-1] if written else -1,
                               next_image_id=-1))
            if written:
                images[written[-1] - 1]['next_image_id'] = image_id
            written.append(image_id)
            for obj in objs:
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=image_id,
                    category_id=obj['category'] + 1, bbox=obj['bbox'],
                    area=obj['area'], iscrowd=obj['iscrowd'],
                    track_id=obj['track_id']))
    categories = [dict(id=i + 1, name=n, supercategory='shape')
                  for i, n in enumerate(SHAPE_CLASSES)]
    with open(osp.join(folder, ANNOTATION_FILE), 'w') as f:
        json.dump(dict(info=dict(description=f'cnet moving shapes, {split}',
                                 generator=params),
                       videos=videos, images=images, annotations=annotations,
                       categories=categories), f)


def generate_moving_shapes(out_dir: str, split: str, num_videos: int,
                           seed: int, **kwargs) -> str:
    """Write ``out_dir/split/{annotations.json, images/}`` unless it exists.

    Args:
        out_dir: root of the set.
        split: the split's folder name.
        num_videos, seed: size and seed of the split.
        **kwargs: the other parameters of :func:`generation_params`.

    Returns:
        The split's annotation file.
    """
    params = generation_params(num_videos, seed, **kwargs)
    final = osp.join(out_dir, split)
    ann_file = osp.join(final, ANNOTATION_FILE)
    if osp.isfile(ann_file):
        return ann_file
    print_log(f'generating the moving-shapes {split} split ({num_videos} '
              f'videos) into {final}', logger='current')
    with written_into_place(final, ann_file) as temporary:
        _write_split(temporary, split, params)
    return ann_file


@DATASETS.register_module()
class MovingShapesDataset(CocoVideoDataset):
    """The synthetic moving-shapes videos; generates the split on first use.

    Args:
        data_root: root folder of the set.
        split: ``'train'`` (60 videos, seed 0) and ``'val'`` (8 videos,
            seed 1) have defaults; other names need ``num_videos`` and
            ``seed``.
        num_videos, seed, num_frames, image_size, max_objects,
        object_size_range, speed_range, drop_ratio, max_occlusion,
        min_visible_size, image_format: see :func:`generation_params`.
        max_frame_dist, pipeline, filter_cfg, test_mode, indices,
        serialize_data, lazy_init: as :class:`CocoVideoDataset`.
    """

    def __init__(self,
                 data_root: str = 'data/moving_shapes',
                 split: str = 'train',
                 num_videos: Optional[int] = None,
                 seed: Optional[int] = None,
                 num_frames: int = 24,
                 image_size: Sequence[int] = (160, 120),
                 max_objects: int = 6,
                 object_size_range: Sequence[float] = (14, 40),
                 speed_range: Sequence[float] = (1.0, 5.0),
                 drop_ratio: float = 0.05,
                 max_occlusion: float = 0.7,
                 min_visible_size: float = 6,
                 image_format: str = 'jpg',
                 max_frame_dist: int = 3,
                 pipeline: Sequence = (),
                 filter_cfg: Optional[dict] = None,
                 test_mode: bool = False,
                 indices: Optional[Sequence[int]] = None,
                 serialize_data: bool = True,
                 lazy_init: bool = False) -> None:
        defaults = DEFAULT_SPLITS.get(split, {})
        if (num_videos is None or seed is None) and not defaults:
            raise ValueError(f'MovingShapesDataset: split {split!r} needs '
                             f'num_videos and seed (defaults exist for '
                             f'{sorted(DEFAULT_SPLITS)})')
        self.split = split
        self.generation = generation_params(
            defaults['num_videos'] if num_videos is None else num_videos,
            defaults['seed'] if seed is None else seed, num_frames,
            image_size, max_objects, object_size_range, speed_range,
            drop_ratio, max_occlusion, min_visible_size, image_format)
        super().__init__(
            ann_file=f'{split}/{ANNOTATION_FILE}', data_root=data_root,
            data_prefix=dict(img=f'{split}/{IMAGE_DIR}/'),
            filter_cfg=filter_cfg, indices=indices,
            serialize_data=serialize_data, pipeline=pipeline,
            test_mode=test_mode, lazy_init=lazy_init,
            max_frame_dist=max_frame_dist)

    def load_data_list(self) -> List[dict]:
        ensure_generated(self.ann_file, lambda: generate_moving_shapes(
            self.data_root, self.split, **self.generation))
        with open(self.ann_file) as f:
            written = json.load(f).get('info', {}).get('generator') or {}
        check_generation(self.ann_file, written, self.generation,
                         osp.dirname(self.ann_file))
        return super().load_data_list()
