"""A synthetic COCO-format set of shapes, generated on first use.

Small images (sides 192–320 px by default, rarely square) on textured, noisy
backgrounds, each with 0–12 filled shapes of four classes (ellipse,
rectangle, triangle, star), 8–160 px, rotated, stretched, shaded, in varied
colours, overlapping one another and the image border. A box is the tight box
of the shape's *visible* pixels (as COCO's boxes enclose the visible
segment). A shape of which more than ``max_occlusion`` of its pixels end up
hidden (by later shapes or by the border), or whose visible box is smaller
than ``object_size_range[0]``, is written as a crowd region (``iscrowd: 1``):
the dataset turns it into an ignore region, so a half-seen shape is neither a
target nor a negative, and COCO's evaluation ignores detections on it.

Generation is deterministic: image ``i`` of a split depends only on
``(seed, i)`` and the parameters, so the same call writes the same json and
the same pixels. A split is written into a temporary folder and renamed into
place, so a reader never sees half a split and two racing processes leave
one complete copy.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log
from mmengine.utils import ProgressBar

from cnet.registry import DATASETS

from .coco import CocoDataset
from .generated import check_generation, ensure_generated, written_into_place

SHAPE_CLASSES = ('ellipse', 'rectangle', 'triangle', 'star')
ANNOTATION_FILE = 'annotations.json'
IMAGE_DIR = 'images'
# Splits a config may name without giving num_images and seed.
DEFAULT_SPLITS = {
    'train': dict(num_images=1500, seed=0),
    'val': dict(num_images=150, seed=1)
}


def shape_outline(kind: str, aspect: float) -> np.ndarray:
    """Unit outline of a shape, centred at 0, y squeezed by ``aspect``.

    Returns:
        (K, 2) float64 vertices.
    """
    if kind == 'ellipse':
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        points = np.stack([np.cos(t), np.sin(t)], axis=1)
    elif kind == 'rectangle':
        points = np.array([[-1., -1.], [1., -1.], [1., 1.], [-1., 1.]])
    elif kind == 'triangle':
        t = np.deg2rad([-90., 30., 150.])
        points = np.stack([np.cos(t), np.sin(t)], axis=1)
    elif kind == 'star':
        t = np.deg2rad(-90. + 36. * np.arange(10))
        radius = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        points = np.stack([np.cos(t), np.sin(t)], axis=1) * radius[:, None]
    else:
        raise ValueError(f'unknown shape {kind!r}; known: {SHAPE_CLASSES}')
    return points * np.array([1.0, aspect])


def place_outline(outline: np.ndarray, angle: float, size: float,
                  center: Tuple[float, float]) -> np.ndarray:
    """Rotate an outline, scale its larger extent to ``size``, move it.

    Returns:
        (K, 2) vertices in image pixels.
    """
    cos, sin = np.cos(angle), np.sin(angle)
    rotated = outline @ np.array([[cos, sin], [-sin, cos]])
    extent = (rotated.max(axis=0) - rotated.min(axis=0)).max()
    middle = (rotated.max(axis=0) + rotated.min(axis=0)) / 2
    return (rotated - middle) * (size / extent) + np.asarray(center)


def rasterize_polygon(
        points: np.ndarray) -> Tuple[np.ndarray, Tuple[int, int]]:
    """Each pixel's covered share of a polygon, 4x supersampled.

    Box convention: pixel (i, j) spans [j, j + 1) × [i, i + 1), so a polygon
    with corners on integers covers whole pixels exactly.

    Args:
        points: (K, 2) vertices (x, y) in pixels.

    Returns:
        ``coverage`` (h, w) uint8, 255 for a fully covered pixel, over a
        window that holds the polygon, and the window's top-left pixel
        ``(x0, y0)``.
    """
    x0, y0 = np.floor(points.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + 1
    fine = np.zeros(((y1 - y0) * 4, (x1 - x0) * 4), dtype=np.uint8)
    # OpenCV centres fine pixel j on j, not j + 0.5, and fills the pixels on
    # the outline too: the coverage reaches a quarter pixel further right and
    # down, which the half-covered threshold of a box never sees. 4 bits of
    # sub-pixel precision (shift=4).
    fine_points = ((points - [x0, y0]) * 4 - 0.5) * 16
    cv2.fillPoly(
        fine, [np.round(fine_points).astype(np.int32)],
        255,
        cv2.LINE_8,
        shift=4)
    coverage = cv2.resize(
        fine, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    return coverage, (int(x0), int(y0))


def random_texture(rng: np.random.Generator, height: int,
                   width: int) -> np.ndarray:
    """A textured background: two-colour gradient, blotches, grain, stripes.

    Returns:
        (height, width, 3) float32 BGR in about 0..255.
    """
    hsv = np.stack([
        rng.integers(0, 180, 2),
        rng.integers(0, 90, 2),
        rng.integers(60, 200, 2)
    ],
                   axis=1).astype(np.uint8)
    colours = cv2.cvtColor(hsv[None], cv2.COLOR_HSV2BGR)[0].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = xs * np.cos(angle) + ys * np.sin(angle)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1.0)
    img = colours[0] + ramp[..., None] * (colours[1] - colours[0])
    blotches = rng.normal(0, 22, (4, 4, 3)).astype(np.float32)
    img += cv2.resize(blotches, (width, height), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 12, (max(height // 6, 2), max(width // 6, 2), 3))
    img += cv2.resize(
        grain.astype(np.float32), (width, height),
        interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        period = rng.uniform(6, 24)
        theta = rng.uniform(0, np.pi)
        phase = (xs * np.cos(theta) + ys * np.sin(theta)) * (2 * np.pi /
                                                             period)
        img += (rng.uniform(5, 14) * np.sin(phase))[..., None]
    return img


def distinct_colour(rng: np.random.Generator,
                    avoid: np.ndarray,
                    min_distance: float = 80.0) -> np.ndarray:
    """A saturated BGR colour at least ``min_distance`` from every row of
    ``avoid`` (M, 3) when one of 20 draws manages it, else the farthest."""
    best, best_distance = None, -1.0
    for _ in range(20):
        hsv = np.array([[[
            rng.integers(0, 180),
            rng.integers(110, 256),
            rng.integers(110, 256)
        ]]],
                       dtype=np.uint8)
        colour = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)
        distance = float(np.linalg.norm(avoid - colour, axis=1).min())
        if distance >= min_distance:
            return colour
        if distance > best_distance:
            best, best_distance = colour, distance
    return best


def render_image(rng: np.random.Generator, image_size_range: Tuple[int, int],
                 max_objects: int, object_size_range: Tuple[float, float],
                 empty_ratio: float,
                 max_occlusion: float) -> Tuple[np.ndarray, List[dict]]:
    """Draw one image and return it with its objects.

    Returns:
        The (H, W, 3) uint8 BGR image, and one dict per object in drawing
        order: ``category`` (index into ``SHAPE_CLASSES``), ``bbox`` COCO
        [x, y, w, h] of the visible pixels, ``area`` (visible pixels) and
        ``iscrowd`` (1 when too hidden or too small to learn from).
    """
    height, width = (
        int(v) for v in rng.integers(
            image_size_range[0], image_size_range[1] + 1, size=2))
    img = random_texture(rng, height, width)
    owner = np.full((height, width), -1, dtype=np.int16)  # top shape per pixel
    # 1..max_objects, skewed towards fewer (mean about max_objects / 4 + 1).
    num_objects = 0 if rng.random() < empty_ratio or max_objects == 0 else \
        1 + int(rng.uniform() ** 3 * max_objects)
    min_size, max_size = object_size_range
    # A pixel box can exceed the outline's extent by up to 2 px: keep <= max.
    max_size = max(min(max_size - 2, 0.75 * min(height, width)), min_size)
    objects, colours = [], {}
    for index in range(num_objects):
        category = int(rng.integers(len(SHAPE_CLASSES)))
        size = float(rng.uniform(min_size, max_size))
        center = (rng.uniform(0.1, 0.9) * width,
                  rng.uniform(0.1, 0.9) * height)
        outline = shape_outline(SHAPE_CLASSES[category],
                                rng.uniform(0.55, 1.0))
        points = place_outline(outline, rng.uniform(0, 2 * np.pi), size,
                               center)

        # Rasterise in a local window that holds the whole shape, so that
        # its full area counts what the border hides; paste the part inside.
        coverage, (x0, y0) = rasterize_polygon(points)
        y1, x1 = y0 + coverage.shape[0], x0 + coverage.shape[1]
        inside = coverage >= 128  # at least half covered: the shape's pixels
        full_area = int(inside.sum())
        if full_area == 0:
            continue
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1, cy1 = min(x1, width), min(y1, height)
        if cx0 >= cx1 or cy0 >= cy1:
            continue
        local = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
        window = (slice(cy0, cy1), slice(cx0, cx1))
        under = inside[local]
        if not under.any():
            continue
        alpha = coverage[local].astype(np.float32)[..., None] / 255.0

        # Unlike what it covers: the background under it and every shape it
        # overlaps, so that each visible part has a visible edge.
        covered = np.unique(owner[window][under])
        avoid = [np.median(img[window][under], axis=0)
                 ] + [colours[i] for i in covered if i >= 0]
        colour = distinct_colour(rng, np.stack(avoid))
        colours[index] = colour
        ys, xs = np.mgrid[cy0:cy1, cx0:cx1].astype(np.float32)
        direction = rng.uniform(0, 2 * np.pi)
        shading = ((xs - center[0]) * np.cos(direction) +
                   (ys - center[1]) * np.sin(direction)) / max(size, 1.0)
        layer = colour + (rng.uniform(15, 40) * shading)[..., None]
        img[window] = img[window] * (1.0 - alpha) + layer * alpha
        owner[window][under] = index
        objects.append(
            dict(index=index, category=category, full_area=full_area))

    img += rng.normal(0, rng.uniform(2, 7), img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)

    annotations = []
    for obj in objects:
        ys, xs = np.nonzero(owner == obj['index'])
        if len(xs) == 0:
            continue  # completely hidden: nothing to learn or to ignore
        x, y = int(xs.min()), int(ys.min())
        w, h = int(xs.max()) + 1 - x, int(ys.max()) + 1 - y
        hidden = 1.0 - len(xs) / obj['full_area']
        too_hard = hidden > max_occlusion or max(w, h) < min_size
        annotations.append(
            dict(
                category=obj['category'],
                bbox=[x, y, w, h],
                area=int(len(xs)),
                iscrowd=int(too_hard)))
    return img, annotations


def generation_params(num_images: int,
                      seed: int,
                      image_size_range: Sequence[int] = (192, 320),
                      max_objects: int = 12,
                      object_size_range: Sequence[float] = (8, 160),
                      empty_ratio: float = 0.08,
                      max_occlusion: float = 0.7,
                      image_format: str = 'jpg') -> Dict:
    """Check the generation parameters and return them as a JSON-able dict."""
    if num_images < 1:
        raise ValueError(f'shapes: num_images must be >= 1, got {num_images}')
    if len(image_size_range) != 2 or not \
            32 <= image_size_range[0] <= image_size_range[1]:
        raise ValueError(f'shapes: image_size_range must be (min, max) sides '
                         f'>= 32, got {image_size_range}')
    if len(object_size_range) != 2 or not \
            2 <= object_size_range[0] <= object_size_range[1]:
        raise ValueError(f'shapes: object_size_range must be (min, max) with '
                         f'2 <= min <= max, got {object_size_range}')
    if max_objects < 0:
        raise ValueError(
            f'shapes: max_objects must be >= 0, got {max_objects}')
    if not 0.0 <= empty_ratio <= 1.0 or not 0.0 <= max_occlusion <= 1.0:
        raise ValueError(f'shapes: empty_ratio and max_occlusion must be in '
                         f'[0, 1], got {empty_ratio} and {max_occlusion}')
    if image_format not in ('jpg', 'png'):
        raise ValueError(f"shapes: image_format must be 'jpg' or 'png', got "
                         f'{image_format!r}')
    return dict(
        num_images=int(num_images),
        seed=int(seed),
        image_size_range=[int(v) for v in image_size_range],
        max_objects=int(max_objects),
        object_size_range=[float(v) for v in object_size_range],
        empty_ratio=float(empty_ratio),
        max_occlusion=float(max_occlusion),
        image_format=image_format)


def _write_split(folder: str, split: str, params: Dict,
                 progress: bool) -> None:
    """Render every image of a split into ``folder`` and write its json."""
    os.makedirs(osp.join(folder, IMAGE_DIR))
    if params['image_format'] == 'jpg':
        encode = [cv2.IMWRITE_JPEG_QUALITY, 95]
    else:
        encode = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    images, annotations = [], []
    bar = ProgressBar(params['num_images']) if progress else None
    for index in range(params['num_images']):
        rng = np.random.default_rng([params['seed'], index])
        img, objects = render_image(rng, params['image_size_range'],
                                    params['max_objects'],
                                    params['object_size_range'],
                                    params['empty_ratio'],
                                    params['max_occlusion'])
        file_name = f"{index:06d}.{params['image_format']}"
        if not cv2.imwrite(
                osp.join(folder, IMAGE_DIR, file_name), img, encode):
            raise OSError(f'could not write {osp.join(folder, file_name)}')
        images.append(
            dict(
                id=index + 1,
                file_name=file_name,
                height=img.shape[0],
                width=img.shape[1]))
        for obj in objects:
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=index + 1,
                    category_id=obj['category'] + 1,
                    bbox=obj['bbox'],
                    area=obj['area'],
                    iscrowd=obj['iscrowd']))
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.file.write('\n')
    categories = [
        dict(id=i + 1, name=name, supercategory='shape')
        for i, name in enumerate(SHAPE_CLASSES)
    ]
    with open(osp.join(folder, ANNOTATION_FILE), 'w') as f:
        json.dump(
            dict(
                info=dict(
                    description=f'cnet synthetic shapes, {split}',
                    generator=params),
                images=images,
                annotations=annotations,
                categories=categories), f)


def generate_shapes_dataset(out_dir: str,
                            split: str,
                            num_images: int,
                            seed: int,
                            image_size_range: Sequence[int] = (192, 320),
                            max_objects: int = 12,
                            object_size_range: Sequence[float] = (8, 160),
                            empty_ratio: float = 0.08,
                            max_occlusion: float = 0.7,
                            image_format: str = 'jpg',
                            progress: bool = True) -> str:
    """Write ``out_dir/split/{annotations.json, images/}`` unless it exists.

    The split is rendered into a temporary sibling folder and renamed into
    place; if another process finished first, its copy is kept.

    Args:
        out_dir: root of the set (``data_root`` of ``ShapesDataset``).
        split: folder name of the split, e.g. ``'train'``.
        num_images: images in the split.
        seed: the split's seed (use different seeds for different splits).
        image_size_range: (min, max) of each image side, drawn separately.
        max_objects: shapes per non-empty image are drawn from 1..max.
        object_size_range: (min, max) larger extent of a shape, log-uniform.
        empty_ratio: share of images drawn without any shape.
        max_occlusion: hidden share beyond which a shape becomes a crowd
            (ignore) region.
        image_format: ``'jpg'`` (quality 95) or ``'png'``.
        progress: show a progress bar.

    Returns:
        The path of the split's annotation file.
    """
    params = generation_params(num_images, seed, image_size_range, max_objects,
                               object_size_range, empty_ratio, max_occlusion,
                               image_format)
    final = osp.join(out_dir, split)
    ann_file = osp.join(final, ANNOTATION_FILE)
    if osp.isfile(ann_file):
        return ann_file
    print_log(
        f'generating the shapes {split} split ({num_images} images) '
        f'into {final}',
        logger='current')
    with written_into_place(final, ann_file) as temporary:
        _write_split(temporary, split, params, progress)
    return ann_file


@DATASETS.register_module()
class ShapesDataset(CocoDataset):
    """The synthetic shapes set; generates its split on first use.

    Reads ``data_root/split/annotations.json`` (images in
    ``data_root/split/images/``), generating the split first when the file
    does not exist. In distributed runs the first process of each node
    generates while the others wait at a barrier, so every process must
    build the dataset (as mmengine's Runner does). An existing split made
    with other parameters is an error (delete it or use another
    ``data_root``).

    Args:
        data_root: root folder of the set.
        split: ``'train'`` and ``'val'`` have default sizes and seeds
            (1500 images seed 0, 150 images seed 1); other names need both.
        num_images: images in the split (default by split).
        seed: the split's seed (default by split).
        image_size_range, max_objects, object_size_range, empty_ratio,
        max_occlusion, image_format: see ``generate_shapes_dataset``.
        pipeline, filter_cfg, test_mode, indices, serialize_data, lazy_init,
        max_refetch, skip_bad_samples: as ``CocoDataset``.
    """

    def __init__(self,
                 data_root: str = 'data/shapes',
                 split: str = 'train',
                 num_images: Optional[int] = None,
                 seed: Optional[int] = None,
                 image_size_range: Sequence[int] = (192, 320),
                 max_objects: int = 12,
                 object_size_range: Sequence[float] = (8, 160),
                 empty_ratio: float = 0.08,
                 max_occlusion: float = 0.7,
                 image_format: str = 'jpg',
                 pipeline: Sequence = (),
                 filter_cfg: Optional[dict] = None,
                 test_mode: bool = False,
                 indices: Optional[Sequence[int]] = None,
                 serialize_data: bool = True,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 skip_bad_samples: Optional[bool] = None) -> None:
        defaults = DEFAULT_SPLITS.get(split, {})
        if num_images is None or seed is None:
            if not defaults:
                raise ValueError(f'ShapesDataset: split {split!r} has no '
                                 f'default size and seed; give num_images '
                                 f'and seed (defaults exist for '
                                 f'{sorted(DEFAULT_SPLITS)})')
            num_images = defaults['num_images'] if num_images is None \
                else num_images
            seed = defaults['seed'] if seed is None else seed
        self.split = split
        self.generation = generation_params(num_images, seed, image_size_range,
                                            max_objects, object_size_range,
                                            empty_ratio, max_occlusion,
                                            image_format)
        super().__init__(
            ann_file=f'{split}/{ANNOTATION_FILE}',
            data_root=data_root,
            data_prefix=dict(img=f'{split}/{IMAGE_DIR}/'),
            filter_cfg=filter_cfg,
            indices=indices,
            serialize_data=serialize_data,
            pipeline=pipeline,
            test_mode=test_mode,
            lazy_init=lazy_init,
            max_refetch=max_refetch,
            skip_bad_samples=skip_bad_samples)

    def load_data_list(self) -> List[dict]:
        ensure_generated(
            self.ann_file, lambda: generate_shapes_dataset(
                self.data_root, self.split, **self.generation))
        with open(self.ann_file) as f:
            written = json.load(f).get('info', {}).get('generator') or {}
        check_generation(self.ann_file, written, self.generation,
                         osp.dirname(self.ann_file))
        return super().load_data_list()
