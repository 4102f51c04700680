"""TTFNet's targets one object at a time, in numpy: the test reference.

A transcription of the arithmetic of ``TTFHead.target_single_image`` (with
``wh_gaussian=True``, ``wh_agnostic=True``) and ``draw_truncate_gaussian`` of
ZJULearning/ttfnet, on boxes already in input pixels. Two conventions follow
cnet rather than TTFNet's mmdet 1.x, and the cnet side is called with the
same: the integer centre is the one of the box clipped to the map
(CenterNet's), and the log area is ``log((w + 1)(h + 1))`` of the box.
"""
import numpy as np


def gaussian_2d(shape, sigma_x, sigma_y):
    m, n = [(ss - 1.) / 2. for ss in shape]
    y, x = np.ogrid[-m:m + 1, -n:n + 1]
    h = np.exp(-(x * x / (2 * sigma_x * sigma_x) +
                 y * y / (2 * sigma_y * sigma_y)))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    return h


def draw_truncate_gaussian(heatmap, center, h_radius, w_radius):
    h, w = 2 * h_radius + 1, 2 * w_radius + 1
    gaussian = gaussian_2d((h, w), sigma_x=w / 6, sigma_y=h / 6)
    x, y = int(center[0]), int(center[1])
    height, width = heatmap.shape[0:2]
    left, right = min(x, w_radius), min(width - x, w_radius + 1)
    top, bottom = min(y, h_radius), min(height - y, h_radius + 1)
    masked_heatmap = heatmap[y - top:y + bottom, x - left:x + right]
    masked_gaussian = gaussian[h_radius - top:h_radius + bottom,
                               w_radius - left:w_radius + right]
    if min(masked_gaussian.shape) > 0 and min(masked_heatmap.shape) > 0:
        np.maximum(masked_heatmap, masked_gaussian, out=masked_heatmap)
    return heatmap


def targets(boxes, labels, centers, feat_wh, num_classes, height, width,
            alpha=0.54, beta=0.54):
    """``(heatmap, box_target, reg_weight)`` of one image.

    Args:
        boxes: (N, 4) xyxy input pixels; labels (N,) 0-based; centers (N, 2)
            integer cells; feat_wh (N, 2) clipped sizes in feature units.
    """
    heatmap = np.zeros((num_classes, height, width), np.float32)
    box_target = np.zeros((4, height, width), np.float32)
    reg_weight = np.zeros((height, width), np.float32)
    wh = boxes[:, 2:] - boxes[:, :2]
    log_areas = np.log((wh[:, 0] + 1) * (wh[:, 1] + 1))
    # Larger boxes first: the smaller ones overwrite them (stable for ties,
    # so that the first of equal boxes comes last... as TTFNet's topk order
    # is unspecified for ties, the tests use distinct areas).
    order = np.argsort(-log_areas, kind='stable')
    h_alpha = (feat_wh[:, 1] / 2. * alpha).astype(np.int64)
    w_alpha = (feat_wh[:, 0] / 2. * alpha).astype(np.int64)
    h_beta = (feat_wh[:, 1] / 2. * beta).astype(np.int64)
    w_beta = (feat_wh[:, 0] / 2. * beta).astype(np.int64)
    for k in order:
        fake = np.zeros((height, width), np.float32)
        draw_truncate_gaussian(fake, centers[k], h_alpha[k], w_alpha[k])
        heatmap[labels[k]] = np.maximum(heatmap[labels[k]], fake)
        fake = np.zeros((height, width), np.float32)
        draw_truncate_gaussian(fake, centers[k], h_beta[k], w_beta[k])
        inds = fake > 0
        box_target[:, inds] = boxes[k][:, None]
        local = fake[inds]
        reg_weight[inds] = local * log_areas[k] / local.sum()
    return heatmap, box_target, reg_weight
