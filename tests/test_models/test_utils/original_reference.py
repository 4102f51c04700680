"""A numpy transcription of the original CenterNet's per-object code paths.

What the tests compare cnet's batched tensor code with: the behaviour of
``gaussian_radius`` / ``gaussian2D`` / ``draw_umich_gaussian``
(``src/lib/utils/image.py``), the target loop of ``CTDetDataset``
(``src/lib/datasets/sample/ctdet.py``) and ``CtdetLoss`` with ``_neg_loss``
and ``RegL1Loss`` (``src/lib/trains/ctdet.py``, ``src/lib/models/losses.py``)
of https://github.com/xingyizhou/CenterNet, written out one object at a time
and one image at a time, as the original runs them.
"""
import math

import numpy as np


def gaussian_radius(det_size, min_overlap=0.7):
    height, width = det_size
    roots = []
    for a, b, c in (
            (1, height + width,
             width * height * (1 - min_overlap) / (1 + min_overlap)),
            (4, 2 * (height + width), (1 - min_overlap) * width * height),
            (4 * min_overlap, -2 * min_overlap * (height + width),
             (min_overlap - 1) * width * height)):
        # The original divides by 2, not 2a, and adds b in every case.
        roots.append((b + np.sqrt(b ** 2 - 4 * a * c)) / 2)
    return min(roots)


def gaussian2d(diameter, sigma):
    half = (diameter - 1.) / 2.
    y, x = np.ogrid[-half:half + 1, -half:half + 1]
    kernel = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    kernel[kernel < np.finfo(kernel.dtype).eps * kernel.max()] = 0
    return kernel


def draw_umich_gaussian(heatmap, center, radius):
    diameter = 2 * radius + 1
    kernel = gaussian2d(diameter, sigma=diameter / 6)
    x, y = int(center[0]), int(center[1])
    height, width = heatmap.shape[:2]
    left, right = min(x, radius), min(width - x, radius + 1)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    region = heatmap[y - top:y + bottom, x - left:x + right]
    patch = kernel[radius - top:radius + bottom, radius - left:radius + right]
    if min(patch.shape) > 0 and min(region.shape) > 0:
        np.maximum(region, patch, out=region)
    return heatmap



def draw_dense_reg(regmap, heatmap, center, value, radius):
    """``draw_dense_reg(..., is_offset=True)`` for a 2-vector ``value``."""
    diameter = 2 * radius + 1
    kernel = gaussian2d(diameter, sigma=diameter / 6)
    value = np.array(value, dtype=np.float32).reshape(-1, 1, 1)
    reg = np.ones((2, diameter * 2 + 1, diameter * 2 + 1),
                  dtype=np.float32) * value
    delta = np.arange(diameter * 2 + 1) - radius
    reg[0] = reg[0] - delta.reshape(1, -1)
    reg[1] = reg[1] - delta.reshape(-1, 1)
    x, y = int(center[0]), int(center[1])
    height, width = heatmap.shape[0:2]
    left, right = min(x, radius), min(width - x, radius + 1)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    region = heatmap[y - top:y + bottom, x - left:x + right]
    region_reg = regmap[:, y - top:y + bottom, x - left:x + right]
    patch = kernel[radius - top:radius + bottom, radius - left:radius + right]
    patch_reg = reg[:, radius - top:radius + bottom,
                    radius - left:radius + right]
    if min(patch.shape) > 0 and min(region.shape) > 0:
        idx = (patch >= region).reshape(1, patch.shape[0], patch.shape[1])
        region_reg = (1 - idx) * region_reg + idx * patch_reg
    regmap[:, y - top:y + bottom, x - left:x + right] = region_reg
    return regmap


def dense_hp_targets(height, width, centers, radii, offsets, visible):
    """``dense_kps`` and ``dense_kps_mask`` of ``MultiPoseDataset`` for one
    image (one class): (2J, H, W) each, joint-major as the original
    reshapes them."""
    num_joints = offsets.shape[1]
    hm = np.zeros((height, width), np.float32)
    dense = np.zeros((num_joints, 2, height, width), np.float32)
    mask = np.zeros((num_joints, height, width), np.float32)
    for center, radius, offset, vis in zip(centers, radii, offsets, visible):
        for j in range(num_joints):
            if vis[j]:
                draw_dense_reg(dense[j], hm, center, offset[j], int(radius))
                draw_umich_gaussian(mask[j], center, int(radius))
        draw_umich_gaussian(hm, center, int(radius))
    mask = np.repeat(mask[:, None], 2, axis=1)
    return (dense.reshape(2 * num_joints, height, width),
            mask.reshape(2 * num_joints, height, width))

def ctdet_targets(boxes, labels, num_classes, out_h, out_w, max_objs,
                  min_overlap=0.7):
    """One image's targets; ``boxes`` (N, 4) float32 xyxy in feature units."""
    hm = np.zeros((num_classes, out_h, out_w), dtype=np.float32)
    wh = np.zeros((max_objs, 2), dtype=np.float32)
    reg = np.zeros((max_objs, 2), dtype=np.float32)
    ind = np.zeros((max_objs, ), dtype=np.int64)
    reg_mask = np.zeros((max_objs, ), dtype=np.uint8)
    for k in range(len(boxes)):
        bbox = boxes[k].astype(np.float32).copy()
        bbox[[0, 2]] = np.clip(bbox[[0, 2]], 0, out_w - 1)
        bbox[[1, 3]] = np.clip(bbox[[1, 3]], 0, out_h - 1)
        h, w = bbox[3] - bbox[1], bbox[2] - bbox[0]
        if h > 0 and w > 0:
            radius = gaussian_radius((math.ceil(h), math.ceil(w)),
                                     min_overlap)
            radius = max(0, int(radius))
            ct = np.array([(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2],
                          dtype=np.float32)
            ct_int = ct.astype(np.int32)
            draw_umich_gaussian(hm[int(labels[k])], ct_int, radius)
            wh[k] = 1. * w, 1. * h
            ind[k] = ct_int[1] * out_w + ct_int[0]
            reg[k] = ct - ct_int
            reg_mask[k] = 1
    return dict(hm=hm, wh=wh, reg=reg, ind=ind, reg_mask=reg_mask)


def clamped_sigmoid(logits):
    """The original's ``_sigmoid``, in the dtype of ``logits`` (float32 as
    the original trains: the clamp bound 1 - 1e-4 rounds in float32)."""
    dtype = logits.dtype.type
    with np.errstate(over='ignore'):   # exp(-x) = inf gives 0, then 1e-4
        probability = 1 / (1 + np.exp(-logits))
    return np.clip(probability, dtype(1e-4), dtype(1 - 1e-4))


def neg_loss(pred, gt):
    pos_inds = (gt == 1).astype(np.float64)
    neg_inds = (gt < 1).astype(np.float64)
    neg_weights = np.power(1 - gt, 4)
    pos_loss = (np.log(pred) * np.power(1 - pred, 2) * pos_inds).sum()
    neg_loss = (np.log(1 - pred) * np.power(pred, 2) * neg_weights *
                neg_inds).sum()
    num_pos = pos_inds.sum()
    if num_pos == 0:
        return -neg_loss
    return -(pos_loss + neg_loss) / num_pos


def transpose_and_gather(feat, ind):
    """(B, D, H, W) map read at ``ind`` (B, M) → (B, M, D)."""
    batch, dim = feat.shape[:2]
    flat = feat.reshape(batch, dim, -1).transpose(0, 2, 1)
    return np.stack([flat[b, ind[b]] for b in range(batch)])


def reg_l1_loss(output, mask, ind, target):
    pred = transpose_and_gather(output, ind)
    mask = np.repeat(mask[:, :, None], pred.shape[2], axis=2).astype(
        np.float64)
    loss = np.abs(pred * mask - target * mask).sum()
    return loss / (mask.sum() + 1e-4)


def ctdet_loss(outputs, batch, hm_weight=1., wh_weight=0.1, off_weight=1.):
    """``outputs``: per stack a dict of (B, *, H, W) logits / maps (numpy,
    float32 to reproduce the original's rounding)."""
    num_stacks = len(outputs)
    hm_loss = wh_loss = off_loss = 0.
    for output in outputs:
        hm_loss += neg_loss(clamped_sigmoid(output['hm']),
                            batch['hm']) / num_stacks
        wh_loss += reg_l1_loss(output['wh'], batch['reg_mask'], batch['ind'],
                               batch['wh']) / num_stacks
        off_loss += reg_l1_loss(output['reg'], batch['reg_mask'],
                                batch['ind'], batch['reg']) / num_stacks
    return dict(hm_loss=hm_weight * hm_loss, wh_loss=wh_weight * wh_loss,
                off_loss=off_weight * off_loss)
