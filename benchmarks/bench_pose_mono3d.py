"""CenterPoseHead's and Mono3DCenterHead's hot paths on CPU, side by side
with the original CenterNet.

(a) pose targets (``CenterPoseHead.get_targets``) for 16 images × 1–32
    persons (the original's ``max_objs`` for COCO keypoints is 32; the count
    of each image drawn at random, seeded), 17 joints with random COCO
    visibility (0, 1 or 2, a tenth of the persons with none labelled, some
    joints off the map), 128×128 maps (512×512 inputs); (b) 3-D targets
    (``Mono3DCenterHead.get_targets``, ``center='box'`` as the original) for
    16 images × 1–50 objects (KITTI's ``max_objs``), 3 classes, 96×320 maps
    (1280×384 inputs); (c) decoding random normal output maps to the top 100
    (batch 1): the pose maps at 128×128 (``CenterPoseHead.decode``: boxes,
    regressed joints snapped to the joint-heatmap peaks) and the 3-D maps at
    96×320 (``Mono3DCenterHead.decode``: boxes, depths, dimensions, alphas).
    Median and spread (25th–75th percentile, min, max) over many iterations
    after warm-up; the losses are not timed here.

With ``--centernet-root`` (a checkout of xingyizhou/CenterNet) the same work
is timed in the same run, and the script first checks once that both give
the same targets and detections for the same inputs (printed as the largest
difference per field):

* pose targets: the per-image numpy loop of ``MultiPoseDataset.__getitem__``
  (``src/lib/datasets/sample/multi_pose.py``) with its default options
  (``hm_hp``, ``reg_offset``, ``reg_hp_offset`` on; ``mse_loss`` off),
  and again with ``--dense_hp`` (``draw_dense_reg`` and the
  ``dense_kps_mask`` Gaussian per labelled joint), replayed with
  ``gaussian_radius`` and ``draw_umich_gaussian`` imported from
  ``src/lib/utils/image.py`` in the order it calls them (the radius twice,
  as it does), producing ``hm``, ``wh``, ``reg``, ``ind``, ``reg_mask``,
  ``hps`` (kps), ``hps_mask``, ``hm_hp``, ``hp_offset``, ``hp_ind`` and
  ``hp_mask``, then collated to tensors. Boxes and joints come already in
  output coordinates, so its per-box and per-joint ``affine_transform``
  calls (and the flip) are left out, as ``bench_head.py`` does for ctdet.
* 3-D targets: the loop of ``DddDataset.__getitem__``
  (``src/lib/datasets/sample/ddd.py``, KITTI's ``alpha_in_degree=False``,
  no augmentation) replayed the same way: ``hm``, ``wh``, ``reg``, ``dep``,
  ``dim``, the two-bin orientation ``rotbin`` / ``rotres``, ``ind``,
  ``rot_mask`` and ``reg_mask``, collated. Its ``gt_det`` list, which calls
  ``_alpha_to_8`` per object but is only returned for debugging and
  validation, is not built (the original's time is, if anything,
  understated).
* pose decoding: the sigmoids of ``hm`` and ``hm_hp`` that
  ``MultiPoseDetector.process`` applies, then ``multi_pose_decode``
  (``src/lib/models/decode.py``), K = 100.
* 3-D decoding: ``DddDetector.process``'s sigmoid of ``hm`` and its depth
  transform ``1 / (σ(dep) + 1e-6) − 1`` (over the whole map, as it does),
  ``ddd_decode`` with ``wh`` and ``reg``, K = 100, and ``get_alpha`` of
  ``src/lib/utils/post_process.py`` on the 100 rotations (the step of
  ``ddd_post_process`` that gives the alphas cnet's ``decode`` returns; the
  rest of the post-processing maps back to the original image and is not
  timed on either side).

Where the two differ on purpose or by construction: cnet's sparse targets
have as many slots as the busiest image of the batch, the original's always
``max_objs`` (the slots both have are compared; the original's others must
be zero); cnet's depth is ``exp(−x)``, the original's
``1 / (σ(x) + 1e-6) − 1`` (relative differences of order 1e-5 on these
maps); cnet's alphas are wrapped into [−π, π), ``get_alpha``'s are not
(compared modulo 2π). The 3-D heatmap radius is ddd.py's, ``gaussian_radius``
of the unrounded box size ``(h, w)`` (ctdet.py and multi_pose.py round it
up first); this check found cnet rounding it up there too, fixed since.
The decoders' heatmaps have fewer than
400 rows (C·H = 128 and 288), so cnet's ``topk_peaks`` decodes the full
map, as the originals do. In the original the targets are built in
DataLoader workers, in parallel with the training step; here they are timed
in one process like ours.

Run (the full benchmark):

    python benchmarks/bench_pose_mono3d.py --centernet-root /tmp/refs/CenterNet

``--quick`` takes a few iterations of everything (a smoke run of seconds).
``time_pose_targets``, ``time_mono3d_targets``, ``time_pose_decode`` and
``time_mono3d_decode`` return ``{'cnet': figures, 'original': ...}`` (the
original only when its root is given), every entry timing the same work.
"""
import argparse
import importlib
import math
import platform
import sys
import types
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.structures import InstanceData

from cnet.models.heads.mono3d_head import Mono3DCenterHead
from cnet.models.heads.pose_head import CenterPoseHead

from bench_head import STRIDE, describe, load_centernet, measure

NUM_JOINTS = 17
POSE_MAX_OBJS = 32          # coco_hp.py
POSE_SIZE = 512
DDD_CLASSES = 3
DDD_MAX_OBJS = 50           # kitti.py
DDD_INPUT = (384, 1280)     # (h, w), the original's KITTI input_h / input_w
TOPK = 100


# ------------------------------------------------------------------ inputs
def random_persons(batch: int, max_persons: int, size: int,
                   seed: int = 0) -> List[InstanceData]:
    """1–``max_persons`` persons per image in a ``size``² input: boxes of
    8–208 px, 17 joints spread over each box and 10 % beyond it (some off
    the map), visibility 0, 1 or 2 (x = y = 0 where 0, as in COCO), a tenth
    of the persons with no joint labelled."""
    generator = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, max_persons + 1, (batch, ), generator=generator)
    batch_instances = []
    for count in counts.tolist():
        xy = torch.rand(count, 2, generator=generator) * (size - 40)
        wh = 8 + torch.rand(count, 2, generator=generator) * 200
        bboxes = torch.cat([xy, (xy + wh).clamp(max=size - 1)], dim=1)
        spread = torch.rand(count, NUM_JOINTS, 2, generator=generator) * 1.2
        joints = xy[:, None] + (spread - 0.1) * wh[:, None]
        visibility = torch.randint(0, 3, (count, NUM_JOINTS),
                                   generator=generator).float()
        unlabelled = torch.rand(count, generator=generator) < 0.1
        visibility[unlabelled] = 0
        joints = joints * (visibility[..., None] > 0)
        batch_instances.append(InstanceData(
            bboxes=bboxes, labels=torch.zeros(count, dtype=torch.long),
            keypoints=torch.cat([joints, visibility[..., None]], dim=-1)))
    return batch_instances


def random_objects_3d(batch: int, max_objects: int,
                      input_hw: Tuple[int, int] = DDD_INPUT,
                      seed: int = 0) -> List[InstanceData]:
    """1–``max_objects`` KITTI-like objects per image: 2-D boxes of 8–308 ×
    8–158 px, 3 classes, depths 5–60 m, dimensions h 1–2, w 0.5–2, l 0.5–4.5
    m, alphas uniform in [−π, π)."""
    height, width = input_hw
    generator = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, max_objects + 1, (batch, ), generator=generator)
    batch_instances = []
    for count in counts.tolist():
        xy = torch.rand(count, 2, generator=generator) * torch.tensor(
            [width - 40., height - 40.])
        wh = 8 + torch.rand(count, 2, generator=generator) * torch.tensor(
            [300., 150.])
        corner = torch.minimum(xy + wh, torch.tensor([width - 1.,
                                                      height - 1.]))
        dimensions = torch.tensor([1., .5, .5]) + torch.rand(
            count, 3, generator=generator) * torch.tensor([1., 1.5, 4.])
        batch_instances.append(InstanceData(
            bboxes=torch.cat([xy, corner], dim=1),
            labels=torch.randint(0, DDD_CLASSES, (count, ),
                                 generator=generator),
            depths=5 + torch.rand(count, generator=generator) * 55,
            dimensions=dimensions,
            alphas=(torch.rand(count, generator=generator) * 2 - 1) *
            math.pi))
    return batch_instances


def random_maps(channels: Dict[str, int], height: int, width: int,
                seed: int = 2) -> Dict[str, List[torch.Tensor]]:
    """Standard normal output maps (batch 1), one stack, by branch."""
    generator = torch.Generator().manual_seed(seed)
    return {name: [torch.randn(1, num, height, width, generator=generator)]
            for name, num in channels.items()}


def _numpy_inputs(batch_instances: List[InstanceData],
                  keys: Sequence[str]) -> List[Dict[str, np.ndarray]]:
    """The original's inputs: per image, boxes (and joints) already in
    output units, float32 as its annotations after ``np.array``."""
    images = []
    for inst in batch_instances:
        image = {key: inst.get(key).numpy() for key in keys}
        image['bboxes'] = (inst.bboxes / STRIDE).numpy().astype(np.float32)
        if 'keypoints' in image:
            points = inst.keypoints.clone()
            points[..., :2] /= STRIDE
            image['keypoints'] = points.numpy().astype(np.float32)
        images.append(image)
    return images


# --------------------------------------------------------- reference loading
def load_centernet_tasks(root: str) -> types.SimpleNamespace:
    """``bench_head.load_centernet`` plus ``multi_pose_decode``,
    ``ddd_decode`` (same module) and ``get_alpha`` of
    ``src/lib/utils/post_process.py``."""
    original = load_centernet(root)
    decode = importlib.import_module('centernet_original_models.decode')
    # src/lib/utils has no __init__.py either and post_process.py imports
    # .image and .ddd_utils relatively: a private package name again.
    package = types.ModuleType('centernet_original_utils')
    package.__path__ = [str(Path(root) / 'src' / 'lib' / 'utils')]
    sys.modules['centernet_original_utils'] = package
    post_process = importlib.import_module(
        'centernet_original_utils.post_process')
    return types.SimpleNamespace(
        **vars(original), multi_pose_decode=decode.multi_pose_decode,
        ddd_decode=decode.ddd_decode, get_alpha=post_process.get_alpha)


def _collate(images: List[Dict[str, np.ndarray]]) -> Dict[str, torch.Tensor]:
    return {key: torch.from_numpy(np.stack([image[key] for image in images]))
            for key in images[0]}


# ------------------------------------------------------- (a) pose targets
def original_pose_targets(original: types.SimpleNamespace,
                          images: List[Dict[str, np.ndarray]], out: int,
                          max_objs: int = POSE_MAX_OBJS,
                          num_joints: int = NUM_JOINTS,
                          dense_hp: bool = False
                          ) -> Dict[str, torch.Tensor]:
    """``MultiPoseDataset.__getitem__``'s target loop per image (default
    options or ``--dense_hp``, no rotation nor flip), then collate."""
    batch = []
    for image in images:
        hm = np.zeros((1, out, out), dtype=np.float32)
        hm_hp = np.zeros((num_joints, out, out), dtype=np.float32)
        dense_kps = np.zeros((num_joints, 2, out, out), dtype=np.float32)
        dense_kps_mask = np.zeros((num_joints, out, out), dtype=np.float32)
        wh = np.zeros((max_objs, 2), dtype=np.float32)
        kps = np.zeros((max_objs, num_joints * 2), dtype=np.float32)
        reg = np.zeros((max_objs, 2), dtype=np.float32)
        ind = np.zeros((max_objs), dtype=np.int64)
        reg_mask = np.zeros((max_objs), dtype=np.uint8)
        kps_mask = np.zeros((max_objs, num_joints * 2), dtype=np.uint8)
        hp_offset = np.zeros((max_objs * num_joints, 2), dtype=np.float32)
        hp_ind = np.zeros((max_objs * num_joints), dtype=np.int64)
        hp_mask = np.zeros((max_objs * num_joints), dtype=np.int64)
        for k in range(min(len(image['bboxes']), max_objs)):
            bbox = image['bboxes'][k].copy()
            cls_id = int(image['labels'][k])
            pts = image['keypoints'][k].copy()
            bbox = np.clip(bbox, 0, out - 1)
            h, w = bbox[3] - bbox[1], bbox[2] - bbox[0]
            if h > 0 and w > 0:
                radius = original.gaussian_radius((math.ceil(h),
                                                   math.ceil(w)))
                radius = max(0, int(radius))
                ct = np.array([(bbox[0] + bbox[2]) / 2,
                               (bbox[1] + bbox[3]) / 2], dtype=np.float32)
                ct_int = ct.astype(np.int32)
                wh[k] = 1. * w, 1. * h
                ind[k] = ct_int[1] * out + ct_int[0]
                reg[k] = ct - ct_int
                reg_mask[k] = 1
                num_kpts = pts[:, 2].sum()
                if num_kpts == 0:
                    hm[cls_id, ct_int[1], ct_int[0]] = 0.9999
                    reg_mask[k] = 0
                hp_radius = original.gaussian_radius((math.ceil(h),
                                                      math.ceil(w)))
                hp_radius = max(0, int(hp_radius))
                for j in range(num_joints):
                    if pts[j, 2] > 0:
                        if pts[j, 0] >= 0 and pts[j, 0] < out and \
                                pts[j, 1] >= 0 and pts[j, 1] < out:
                            kps[k, j * 2:j * 2 + 2] = pts[j, :2] - ct_int
                            kps_mask[k, j * 2:j * 2 + 2] = 1
                            pt_int = pts[j, :2].astype(np.int32)
                            hp_offset[k * num_joints + j] = pts[j, :2] - \
                                pt_int
                            hp_ind[k * num_joints + j] = \
                                pt_int[1] * out + pt_int[0]
                            hp_mask[k * num_joints + j] = 1
                            if dense_hp:
                                original.draw_dense_reg(
                                    dense_kps[j], hm[cls_id], ct_int,
                                    pts[j, :2] - ct_int, radius,
                                    is_offset=True)
                                original.draw_umich_gaussian(
                                    dense_kps_mask[j], ct_int, radius)
                            original.draw_umich_gaussian(hm_hp[j], pt_int,
                                                         hp_radius)
                original.draw_umich_gaussian(hm[cls_id], ct_int, radius)
        targets = dict(hm=hm, reg_mask=reg_mask, ind=ind, wh=wh, hps=kps,
                       hps_mask=kps_mask, reg=reg, hm_hp=hm_hp,
                       hp_offset=hp_offset, hp_ind=hp_ind, hp_mask=hp_mask)
        if dense_hp:
            mask = np.repeat(dense_kps_mask[:, None], 2, axis=1)
            targets.update(
                dense_hps=dense_kps.reshape(num_joints * 2, out, out),
                dense_hps_mask=mask.reshape(num_joints * 2, out, out))
            del targets['hps'], targets['hps_mask']
        batch.append(targets)
    return _collate(batch)


def time_pose_targets(centernet_root: Optional[str] = None, batch: int = 16,
                      max_persons: int = POSE_MAX_OBJS,
                      size: int = POSE_SIZE, iters: int = 20,
                      ref_iters: int = 8,
                      dense_hp: bool = False) -> Dict[str, Dict]:
    """``CenterPoseHead.get_targets`` for one batch against the original's
    loop + collate, both with or both without ``dense_hp``. Returns
    ``measure``'s dict in ms per implementation."""
    out = size // STRIDE
    head = CenterPoseHead(in_channels=64, train_cfg=dict(dense_hp=dense_hp))
    batch_instances = random_persons(batch, max_persons, size)
    feat_shape = (batch, 1, out, out)
    figures = dict(cnet=measure(
        lambda: head.get_targets(batch_instances, None, feat_shape), 3,
        iters))
    if centernet_root:
        original = load_centernet_tasks(centernet_root)
        images = _numpy_inputs(batch_instances, ('labels', 'keypoints'))
        figures['original'] = measure(
            lambda: original_pose_targets(original, images, out,
                                          dense_hp=dense_hp), 1, ref_iters)
    return figures


# -------------------------------------------------------- (b) 3-D targets
def original_ddd_targets(original: types.SimpleNamespace,
                         images: List[Dict[str, np.ndarray]],
                         out_hw: Tuple[int, int],
                         num_classes: int = DDD_CLASSES,
                         max_objs: int = DDD_MAX_OBJS
                         ) -> Dict[str, torch.Tensor]:
    """``DddDataset.__getitem__``'s target loop per image (KITTI options,
    no augmentation, ``gt_det`` left out), then collate."""
    output_h, output_w = out_hw
    batch = []
    for image in images:
        hm = np.zeros((num_classes, output_h, output_w), dtype=np.float32)
        wh = np.zeros((max_objs, 2), dtype=np.float32)
        reg = np.zeros((max_objs, 2), dtype=np.float32)
        dep = np.zeros((max_objs, 1), dtype=np.float32)
        rotbin = np.zeros((max_objs, 2), dtype=np.int64)
        rotres = np.zeros((max_objs, 2), dtype=np.float32)
        dim = np.zeros((max_objs, 3), dtype=np.float32)
        ind = np.zeros((max_objs), dtype=np.int64)
        reg_mask = np.zeros((max_objs), dtype=np.uint8)
        rot_mask = np.zeros((max_objs), dtype=np.uint8)
        for k in range(min(len(image['bboxes']), max_objs)):
            bbox = image['bboxes'][k].copy()
            cls_id = int(image['labels'][k])
            bbox[[0, 2]] = np.clip(bbox[[0, 2]], 0, output_w - 1)
            bbox[[1, 3]] = np.clip(bbox[[1, 3]], 0, output_h - 1)
            h, w = bbox[3] - bbox[1], bbox[2] - bbox[0]
            if h > 0 and w > 0:
                radius = original.gaussian_radius((h, w))
                radius = max(0, int(radius))
                ct = np.array([(bbox[0] + bbox[2]) / 2,
                               (bbox[1] + bbox[3]) / 2], dtype=np.float32)
                ct_int = ct.astype(np.int32)
                original.draw_umich_gaussian(hm[cls_id], ct, radius)
                wh[k] = 1. * w, 1. * h
                alpha = image['alphas'][k]      # _convert_alpha: radians
                if alpha < np.pi / 6. or alpha > 5 * np.pi / 6.:
                    rotbin[k, 0] = 1
                    rotres[k, 0] = alpha - (-0.5 * np.pi)
                if alpha > -np.pi / 6. or alpha < -5 * np.pi / 6.:
                    rotbin[k, 1] = 1
                    rotres[k, 1] = alpha - (0.5 * np.pi)
                dep[k] = image['depths'][k]
                dim[k] = image['dimensions'][k]
                ind[k] = ct_int[1] * output_w + ct_int[0]
                reg[k] = ct - ct_int
                reg_mask[k] = 1
                rot_mask[k] = 1
        batch.append(dict(hm=hm, dep=dep, dim=dim, ind=ind, rotbin=rotbin,
                          rotres=rotres, reg_mask=reg_mask,
                          rot_mask=rot_mask, wh=wh, reg=reg))
    return _collate(batch)


def time_mono3d_targets(centernet_root: Optional[str] = None,
                        batch: int = 16, max_objects: int = DDD_MAX_OBJS,
                        input_hw: Tuple[int, int] = DDD_INPUT,
                        iters: int = 20, ref_iters: int = 8
                        ) -> Dict[str, Dict]:
    """``Mono3DCenterHead.get_targets`` for one batch against the
    original's ddd loop + collate. Returns ``measure``'s dict in ms."""
    out_hw = (input_hw[0] // STRIDE, input_hw[1] // STRIDE)
    head = Mono3DCenterHead(num_classes=DDD_CLASSES, in_channels=64)
    batch_instances = random_objects_3d(batch, max_objects, input_hw)
    feat_shape = (batch, DDD_CLASSES) + out_hw
    figures = dict(cnet=measure(
        lambda: head.get_targets(batch_instances, None, feat_shape), 3,
        iters))
    if centernet_root:
        original = load_centernet_tasks(centernet_root)
        images = _numpy_inputs(batch_instances, ('labels', 'depths',
                                                 'dimensions', 'alphas'))
        figures['original'] = measure(
            lambda: original_ddd_targets(original, images, out_hw), 1,
            ref_iters)
    return figures


# ---------------------------------------------------------------- (c) decode
POSE_BRANCHES = dict(hm=1, wh=2, hps=2 * NUM_JOINTS, reg=2,
                     hm_hp=NUM_JOINTS, hp_offset=2)
DDD_BRANCHES = dict(hm=DDD_CLASSES, dep=1, rot=8, dim=3, wh=2, reg=2)


def original_pose_decode(original: types.SimpleNamespace,
                         maps: Dict[str, List[torch.Tensor]],
                         k: int = TOPK) -> torch.Tensor:
    """``MultiPoseDetector.process``: sigmoids, ``multi_pose_decode``."""
    last = {name: stacks[-1] for name, stacks in maps.items()}
    return original.multi_pose_decode(
        last['hm'].sigmoid(), last['wh'], last['hps'], reg=last['reg'],
        hm_hp=last['hm_hp'].sigmoid(), hp_offset=last['hp_offset'], K=k)


def original_ddd_decode(original: types.SimpleNamespace,
                        maps: Dict[str, List[torch.Tensor]],
                        k: int = TOPK) -> Tuple[np.ndarray, np.ndarray]:
    """``DddDetector.process`` (sigmoid, depth transform, ``ddd_decode``)
    and ``get_alpha`` of the detections (batch 1)."""
    last = {name: stacks[-1] for name, stacks in maps.items()}
    depth = 1. / (last['dep'].sigmoid() + 1e-6) - 1.
    dets = original.ddd_decode(last['hm'].sigmoid(), last['rot'], depth,
                               last['dim'], wh=last['wh'], reg=last['reg'],
                               K=k).numpy()
    return dets, original.get_alpha(dets[0, :, 3:11])


def time_pose_decode(centernet_root: Optional[str] = None,
                     size: int = POSE_SIZE, iters: int = 200
                     ) -> Dict[str, Dict]:
    """Top-100 persons with snapped joints from random 128×128 pose maps.
    Returns ``measure``'s dict in ms per implementation."""
    out = size // STRIDE
    head = CenterPoseHead(in_channels=64, test_cfg=dict(topk=TOPK))
    maps = random_maps(POSE_BRANCHES, out, out)
    figures = {}
    with torch.no_grad():
        figures['cnet'] = measure(lambda: head.decode(maps), 10, iters)
        if centernet_root:
            original = load_centernet_tasks(centernet_root)
            figures['original'] = measure(
                lambda: original_pose_decode(original, maps), 10, iters)
    return figures


def time_mono3d_decode(centernet_root: Optional[str] = None,
                       input_hw: Tuple[int, int] = DDD_INPUT,
                       iters: int = 200) -> Dict[str, Dict]:
    """Top-100 3-D detections from random 96×320 ddd maps (3 classes).
    Returns ``measure``'s dict in ms per implementation."""
    height, width = input_hw[0] // STRIDE, input_hw[1] // STRIDE
    head = Mono3DCenterHead(num_classes=DDD_CLASSES, in_channels=64,
                            test_cfg=dict(topk=TOPK))
    maps = random_maps(DDD_BRANCHES, height, width)
    figures = {}
    with torch.no_grad():
        figures['cnet'] = measure(lambda: head.decode(maps), 10, iters)
        if centernet_root:
            original = load_centernet_tasks(centernet_root)
            figures['original'] = measure(
                lambda: original_ddd_decode(original, maps), 10, iters)
    return figures


# ------------------------------------------------------------- the check
def _largest(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return float((ours.double() - theirs.double()).abs().max())


def _compare_targets(ours: Dict[str, torch.Tensor],
                     theirs: Dict[str, torch.Tensor],
                     pairs: Dict[str, Tuple[str, Optional[int]]]
                     ) -> Dict[str, float]:
    """``original name → (cnet name, slots)``: the largest difference on
    the first ``slots`` slots (``None``: a dense map, all of it) and, as
    ``'original beyond'``, the largest value in the original's other
    slots."""
    figures, beyond = {}, 0.
    for name, (mine, slots) in pairs.items():
        reference = theirs[name]
        if slots is not None:
            rest = reference[:, slots:]
            if rest.numel():
                beyond = max(beyond, float(rest.double().abs().max()))
            reference = reference[:, :slots]
        figures[name] = _largest(ours[mine], reference)
    figures['original beyond'] = beyond
    return figures


def check_against_original(centernet_root: str, batch: int = 16
                           ) -> Dict[str, Dict[str, float]]:
    """The largest |cnet − original| per field, for the inputs timed above.

    Sparse targets are compared on the slots both have (cnet's M, the
    busiest image's count); ``'original beyond'`` is the largest value the
    original holds in its other slots (0 expected). The 3-D heatmap's entry
    ``'hm cells differing'`` counts the cells the radius rounding changes
    (``'of'`` the cells in all).
    Decoded boxes, joints and 3-D centres are compared in feature units,
    scores, depths (relative), dimensions and alphas as they are.
    """
    original = load_centernet_tasks(centernet_root)
    checks = {}

    out = POSE_SIZE // STRIDE
    head = CenterPoseHead(in_channels=64)
    instances = random_persons(batch, POSE_MAX_OBJS, POSE_SIZE)
    ours = head.get_targets(instances, None, (batch, 1, out, out))
    theirs = original_pose_targets(
        original, _numpy_inputs(instances, ('labels', 'keypoints')), out)
    slots = ours['ind'].shape[1]
    pose = _compare_targets(ours, theirs, dict(
        hm=('center_heatmap_target', None),
        hm_hp=('joint_heatmap_target', None),
        ind=('ind', slots), wh=('wh_target', slots),
        reg=('offset_target', slots), reg_mask=('mask', slots),
        hps=('keypoint_target', slots), hps_mask=('keypoint_mask', slots),
        hp_ind=('joint_ind', slots * NUM_JOINTS),
        hp_offset=('joint_offset_target', slots * NUM_JOINTS),
        hp_mask=('joint_mask', slots * NUM_JOINTS)))
    checks['pose targets'] = pose

    head = CenterPoseHead(in_channels=64, train_cfg=dict(dense_hp=True))
    ours = head.get_targets(instances, None, (batch, 1, out, out))
    theirs = original_pose_targets(
        original, _numpy_inputs(instances, ('labels', 'keypoints')), out,
        dense_hp=True)
    # Where the person owning a pixel has the joint unlabelled, cnet gives
    # the joint no weight there; the original keeps another person's.
    differ = ours['dense_keypoint_weight'] != theirs['dense_hps_mask']
    agree = ~differ
    checks['pose dense_hp targets'] = {
        'dense_hps where the weights agree': _largest(
            ours['dense_keypoint_target'][agree], theirs['dense_hps'][agree]),
        'weight cells differing': int(differ.sum()),
        'of weighted cells': int((theirs['dense_hps_mask'] > 0).sum())}

    out_hw = (DDD_INPUT[0] // STRIDE, DDD_INPUT[1] // STRIDE)
    head = Mono3DCenterHead(num_classes=DDD_CLASSES, in_channels=64)
    instances = random_objects_3d(batch, DDD_MAX_OBJS)
    ours = head.get_targets(instances, None, (batch, DDD_CLASSES) + out_hw)
    theirs = original_ddd_targets(
        original, _numpy_inputs(instances, ('labels', 'depths',
                                            'dimensions', 'alphas')), out_hw)
    slots = ours['ind'].shape[1]
    ddd = _compare_targets(ours, theirs, dict(
        hm=('center_heatmap_target', None), ind=('ind', slots),
        wh=('wh_target', slots), reg=('offset_target', slots),
        dep=('depth_target', slots), dim=('dim_target', slots),
        rotbin=('rot_bin_target', slots), rotres=('rot_res_target', slots),
        reg_mask=('depth_mask', slots), rot_mask=('mask', slots)))
    ddd['hm cells differing'] = int(
        (ours['center_heatmap_target'] != theirs['hm']).sum())
    ddd['of'] = ours['center_heatmap_target'].numel()
    checks['3-D targets'] = ddd

    with torch.no_grad():
        maps = random_maps(POSE_BRANCHES, out, out)
        head = CenterPoseHead(in_channels=64, test_cfg=dict(topk=TOPK))
        mine = head.decode(maps)
        dets = original_pose_decode(original, maps)
        checks['pose decode'] = dict(
            bboxes=_largest(mine['bboxes'] / STRIDE, dets[..., :4]),
            scores=_largest(mine['scores'], dets[..., 4]),
            keypoints=_largest(mine['keypoints'].flatten(2) / STRIDE,
                               dets[..., 5:5 + 2 * NUM_JOINTS]))

        maps = random_maps(DDD_BRANCHES, *out_hw)
        head = Mono3DCenterHead(num_classes=DDD_CLASSES, in_channels=64,
                                test_cfg=dict(topk=TOPK))
        mine = head.decode(maps)
        dets, alphas = original_ddd_decode(original, maps)
        dets = torch.from_numpy(dets)
        wh = (mine['bboxes'][..., 2:] - mine['bboxes'][..., :2]) / STRIDE
        checks['3-D decode'] = dict(
            centers=_largest(mine['centers_2d'] / STRIDE, dets[..., :2]),
            scores=_largest(mine['scores'], dets[..., 2]),
            labels=_largest(mine['labels'], dets[..., 17]),
            depths_relative=float(((mine['depths'].double() -
                                    dets[..., 11].double()) /
                                   dets[..., 11].double()).abs().max()),
            dimensions=_largest(mine['dimensions'], dets[..., 12:15]),
            wh=_largest(wh, dets[..., 15:17]),
            alphas_mod_2pi=float(torch.remainder(
                mine['alphas'][0].double() - torch.from_numpy(alphas) +
                math.pi, 2 * math.pi).sub(math.pi).abs().max()))
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=2,
                        help='torch threads (default 2)')
    parser.add_argument('--iters', type=int, default=20,
                        help='iterations of ours for (a) and (b)')
    parser.add_argument('--ref-iters', type=int, default=8,
                        help='iterations of the original for (a) and (b)')
    parser.add_argument('--decode-iters', type=int, default=200)
    parser.add_argument('--quick', action='store_true',
                        help='3 / 2 / 10 iterations: a smoke run')
    parser.add_argument('--centernet-root',
                        help='checkout of xingyizhou/CenterNet')
    args = parser.parse_args()
    if args.quick:
        args.iters, args.ref_iters, args.decode_iters = 3, 2, 10
    torch.set_num_threads(args.threads)
    warnings.filterwarnings('ignore', message='size_average and reduce')
    print(f'{platform.processor() or platform.machine()}, '
          f'{args.threads} torch threads, torch {torch.__version__}')

    if args.centernet_root:
        print('check: largest |cnet - original| on the same inputs')
        for part, fields in check_against_original(
                args.centernet_root).items():
            print(f'  {part}: ' + ', '.join(
                f'{name} {value:.3g}' if isinstance(value, float) else
                f'{name} {value}' for name, value in fields.items()))

    persons = sum(len(inst) for inst in random_persons(16, POSE_MAX_OBJS,
                                                       POSE_SIZE))
    print(f'(a) pose targets: 16 images x 1-{POSE_MAX_OBJS} persons '
          f'({persons} in all), {NUM_JOINTS} joints, 128x128 maps')
    figures = time_pose_targets(args.centernet_root, iters=args.iters,
                                ref_iters=args.ref_iters)
    for name, figure in figures.items():
        print(describe(name, figure, None if name == 'cnet' else
                       figures['cnet']))
    print("(a') the same with dense_hp (hps trained over each centre "
          'Gaussian)')
    figures = time_pose_targets(args.centernet_root, iters=args.iters,
                                ref_iters=args.ref_iters, dense_hp=True)
    for name, figure in figures.items():
        print(describe(name, figure, None if name == 'cnet' else
                       figures['cnet']))

    objects = sum(len(inst) for inst in random_objects_3d(16, DDD_MAX_OBJS))
    print(f'(b) 3-D targets: 16 images x 1-{DDD_MAX_OBJS} objects '
          f'({objects} in all), {DDD_CLASSES} classes, 96x320 maps')
    figures = time_mono3d_targets(args.centernet_root, iters=args.iters,
                                  ref_iters=args.ref_iters)
    for name, figure in figures.items():
        print(describe(name, figure, None if name == 'cnet' else
                       figures['cnet']))

    print(f'(c) decode -> top-{TOPK}, batch 1, random normal maps '
          f'(sigmoids included)')
    for title, timer in (
            (f' pose: 1 + {NUM_JOINTS} heatmaps 128x128, joints snapped',
             time_pose_decode),
            (f' 3-D: {DDD_CLASSES}x96x320, with depth and alpha',
             time_mono3d_decode)):
        figures = timer(args.centernet_root, iters=args.decode_iters)
        print(title)
        for name, figure in figures.items():
            print(describe(name, figure, None if name == 'cnet' else
                           figures['cnet']))


if __name__ == '__main__':
    main()
