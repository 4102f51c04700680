"""A synthetic KITTI: cuboids on a ground plane, seen through a KITTI-like P2.

Written in KITTI's own layout (``training/image_2``, ``label_2``, ``calib``,
``ImageSets/{train,val,trainval}.txt``), so :class:`KittiMonoDataset`, the
metric and every tool read it exactly as the real set. Images are KITTI at
half resolution (621 × 188, P2 of drive 0009 halved); each holds 1–7 boxes
of the three classes (Car, Pedestrian, Cyclist, with KITTI-like sizes) on a
flat road 1.65 m below the camera, at depths in ``depth_range`` (5–40 m by
default); 70 % of the cars and cyclists drive along the road (as most of
KITTI's), the others and the pedestrians are turned at random. Faces are
shaded by their normal; the front face (+x of the box before its turn, the
direction ``rotation_y`` points to) is tinted light, the back one dark and
the right side darker than the left, so that the orientation can be seen.
Objects are painted far to near; the labels carry truncation (share of the
projected box outside the image), occlusion levels 0/1/2 from the hidden
share of their pixels, alpha and the 2-D box of the projected corners
clipped to the image; objects hidden by more than 85 %, or smaller than 6
px, become DontCare regions.

Generation is deterministic: image ``i`` depends only on ``(seed, i)``; the
set is written into a temporary folder and renamed into place.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log

from cnet.registry import DATASETS
from cnet.structures.bbox3d import BOX3D_FACES, box3d_corners, project_to_image

from .generated import check_generation, ensure_generated, written_into_place
from .kitti_mono import KITTI_CLASSES, KittiMonoDataset

IMAGE_SIZE = (621, 188)  # (w, h): KITTI's 1242 x 375, halved
# KITTI's P2 (drive 0009) at half resolution.
SYNTHETIC_P2 = np.array([[353.52465, 0., 302.0407, 22.879155],
                         [0., 353.52465, 90.2533, -0.17270785],
                         [0., 0., 1., 0.004981016]])
CAMERA_HEIGHT = 1.65
# Bumped whenever the drawing changes, so that a set drawn by an older
# version is refused (check_generation) rather than silently reused.
# 2: the right side darker than the left.
# 3: most vehicles along the road (ROAD_ALIGNED_SHARE).
DRAWING_VERSION = 3
ROAD_ALIGNED_SHARE = 0.7
# Camera z of the objects' centres (m).
DEPTH_RANGE = (5.0, 40.0)
# Mean and spread of (h, w, l) per class, about KITTI's.
CLASS_SIZES = {
    'Car': ((1.53, 1.63, 3.88), (0.10, 0.08, 0.30)),
    'Pedestrian': ((1.76, 0.66, 0.84), (0.10, 0.06, 0.10)),
    'Cyclist': ((1.74, 0.60, 1.76), (0.08, 0.05, 0.12))
}
CLASS_WEIGHTS = {'Car': 0.6, 'Pedestrian': 0.2, 'Cyclist': 0.2}
# How many objects a scene tries to place (inclusive; BEV overlaps are
# skipped, so a crowded scene may hold fewer).
OBJECTS_PER_IMAGE = (1, 7)
GENERATOR_FILE = 'generator.json'


def _background(rng: np.random.Generator, width: int, height: int,
                horizon: float) -> np.ndarray:
    """Sky above the horizon, a noisy road below, in float32 BGR."""
    ys = np.arange(height, dtype=np.float32)[:, None, None]
    sky_top = np.array(
        [rng.uniform(150, 220),
         rng.uniform(110, 170),
         rng.uniform(60, 120)], np.float32)
    sky = sky_top + (ys / max(horizon, 1)) * (235 - sky_top)
    grey = rng.uniform(70, 130)
    road = np.array([grey, grey, grey], np.float32) + \
        rng.normal(0, 6, 3).astype(np.float32)
    road = road * (0.85 + 0.15 * (ys - horizon) / max(height - horizon, 1))
    img = np.where(ys < horizon, sky, road) * np.ones(
        (1, width, 1), np.float32)
    blotches = rng.normal(0, 10, (6, 12, 3)).astype(np.float32)
    img += cv2.resize(blotches, (width, height), interpolation=cv2.INTER_CUBIC)
    return img


def _heading(rng: np.random.Generator, name: str) -> float:
    """``rotation_y`` of a new object: most vehicles follow the road (±π/2
    with a spread of 0.15 rad, as most of KITTI's), the other vehicles and
    every pedestrian face anywhere."""
    if name != 'Pedestrian' and rng.random() < ROAD_ALIGNED_SHARE:
        heading = float(rng.choice([-0.5, 0.5])) * np.pi + \
            rng.normal(0, 0.15)
        return float((heading + np.pi) % (2 * np.pi) - np.pi)
    return float(rng.uniform(-np.pi, np.pi))


def _place_objects(
        rng: np.random.Generator,
        cam2img: np.ndarray,
        width: int,
        depth_range: Tuple[float, float],
        objects_per_image: Tuple[int, int] = OBJECTS_PER_IMAGE,
        class_weights: Optional[Dict[str, float]] = None) -> List[Dict]:
    """Random boxes on the road that do not overlap in the bird's-eye view."""
    class_weights = class_weights or CLASS_WEIGHTS
    names = list(CLASS_SIZES)
    weights = np.array([class_weights.get(n, 0.) for n in names])
    objects = []
    low, high = objects_per_image
    for _ in range(int(rng.integers(low, high + 1))):
        for _attempt in range(20):
            name = names[int(
                rng.choice(len(names), p=weights / weights.sum()))]
            mean, spread = CLASS_SIZES[name]
            dimensions = np.asarray(mean) + rng.normal(0, 1, 3) * spread
            z = rng.uniform(*depth_range)
            u = rng.uniform(-0.05 * width, 1.05 * width)
            x = (u * z - cam2img[0, 2] * z - cam2img[0, 3]) / cam2img[0, 0]
            location = np.array([x, CAMERA_HEIGHT, z])
            radius = np.hypot(dimensions[1], dimensions[2]) / 2
            if all(
                    np.hypot(*(location[[0, 2]] -
                               o['location'][[0, 2]])) > radius + o['radius'] +
                    0.3 for o in objects):
                objects.append(
                    dict(
                        name=name,
                        dimensions=dimensions,
                        location=location,
                        radius=radius,
                        rotation_y=_heading(rng, name)))
                break
    return objects


def render_scene(
    rng: np.random.Generator,
    cam2img: np.ndarray = SYNTHETIC_P2,
    image_size: Tuple[int, int] = IMAGE_SIZE,
    depth_range: Tuple[float, float] = DEPTH_RANGE,
    objects_per_image: Tuple[int, int] = OBJECTS_PER_IMAGE,
    class_weights: Optional[Dict[str, float]] = None
) -> Tuple[np.ndarray, List[str]]:
    """Draw one scene; return the uint8 BGR image and its label lines."""
    width, height = image_size
    img = _background(rng, width, height, horizon=float(cam2img[1, 2]))
    objects = _place_objects(rng, cam2img, width, depth_range,
                             objects_per_image, class_weights)
    # Far to near: nearer objects are painted over farther ones.
    objects.sort(key=lambda o: -o['location'][2])
    owner = np.full((height, width), -1, np.int32)
    full_areas = []
    light = np.array([0.4, -0.8, -0.45])
    light /= np.linalg.norm(light)
    for index, obj in enumerate(objects):
        corners = box3d_corners(obj['dimensions'], obj['location'],
                                obj['rotation_y'])
        pixels = project_to_image(corners, cam2img)
        body = cv2.cvtColor(
            np.uint8([[[
                rng.integers(0, 180),
                rng.integers(90, 255),
                rng.integers(70, 230)
            ]]]), cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)
        alone = np.zeros((height, width), np.uint8)
        centre = corners.mean(axis=0)
        for face, ids in BOX3D_FACES.items():
            points = corners[list(ids)]
            normal = points.mean(axis=0) - centre
            normal /= np.linalg.norm(normal)
            if np.dot(points.mean(axis=0), normal) >= 0:
                continue  # faces away from the camera
            shade = 0.55 + 0.45 * max(0.0, float(-np.dot(normal, light)))
            colour = body * shade
            if face == 'front':
                colour = 0.45 * colour + 0.55 * np.array([235., 245., 250.])
            elif face == 'back':
                colour = 0.4 * colour
            elif face == 'right':
                colour = 0.65 * colour
            polygon = np.round(pixels[list(ids)] * 16).astype(np.int32)
            mask = np.zeros((height, width), np.uint8)
            cv2.fillConvexPoly(mask, polygon, 1, cv2.LINE_8, shift=4)
            inside = mask > 0
            img[inside] = colour
            owner[inside] = index
            alone |= mask
        full_areas.append(int(alone.sum()))
    img += rng.normal(0, 4, img.shape).astype(np.float32)
    img = cv2.GaussianBlur(np.clip(img, 0, 255), (3, 3), 0.6)
    img = img.astype(np.uint8)

    lines = []
    for index, obj in enumerate(objects):
        corners = box3d_corners(obj['dimensions'], obj['location'],
                                obj['rotation_y'])
        pixels = project_to_image(corners, cam2img)
        x1, y1 = pixels.min(axis=0)
        x2, y2 = pixels.max(axis=0)
        full_box = max((x2 - x1) * (y2 - y1), 1e-6)
        cx1, cy1 = np.clip([x1, y1], 0, [width - 1, height - 1])
        cx2, cy2 = np.clip([x2, y2], 0, [width - 1, height - 1])
        truncated = 1.0 - max(cx2 - cx1, 0) * max(cy2 - cy1, 0) / full_box
        visible = int((owner == index).sum())
        hidden = 1.0 - visible / max(full_areas[index], 1)
        bbox = (cx1, cy1, cx2, cy2)
        if hidden > 0.85 or cy2 - cy1 < 6 or cx2 - cx1 < 2 or truncated > 0.8:
            if cx2 - cx1 >= 1 and cy2 - cy1 >= 1 and visible > 0:
                lines.append('DontCare -1 -1 -10 ' + ' '.join(f'{v:.2f}'
                                                              for v in bbox) +
                             ' -1 -1 -1 -1000 -1000 -1000 -10')
            continue
        occluded = 0 if hidden < 0.15 else (1 if hidden < 0.5 else 2)
        x, _, z = obj['location']
        alpha = obj['rotation_y'] - np.arctan2(x, z)
        alpha = (alpha + np.pi) % (2 * np.pi) - np.pi
        h, w, l = obj['dimensions']
        lines.append(f"{obj['name']} {truncated:.2f} {occluded} {alpha:.4f} " +
                     ' '.join(f'{v:.2f}'
                              for v in bbox) + f' {h:.4f} {w:.4f} {l:.4f} ' +
                     ' '.join(f'{v:.4f}' for v in obj['location']) +
                     f" {obj['rotation_y']:.4f}")
    return img, lines


def _calib_text(cam2img: np.ndarray) -> str:

    def row(name, matrix):
        return name + ': ' + ' '.join(
            f'{v:.12e}' for v in np.asarray(matrix).reshape(-1)) + '\n'

    p0 = cam2img.copy()
    p0[:, 3] = 0
    identity_34 = np.eye(4)[:3]
    return (row('P0', p0) + row('P1', p0) + row('P2', cam2img) +
            row('P3', cam2img) + row('R0_rect', np.eye(3)) +
            row('Tr_velo_to_cam', identity_34) +
            row('Tr_imu_to_velo', identity_34))


def generation_params(
        num_train: int,
        num_val: int,
        seed: int,
        depth_range: Sequence[float] = DEPTH_RANGE,
        objects_per_image: Sequence[int] = OBJECTS_PER_IMAGE,
        class_weights: Optional[Mapping[str, float]] = None) -> Dict:
    """Check the generation parameters; return them as a JSON-able dict."""
    if num_train < 0 or num_val < 0:
        raise ValueError(f'synthetic KITTI: num_train and num_val must be '
                         f'>= 0, got {num_train}, {num_val}')
    if len(depth_range) != 2 or not 2.0 <= depth_range[0] <= depth_range[1]:
        raise ValueError(f'synthetic KITTI: depth_range must be (near, far) '
                         f'metres with 2 <= near <= far, got {depth_range}')
    if (len(objects_per_image) != 2
            or not 0 <= objects_per_image[0] <= objects_per_image[1] <= 50):
        raise ValueError(f'synthetic KITTI: objects_per_image must be (min, '
                         f"max) with 0 <= min <= max <= 50 (KITTI's "
                         f'max_objs), got {objects_per_image}')
    class_weights = dict(CLASS_WEIGHTS if class_weights is
                         None else class_weights)
    unknown = sorted(set(class_weights) - set(CLASS_SIZES))
    if (unknown or any(w < 0 for w in class_weights.values())
            or sum(class_weights.values()) <= 0):
        raise ValueError(f'synthetic KITTI: class_weights must weigh '
                         f'{sorted(CLASS_SIZES)} with non-negative weights '
                         f'of positive sum, got {class_weights}')
    return dict(
        num_train=int(num_train),
        num_val=int(num_val),
        seed=int(seed),
        image_size=list(IMAGE_SIZE),
        depth_range=[float(v) for v in depth_range],
        objects_per_image=[int(v) for v in objects_per_image],
        class_weights={
            name: float(class_weights.get(name, 0.))
            for name in CLASS_SIZES
        },
        drawing=DRAWING_VERSION)


def generate_synthetic_kitti(
        root: str,
        num_train: int = 600,
        num_val: int = 150,
        seed: int = 0,
        depth_range: Sequence[float] = DEPTH_RANGE,
        objects_per_image: Sequence[int] = (OBJECTS_PER_IMAGE),
        class_weights: Optional[Mapping[str, float]] = None) -> str:
    """Write the set under ``root`` unless it is there; return ``root``."""
    params = generation_params(num_train, num_val, seed, depth_range,
                               objects_per_image, class_weights)
    if osp.isfile(osp.join(root, GENERATOR_FILE)):
        return root
    print_log(
        f'generating the synthetic KITTI set ({num_train} train, '
        f'{num_val} val images) into {root}',
        logger='current')
    with written_into_place(root, osp.join(root, GENERATOR_FILE)) as temporary:
        folders = {
            name: osp.join(temporary, 'training', name)
            for name in ('image_2', 'label_2', 'calib')
        }
        for folder in folders.values():
            os.makedirs(folder)
        os.makedirs(osp.join(temporary, 'ImageSets'))
        ids = [f'{i:06d}' for i in range(num_train + num_val)]
        for i, image_id in enumerate(ids):
            img, lines = render_scene(
                np.random.default_rng([seed, i]),
                depth_range=params['depth_range'],
                objects_per_image=params['objects_per_image'],
                class_weights=params['class_weights'])
            cv2.imwrite(
                osp.join(folders['image_2'], f'{image_id}.png'), img,
                [cv2.IMWRITE_PNG_COMPRESSION, 1])
            with open(osp.join(folders['label_2'], f'{image_id}.txt'),
                      'w') as f:
                f.write('\n'.join(lines) + ('\n' if lines else ''))
            with open(osp.join(folders['calib'], f'{image_id}.txt'), 'w') as f:
                f.write(_calib_text(SYNTHETIC_P2))
        for name, subset in (('train', ids[:num_train]),
                             ('val', ids[num_train:]), ('trainval', ids)):
            with open(osp.join(temporary, 'ImageSets', f'{name}.txt'),
                      'w') as f:
                f.write('\n'.join(subset) + '\n')
        with open(osp.join(temporary, GENERATOR_FILE), 'w') as f:
            json.dump(params, f)
    return root


@DATASETS.register_module()
class SyntheticKittiDataset(KittiMonoDataset):
    """The synthetic KITTI set, generated under ``data_root`` on first use.

    Args:
        data_root: where the set lives (generated when
            ``generator.json`` is missing; an existing set made with other
            parameters is an error).
        split_file: ``'ImageSets/train.txt'``, ``'ImageSets/val.txt'`` or
            ``'ImageSets/trainval.txt'``.
        num_train, num_val, seed, depth_range, objects_per_image,
            class_weights: generation parameters (depth_range: camera z of
            the objects, metres; objects_per_image: how many objects a
            scene tries to place, inclusive; class_weights: how often each
            of Car, Pedestrian and Cyclist is drawn).
        other arguments: as :class:`KittiMonoDataset`.
    """

    def __init__(self,
                 data_root: str = 'data/kitti_synthetic',
                 split_file: str = 'ImageSets/train.txt',
                 num_train: int = 600,
                 num_val: int = 150,
                 seed: int = 0,
                 depth_range: Sequence[float] = DEPTH_RANGE,
                 objects_per_image: Sequence[int] = OBJECTS_PER_IMAGE,
                 class_weights: Optional[Mapping[str, float]] = None,
                 classes: Sequence[str] = KITTI_CLASSES,
                 filter_empty_gt: bool = False,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 indices: Optional[Sequence[int]] = None,
                 serialize_data: bool = True,
                 lazy_init: bool = False) -> None:
        self.generation = generation_params(num_train, num_val, seed,
                                            depth_range, objects_per_image,
                                            class_weights)
        super().__init__(
            data_root=data_root,
            split_file=split_file,
            classes=classes,
            filter_empty_gt=filter_empty_gt,
            pipeline=pipeline,
            test_mode=test_mode,
            indices=indices,
            serialize_data=serialize_data,
            lazy_init=lazy_init)

    def load_data_list(self) -> List[dict]:
        marker = osp.join(self.data_root, GENERATOR_FILE)
        ensure_generated(
            marker, lambda: generate_synthetic_kitti(
                self.data_root, **{
                    k: v
                    for k, v in self.generation.items()
                    if k not in ('image_size', 'drawing')
                }))
        with open(marker) as f:
            written = json.load(f)
        check_generation(marker, written, self.generation, self.data_root)
        return super().load_data_list()


__all__ = [
    'SyntheticKittiDataset', 'generate_synthetic_kitti', 'render_scene',
    'SYNTHETIC_P2', 'IMAGE_SIZE'
]
