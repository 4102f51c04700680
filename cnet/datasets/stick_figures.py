"""A synthetic COCO-keypoints set of stick figures, generated on first use.

Each image (sides 128–192 px by default) holds 0–4 figures on a textured,
noisy background. A figure has COCO's 17 joints: a head disc with nose, eyes
and ears, shoulders, elbows, wrists, hips, knees and ankles joined by thick
limbs around a filled torso. Poses vary (torso tilt, body turn, arm and leg
angles, elbow and knee bends), as do scales and colours; the person's left
limbs are drawn lighter than its right ones (the only left/right cue when
it is seen from the back, which happens for a quarter of the figures).

Later figures and random occluding patches hide parts of earlier ones: a
joint whose pixel ends up under something else is labelled hidden (v = 1,
as COCO's "labelled but not visible"), one outside the image is not
labelled (v = 0). The box is the tight box of the figure's visible pixels
and ``area`` their count, as COCO's person boxes and segment areas. A figure
mostly hidden (more than ``max_occlusion`` of its pixels) or too small is a
crowd region (``iscrowd: 1``, no keypoints): an ignore region for training
and for COCO's evaluation.

Image ``i`` of a split depends only on ``(seed, i)`` and the parameters; a
split is written into a temporary folder and renamed into place.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log

from cnet.registry import DATASETS
from cnet.structures.keypoints import COCO_KEYPOINT_NAMES, COCO_SKELETON

from .coco_keypoints import CocoKeypointsDataset
from .generated import check_generation, ensure_generated, written_into_place
from .shapes import random_texture

ANNOTATION_FILE = 'annotations.json'
IMAGE_DIR = 'images'
# Bumped whenever the drawing changes, so that a set drawn by an older
# version is refused (check_generation) rather than silently reused.
# 2: limbs 0.07 of the figure's height thick (was 0.05); arms raised up to
#    2.0 rad (was 2.6), elbows bent up to 1.6 rad (2.2), knees 1.0 (1.3).
DRAWING_VERSION = 2
DEFAULT_SPLITS = {
    'train': dict(num_images=1000, seed=0),
    'val': dict(num_images=100, seed=1)
}

# Joint indices (COCO order).
(NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR, LEFT_SHOULDER, RIGHT_SHOULDER,
 LEFT_ELBOW, RIGHT_ELBOW, LEFT_WRIST, RIGHT_WRIST, LEFT_HIP, RIGHT_HIP,
 LEFT_KNEE, RIGHT_KNEE, LEFT_ANKLE, RIGHT_ANKLE) = range(17)
# Limbs drawn as thick lines: (joint, joint, side) with side +1 left, -1
# right.
LIMBS = ((LEFT_SHOULDER, LEFT_ELBOW, 1), (LEFT_ELBOW, LEFT_WRIST, 1),
         (RIGHT_SHOULDER, RIGHT_ELBOW, -1), (RIGHT_ELBOW, RIGHT_WRIST, -1),
         (LEFT_HIP, LEFT_KNEE, 1), (LEFT_KNEE, LEFT_ANKLE, 1),
         (RIGHT_HIP, RIGHT_KNEE, -1), (RIGHT_KNEE, RIGHT_ANKLE, -1))


def _rotate(vector: np.ndarray, angle: float) -> np.ndarray:
    cos, sin = np.cos(angle), np.sin(angle)
    return np.array(
        [cos * vector[0] - sin * vector[1], sin * vector[0] + cos * vector[1]])


def random_pose(rng: np.random.Generator, height: float,
                center: Tuple[float, float]) -> Tuple[np.ndarray, dict]:
    """Joints of one figure ``height`` px tall, its hips near ``center``.

    Image axes: x right, y down. Seen from the front, the person's left is
    on the image's right; ``facing`` −1 is a figure seen from the back.

    Returns:
        (17, 2) joint positions and the drawing sizes (``head``, ``limb``).
    """
    facing = 1.0 if rng.random() < 0.75 else -1.0
    turn = rng.uniform(0.35, 1.0)  # 1: square to the camera
    tilt = rng.normal(0, np.deg2rad(12))  # whole-body lean
    up = _rotate(np.array([0.0, -1.0]), tilt)
    side = _rotate(np.array([1.0, 0.0]), tilt) * facing  # towards its left
    joints = np.zeros((17, 2))
    hip = np.asarray(center, dtype=np.float64)
    neck = hip + up * 0.30 * height
    head = neck + up * 0.12 * height
    head_radius = 0.075 * height
    joints[LEFT_SHOULDER] = neck + side * 0.11 * height * turn
    joints[RIGHT_SHOULDER] = neck - side * 0.11 * height * turn
    joints[LEFT_HIP] = hip + side * 0.075 * height * turn
    joints[RIGHT_HIP] = hip - side * 0.075 * height * turn
    # Face: seen from the back only the ears are on the outline; the nose
    # and eyes are then where they would be, hidden behind the head.
    look = rng.uniform(-0.35, 0.35) * head_radius
    joints[NOSE] = head + side * look * facing + up * -0.15 * head_radius
    for eye, sign in ((LEFT_EYE, 1), (RIGHT_EYE, -1)):
        joints[eye] = (
            head + side * (sign * 0.42 * head_radius * turn + look * facing) +
            up * 0.25 * head_radius)
    for ear, sign in ((LEFT_EAR, 1), (RIGHT_EAR, -1)):
        joints[ear] = head + side * sign * 0.95 * head_radius * turn

    down = -up
    for shoulder, elbow, wrist, sign in ((LEFT_SHOULDER, LEFT_ELBOW,
                                          LEFT_WRIST, 1),
                                         (RIGHT_SHOULDER, RIGHT_ELBOW,
                                          RIGHT_WRIST, -1)):
        # Abduction from hanging down, outwards; the elbow bends either way.
        raise_angle = rng.uniform(-0.2, 2.0) * sign * facing
        upper = _rotate(down, -raise_angle) * 0.17 * height
        joints[elbow] = joints[shoulder] + upper
        bend = rng.uniform(-1.6, 1.6)
        joints[wrist] = joints[elbow] + _rotate(upper, bend) * (0.15 / 0.17)
    for hip_joint, knee, ankle, sign in ((LEFT_HIP, LEFT_KNEE, LEFT_ANKLE, 1),
                                         (RIGHT_HIP, RIGHT_KNEE, RIGHT_ANKLE,
                                          -1)):
        spread = rng.uniform(-0.2, 0.7) * sign * facing
        thigh = _rotate(down, -spread) * 0.23 * height
        joints[knee] = joints[hip_joint] + thigh
        knee_bend = rng.uniform(-1.0, 1.0)
        joints[ankle] = joints[knee] + _rotate(thigh,
                                               knee_bend) * (0.22 / 0.23)
    sizes = dict(
        head=head_radius,
        head_center=head,
        facing=facing,
        limb=max(2.0, 0.07 * height))
    return joints, sizes


def _shade(colour: np.ndarray, factor: float) -> Tuple[float, float, float]:
    return tuple(float(c) for c in np.clip(colour * factor, 0, 255))


def draw_figure(layer: np.ndarray, mask: np.ndarray, joints: np.ndarray,
                sizes: dict, colour: np.ndarray) -> None:
    """Draw one figure into ``layer`` (BGR float) and ``mask`` (uint8)."""
    shift = 4  # sub-pixel precision of OpenCV's drawing
    scale = 1 << shift

    def pt(p):
        return (int(round(p[0] * scale)), int(round(p[1] * scale)))

    limb = int(round(sizes['limb']))
    torso = joints[[LEFT_SHOULDER, RIGHT_SHOULDER, RIGHT_HIP, LEFT_HIP]]
    # The back is seen darker than the front.
    body = colour * (1.0 if sizes['facing'] > 0 else 0.8)
    for canvas, value in ((layer, None), (mask, 255)):

        def paint(c):
            return value if value is not None else c

        cv2.fillConvexPoly(canvas, np.array([pt(p) for p in torso], np.int32),
                           paint(_shade(body, 1.0)), cv2.LINE_8, shift)
        # Right limbs first: the left ones are the lighter, nearer side.
        for first, second, side in sorted(LIMBS, key=lambda limb: limb[2]):
            cv2.line(canvas, pt(joints[first]), pt(joints[second]),
                     paint(_shade(body, 1.35 if side > 0 else 0.6)), limb,
                     cv2.LINE_8, shift)
        neck = (joints[LEFT_SHOULDER] + joints[RIGHT_SHOULDER]) / 2
        cv2.line(canvas, pt(neck), pt(sizes['head_center']),
                 paint(_shade(body, 1.0)), limb, cv2.LINE_8, shift)
        cv2.circle(canvas, pt(sizes['head_center']),
                   int(round(sizes['head'] * scale)),
                   paint(_shade(body, 1.15)), -1, cv2.LINE_8, shift)
    # Joint markers and the face, on the colour layer only.
    dot = max(1.0, 0.35 * sizes['limb'])
    for j in range(5, 17):
        cv2.circle(layer, pt(joints[j]), int(round(dot * scale)),
                   _shade(body, 0.35), -1, cv2.LINE_8, shift)
    if sizes['facing'] > 0:
        face = (NOSE, LEFT_EYE, RIGHT_EYE)
    else:
        face = ()
    for j in face + (LEFT_EAR, RIGHT_EAR):
        cv2.circle(layer, pt(joints[j]), int(round(0.6 * dot * scale)),
                   (20.0, 20.0, 20.0) if j != NOSE else (40.0, 40.0, 200.0),
                   -1, cv2.LINE_8, shift)


def render_image(rng: np.random.Generator, image_size_range: Tuple[int, int],
                 max_figures: int, figure_size_range: Tuple[float, float],
                 occluder_prob: float,
                 max_occlusion: float) -> Tuple[np.ndarray, List[dict]]:
    """Draw one image; return it with one dict per figure: ``bbox`` COCO
    [x, y, w, h] of the visible pixels, ``area``, ``keypoints`` (17, 3)
    and ``iscrowd``."""
    height, width = (
        int(v) for v in rng.integers(
            image_size_range[0], image_size_range[1] + 1, size=2))
    img = random_texture(rng, height, width)
    owner = np.full((height, width), -1, dtype=np.int16)
    num_figures = 1 + int(rng.uniform() ** 1.5 * max_figures) \
        if max_figures > 0 else 0
    num_figures = min(num_figures, max_figures)
    figures = []
    for index in range(num_figures):
        size = float(
            np.exp(
                rng.uniform(
                    np.log(figure_size_range[0]),
                    np.log(figure_size_range[1]))))
        center = (rng.uniform(0.15, 0.85) * width,
                  rng.uniform(0.3, 0.7) * height)
        joints, sizes = random_pose(rng, size, center)
        hsv = np.array([[[
            rng.integers(0, 180),
            rng.integers(120, 256),
            rng.integers(110, 220)
        ]]],
                       dtype=np.uint8)
        colour = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)
        layer = np.zeros((height, width, 3), np.float32)
        mask = np.zeros((height, width), np.uint8)
        draw_figure(layer, mask, joints, sizes, colour)
        drawn = mask > 0
        full_area = int(drawn.sum())
        if full_area == 0:
            continue
        img[drawn] = layer[drawn]
        owner[drawn] = index
        figures.append(
            dict(
                index=index,
                joints=joints,
                full_area=full_area,
                facing=sizes['facing']))
    if rng.random() < occluder_prob:
        for _ in range(int(rng.integers(1, 3))):
            w = int(rng.uniform(0.15, 0.4) * width)
            h = int(rng.uniform(0.15, 0.4) * height)
            x0 = int(rng.integers(0, width - w + 1))
            y0 = int(rng.integers(0, height - h + 1))
            patch = random_texture(rng, h, w)
            img[y0:y0 + h, x0:x0 + w] = patch
            owner[y0:y0 + h, x0:x0 + w] = -2
    img += rng.normal(0, rng.uniform(2, 6), img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)

    annotations = []
    for figure in figures:
        ys, xs = np.nonzero(owner == figure['index'])
        if len(xs) == 0:
            continue
        x, y = int(xs.min()), int(ys.min())
        w, h = int(xs.max()) + 1 - x, int(ys.max()) + 1 - y
        hidden = 1.0 - len(xs) / figure['full_area']
        keypoints = np.zeros((17, 3))
        for j, (jx, jy) in enumerate(figure['joints']):
            if not (0 <= jx < width and 0 <= jy < height):
                continue  # outside: not labelled
            seen = owner[int(jy), int(jx)] == figure['index']
            if figure['facing'] < 0 and j in (NOSE, LEFT_EYE, RIGHT_EYE):
                seen = False  # behind the head
            keypoints[j] = (round(float(jx), 2), round(float(jy),
                                                       2), 2 if seen else 1)
        too_hard = hidden > max_occlusion or max(w, h) < 16
        if too_hard:
            keypoints[:] = 0
        annotations.append(
            dict(
                bbox=[x, y, w, h],
                area=int(len(xs)),
                iscrowd=int(too_hard),
                keypoints=keypoints.reshape(-1).tolist(),
                num_keypoints=int((keypoints[:, 2] > 0).sum())))
    return img, annotations


def generation_params(num_images: int,
                      seed: int,
                      image_size_range: Sequence[int] = (128, 192),
                      max_figures: int = 4,
                      figure_size_range: Sequence[float] = (48, 160),
                      occluder_prob: float = 0.3,
                      max_occlusion: float = 0.6) -> Dict:
    """Check the generation parameters; return them as a JSON-able dict."""
    if num_images < 1:
        raise ValueError(f'stick figures: num_images must be >= 1, got '
                         f'{num_images}')
    if len(image_size_range) != 2 or not \
            32 <= image_size_range[0] <= image_size_range[1]:
        raise ValueError(f'stick figures: image_size_range must be (min, '
                         f'max) sides >= 32, got {image_size_range}')
    if len(figure_size_range) != 2 or not \
            8 <= figure_size_range[0] <= figure_size_range[1]:
        raise ValueError(f'stick figures: figure_size_range must be (min, '
                         f'max) heights >= 8, got {figure_size_range}')
    if max_figures < 0 or not 0 <= occluder_prob <= 1 or \
            not 0 <= max_occlusion <= 1:
        raise ValueError(f'stick figures: need max_figures >= 0 and '
                         f'occluder_prob, max_occlusion in [0, 1], got '
                         f'{max_figures}, {occluder_prob}, {max_occlusion}')
    return dict(
        num_images=int(num_images),
        seed=int(seed),
        image_size_range=[int(v) for v in image_size_range],
        max_figures=int(max_figures),
        figure_size_range=[float(v) for v in figure_size_range],
        occluder_prob=float(occluder_prob),
        max_occlusion=float(max_occlusion),
        drawing=DRAWING_VERSION)


def generate_stick_figures(out_dir: str, split: str, num_images: int,
                           seed: int, **kwargs) -> str:
    """Write ``out_dir/split/{annotations.json, images/}`` unless it exists.

    Args:
        out_dir: root of the set.
        split: the split's folder name.
        num_images, seed: size and seed of the split.
        **kwargs: the other parameters of :func:`generation_params`.

    Returns:
        The split's annotation file.
    """
    params = generation_params(num_images, seed, **kwargs)
    final = osp.join(out_dir, split)
    ann_file = osp.join(final, ANNOTATION_FILE)
    if osp.isfile(ann_file):
        return ann_file
    print_log(
        f'generating the stick-figure {split} split ({num_images} '
        f'images) into {final}',
        logger='current')
    with written_into_place(final, ann_file) as temporary:
        os.makedirs(osp.join(temporary, IMAGE_DIR))
        images, annotations = [], []
        for index in range(num_images):
            rng = np.random.default_rng([params['seed'], index])
            img, figures = render_image(rng, params['image_size_range'],
                                        params['max_figures'],
                                        params['figure_size_range'],
                                        params['occluder_prob'],
                                        params['max_occlusion'])
            file_name = f'{index:06d}.png'
            cv2.imwrite(
                osp.join(temporary, IMAGE_DIR, file_name), img,
                [cv2.IMWRITE_PNG_COMPRESSION, 1])
            images.append(
                dict(
                    id=index + 1,
                    file_name=file_name,
                    height=img.shape[0],
                    width=img.shape[1]))
            for figure in figures:
                annotations.append(
                    dict(
                        id=len(annotations) + 1,
                        image_id=index + 1,
                        category_id=1,
                        **figure))
        category = dict(
            id=1,
            name='person',
            supercategory='person',
            keypoints=list(COCO_KEYPOINT_NAMES),
            skeleton=[[a + 1, b + 1] for a, b in COCO_SKELETON])
        with open(osp.join(temporary, ANNOTATION_FILE), 'w') as f:
            json.dump(
                dict(
                    info=dict(
                        description='cnet stick figures, ' + split,
                        generator=params),
                    images=images,
                    annotations=annotations,
                    categories=[category]), f)
    return ann_file


@DATASETS.register_module()
class StickFiguresDataset(CocoKeypointsDataset):
    """The synthetic stick-figure pose set; generates its split on first use.

    Args:
        data_root: root folder of the set.
        split: ``'train'`` (1000 images, seed 0) and ``'val'`` (100 images,
            seed 1) have defaults; other names need ``num_images`` and
            ``seed``.
        image_size_range, max_figures, figure_size_range, occluder_prob,
        max_occlusion: see :func:`generation_params`.
        pipeline, filter_cfg, test_mode, indices, serialize_data, lazy_init:
            as :class:`CocoDataset`.
    """

    def __init__(self,
                 data_root: str = 'data/stick_figures',
                 split: str = 'train',
                 num_images: Optional[int] = None,
                 seed: Optional[int] = None,
                 image_size_range: Sequence[int] = (128, 192),
                 max_figures: int = 4,
                 figure_size_range: Sequence[float] = (48, 160),
                 occluder_prob: float = 0.3,
                 max_occlusion: float = 0.6,
                 pipeline: Sequence = (),
                 filter_cfg: Optional[dict] = None,
                 test_mode: bool = False,
                 indices: Optional[Sequence[int]] = None,
                 serialize_data: bool = True,
                 lazy_init: bool = False) -> None:
        defaults = DEFAULT_SPLITS.get(split, {})
        if (num_images is None or seed is None) and not defaults:
            raise ValueError(f'StickFiguresDataset: split {split!r} needs '
                             f'num_images and seed (defaults exist for '
                             f'{sorted(DEFAULT_SPLITS)})')
        self.split = split
        self.generation = generation_params(
            defaults['num_images'] if num_images is None else num_images,
            defaults['seed'] if seed is None else seed, image_size_range,
            max_figures, figure_size_range, occluder_prob, max_occlusion)
        super().__init__(
            ann_file=f'{split}/{ANNOTATION_FILE}',
            data_root=data_root,
            data_prefix=dict(img=f'{split}/{IMAGE_DIR}/'),
            filter_cfg=filter_cfg,
            indices=indices,
            serialize_data=serialize_data,
            pipeline=pipeline,
            test_mode=test_mode,
            lazy_init=lazy_init)

    def load_data_list(self) -> List[dict]:
        ensure_generated(
            self.ann_file, lambda: generate_stick_figures(
                self.data_root, self.split, **{
                    k: v
                    for k, v in self.generation.items() if k != 'drawing'
                }))
        with open(self.ann_file) as f:
            written = json.load(f).get('info', {}).get('generator') or {}
        check_generation(self.ann_file, written, self.generation,
                         osp.dirname(self.ann_file))
        return super().load_data_list()
