"""Training-pipeline throughput in one process, beside the original's loader.

Writes a few COCO-sized JPEGs (640×480, textured, ~7 boxes each, as COCO's
average) to a temporary folder and runs cnet's training pipeline on them:

    LoadImageFromFile → LoadAnnotations → RandomCenterAffine(512×512)
    → RandomFlip → ColorJitter → PCALighting → PackDetInputs

With ``--centernet-root`` (a checkout of xingyizhou/CenterNet), the same run
replays the original's ``CTDetDataset.__getitem__`` (src/lib/datasets/sample/
ctdet.py) with its own ``get_affine_transform``, ``affine_transform``,
``color_aug``, ``gaussian_radius`` and ``draw_umich_gaussian`` (80 classes,
128×128 maps). The original also normalises the image and builds its
training targets in the loader; cnet normalises in the data preprocessor and
builds targets batched in the head, so the original is timed twice: whole
(``original``), and without the targets (``original_no_targets``), which is
the like-for-like figure. It also checks that cnet's closed-form
``get_affine_transform`` equals the original's.

OpenCV runs single-threaded (``cv2.setNumThreads(0)``, as mmengine's runner
sets it for data workers) unless ``--opencv-threads`` says otherwise.

    python benchmarks/bench_pipeline.py --centernet-root /tmp/refs/CenterNet
"""
import argparse
import math
import os
import os.path as osp
import platform
import random
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional

import cv2
import numpy as np

from cnet.datasets.transforms import (
    ColorJitter,
    LoadAnnotations,
    LoadImageFromFile,
    PackDetInputs,
    PCALighting,
    RandomCenterAffine,
    RandomFlip,
    get_affine_transform,
)
from cnet.datasets.transforms.photometric import COCO_EIGVAL, COCO_EIGVEC


def write_coco_like_images(folder: str, num_images: int,
                           seed: int = 0) -> List[dict]:
    """640×480 JPEGs (quality 90) with texture and 7 boxes each.

    Returns:
        One dict per image: ``img_path`` and COCO-style ``anns``
        (``bbox`` xywh, ``category_id`` 0..79).
    """
    rng = np.random.default_rng(seed)
    items = []
    for index in range(num_images):
        height, width = 480, 640
        img = np.zeros((height, width, 3), np.float32)
        for cells, amplitude in ((4, 60.), (16, 30.), (64, 15.)):
            noise = rng.normal(0, amplitude, (cells, cells * 4 // 3, 3))
            img += cv2.resize(noise.astype(np.float32), (width, height),
                              interpolation=cv2.INTER_CUBIC)
        img += 128 + rng.normal(0, 6, img.shape).astype(np.float32)
        anns = []
        for _ in range(7):
            w, h = rng.uniform(10, 300, 2)
            x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
            cv2.rectangle(img, (int(x), int(y)), (int(x + w), int(y + h)),
                          rng.uniform(0, 255, 3).tolist(), 2)
            anns.append(dict(bbox=[float(x), float(y), float(w), float(h)],
                             category_id=int(rng.integers(80))))
        path = osp.join(folder, f'{index:03d}.jpg')
        cv2.imwrite(path, np.clip(img, 0, 255).astype(np.uint8),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
        items.append(dict(img_path=path, anns=anns))
    return items


def cnet_step(items: List[dict], input_size=(512, 512)) -> Callable:
    transforms = [LoadImageFromFile(), LoadAnnotations(),
                  RandomCenterAffine(input_size=input_size), RandomFlip(),
                  ColorJitter(), PCALighting(), PackDetInputs()]
    infos = [dict(img_path=item['img_path'], img_id=i, instances=[
        dict(bbox=[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
                   a['bbox'][1] + a['bbox'][3]],
             bbox_label=a['category_id'], ignore_flag=0)
        for a in item['anns']]) for i, item in enumerate(items)]

    def run(index: int) -> object:
        results = dict(infos[index])
        for transform in transforms:
            results = transform(results)
        return results
    return run


def original_step(items: List[dict], centernet_root: str,
                  with_targets: bool, input_size=(512, 512)) -> Callable:
    """The original's ``CTDetDataset.__getitem__`` (ctdet defaults)."""
    sys.path.insert(0, osp.join(centernet_root, 'src', 'lib', 'utils'))
    import image as ref  # the original's src/lib/utils/image.py
    sys.path.pop(0)
    mean = np.array([0.40789654, 0.44719302, 0.47026115],
                    np.float32).reshape(1, 1, 3)
    std = np.array([0.28863828, 0.27408164, 0.27809835],
                   np.float32).reshape(1, 1, 3)
    eig_val = np.array(COCO_EIGVAL, np.float32)
    eig_vec = np.array(COCO_EIGVEC, np.float32)
    data_rng = np.random.RandomState(123)
    input_w, input_h = input_size
    num_classes, max_objs, down_ratio = 80, 128, 4

    def get_border(border, size):
        i = 1
        while size - border // i <= border // i:
            i *= 2
        return border // i

    def run(index: int) -> object:
        anns = items[index]['anns']
        img = cv2.imread(items[index]['img_path'])
        height, width = img.shape[:2]
        c = np.array([width / 2., height / 2.], dtype=np.float32)
        s = max(height, width) * 1.0
        s = s * np.random.choice(np.arange(0.6, 1.4, 0.1))
        w_border, h_border = get_border(128, width), get_border(128, height)
        c[0] = np.random.randint(low=w_border, high=width - w_border)
        c[1] = np.random.randint(low=h_border, high=height - h_border)
        flipped = False
        if np.random.random() < 0.5:
            flipped = True
            img = img[:, ::-1, :]
            c[0] = width - c[0] - 1
        trans_input = ref.get_affine_transform(c, s, 0, [input_w, input_h])
        inp = cv2.warpAffine(img, trans_input, (input_w, input_h),
                             flags=cv2.INTER_LINEAR)
        inp = inp.astype(np.float32) / 255.
        ref.color_aug(data_rng, inp, eig_val, eig_vec)
        inp = (inp - mean) / std
        inp = inp.transpose(2, 0, 1)
        if not with_targets:
            return inp
        output_h, output_w = input_h // down_ratio, input_w // down_ratio
        trans_output = ref.get_affine_transform(c, s, 0, [output_w, output_h])
        hm = np.zeros((num_classes, output_h, output_w), dtype=np.float32)
        wh = np.zeros((max_objs, 2), dtype=np.float32)
        reg = np.zeros((max_objs, 2), dtype=np.float32)
        ind = np.zeros((max_objs), dtype=np.int64)
        reg_mask = np.zeros((max_objs), dtype=np.uint8)
        for k, ann in enumerate(anns[:max_objs]):
            x, y, w, h = ann['bbox']
            bbox = np.array([x, y, x + w, y + h], dtype=np.float32)
            if flipped:
                bbox[[0, 2]] = width - bbox[[2, 0]] - 1
            bbox[:2] = ref.affine_transform(bbox[:2], trans_output)
            bbox[2:] = ref.affine_transform(bbox[2:], trans_output)
            bbox[[0, 2]] = np.clip(bbox[[0, 2]], 0, output_w - 1)
            bbox[[1, 3]] = np.clip(bbox[[1, 3]], 0, output_h - 1)
            h, w = bbox[3] - bbox[1], bbox[2] - bbox[0]
            if h > 0 and w > 0:
                radius = max(0, int(ref.gaussian_radius(
                    (math.ceil(h), math.ceil(w)))))
                ct = np.array([(bbox[0] + bbox[2]) / 2,
                               (bbox[1] + bbox[3]) / 2], dtype=np.float32)
                ct_int = ct.astype(np.int32)
                ref.draw_umich_gaussian(hm[ann['category_id']], ct_int, radius)
                wh[k] = 1. * w, 1. * h
                ind[k] = ct_int[1] * output_w + ct_int[0]
                reg[k] = ct - ct_int
                reg_mask[k] = 1
        return inp, hm, reg_mask, ind, wh, reg
    return run


def images_per_s(step: Callable, num_images: int, passes: int) -> Dict:
    for index in range(min(num_images, 4)):  # warm caches and imports
        step(index)
    rates = []
    for _ in range(passes):
        start = time.perf_counter()
        for index in range(num_images):
            step(index)
        rates.append(num_images / (time.perf_counter() - start))
    return dict(images_per_s=statistics.median(rates), min=min(rates),
                max=max(rates), passes=passes, images=num_images)


def max_affine_difference(centernet_root: str, trials: int = 2000) -> float:
    """Largest |cnet − original| over random crops, relative to the matrix."""
    sys.path.insert(0, osp.join(centernet_root, 'src', 'lib', 'utils'))
    import image as ref
    sys.path.pop(0)
    rng = np.random.default_rng(0)
    worst = 0.0
    for trial in range(trials):
        center = rng.uniform(0, 1000, 2).astype(np.float32)
        scale = rng.uniform(50, 1500) if trial % 2 else \
            rng.uniform(50, 1500, 2).astype(np.float32)
        rot = rng.uniform(-45, 45) if trial % 3 == 0 else 0
        size = [int(v) for v in rng.integers(64, 1024, 2)]
        for inv in (0, 1):
            theirs = ref.get_affine_transform(center, scale, rot, size,
                                              inv=inv)
            ours = get_affine_transform(center, scale, rot, size,
                                        inv=bool(inv))
            worst = max(worst, float(np.abs(theirs - ours).max()
                                     / max(1.0, np.abs(theirs).max())))
    return worst


def time_pipeline(centernet_root: Optional[str] = None, num_images: int = 24,
                  passes: int = 5, opencv_threads: int = 0,
                  seed: int = 0) -> Dict[str, Dict]:
    """Images/s of cnet's training pipeline (and the original's loader).

    Returns:
        ``{'cnet': {...}}`` plus ``'original'`` and ``'original_no_targets'``
        when ``centernet_root`` is given; each with ``images_per_s`` (median
        over ``passes``), ``min``, ``max``, ``passes``, ``images``.
    """
    cv2.setNumThreads(opencv_threads)
    np.random.seed(seed)
    random.seed(seed)
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        items = write_coco_like_images(folder, num_images, seed)
        figures['cnet'] = images_per_s(cnet_step(items), num_images, passes)
        if centernet_root:
            figures['original'] = images_per_s(
                original_step(items, centernet_root, with_targets=True),
                num_images, passes)
            figures['original_no_targets'] = images_per_s(
                original_step(items, centernet_root, with_targets=False),
                num_images, passes)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--centernet-root', default=None,
                        help='checkout of xingyizhou/CenterNet')
    parser.add_argument('--num-images', type=int, default=24)
    parser.add_argument('--passes', type=int, default=5)
    parser.add_argument('--opencv-threads', type=int, default=0)
    args = parser.parse_args()
    print(f'{platform.processor() or platform.machine()}, '
          f'{os.cpu_count()} CPUs, OpenCV {cv2.__version__} with '
          f'setNumThreads({args.opencv_threads}), numpy {np.__version__}')
    figures = time_pipeline(args.centernet_root, args.num_images, args.passes,
                            args.opencv_threads)
    ours = figures['cnet']['images_per_s']
    print(f'cnet training pipeline (load JPEG 640x480 → affine 512x512 → '
          f'flip → colour + lighting → pack): {ours:.1f} images/s '
          f'(median of {args.passes} passes over {args.num_images} images; '
          f'min {figures["cnet"]["min"]:.1f}, '
          f'max {figures["cnet"]["max"]:.1f})')
    if args.centernet_root:
        for name, label in (
                ('original_no_targets', 'original __getitem__ without its '
                 'targets (image part, + normalise)'),
                ('original', 'original __getitem__ whole (+ normalise, '
                 'targets: 80x128x128 heatmap, wh, reg, ind)')):
            theirs = figures[name]['images_per_s']
            print(f'{label}: {theirs:.1f} images/s; cnet / original = '
                  f'{ours / theirs:.2f}x')
        print(f'get_affine_transform: max relative difference to the '
              f'original over 4000 matrices = '
              f'{max_affine_difference(args.centernet_root):.2e}')


if __name__ == '__main__':
    main()
