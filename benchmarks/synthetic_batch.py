"""Random training batches for any cnet config's model, without a dataset.

What the benchmarks that time or trace a training step feed the model: B
images of ``size``² (uint8, as the pipeline packs them, or already
normalised) and one ``DetDataSample`` each with the ground-truth fields its
head reads: boxes and labels, plus ``keypoints`` for a pose head and the
3-D fields (``depths``, ``dimensions``, ``alphas``, ``centers_2d``) for a
monocular 3-D head. Seeded, so every implementation timed on a batch sees
the same one.
"""
from typing import Dict, List

import torch
from mmengine.structures import InstanceData

from cnet.structures import DetDataSample


def random_boxes(num_objects: int, size: int,
                 generator: torch.Generator) -> torch.Tensor:
    """(N, 4) xyxy boxes of 1/16 to 5/8 of ``size`` inside the image."""
    wh = size * (1 / 16 + torch.rand(num_objects, 2, generator=generator)
                 * 9 / 16)
    xy = torch.rand(num_objects, 2, generator=generator) * (size - wh)
    return torch.cat([xy, xy + wh], dim=1)


def random_samples(head: torch.nn.Module, batch: int, size: int,
                   num_objects: int = 8, seed: int = 0
                   ) -> List[DetDataSample]:
    """``batch`` samples with the ground truth ``head`` trains on.

    Args:
        head: the model's ``bbox_head`` (its class and ``num_classes``,
            ``num_joints`` say which fields it needs).
        batch: B.
        size: the square input side in pixels.
        num_objects: objects per image.
        seed: of the generator that draws everything.
    """
    generator = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(batch):
        boxes = random_boxes(num_objects, size, generator)
        fields: Dict[str, torch.Tensor] = dict(
            bboxes=boxes,
            labels=torch.randint(0, head.num_classes, (num_objects, ),
                                 generator=generator))
        num_joints = getattr(head, 'num_joints', None)
        if num_joints:
            low, high = boxes[:, None, :2], boxes[:, None, 2:]
            points = low + (high - low) * torch.rand(
                num_objects, num_joints, 2, generator=generator)
            visible = torch.full((num_objects, num_joints, 1), 2.)
            fields['keypoints'] = torch.cat([points, visible], dim=-1)
        if type(head).__name__ == 'Mono3DCenterHead':
            fields.update(
                depths=5 + 40 * torch.rand(num_objects, generator=generator),
                dimensions=1 + 3 * torch.rand(num_objects, 3,
                                              generator=generator),
                alphas=(torch.rand(num_objects, generator=generator) * 2
                        - 1) * torch.pi,
                centers_2d=(boxes[:, :2] + boxes[:, 2:]) / 2)
        sample = DetDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            batch_input_shape=(size, size), pad_shape=(size, size),
            scale_augmented=False, img_id=len(samples),
            img_path=f'random_{len(samples)}.jpg'))
        sample.gt_instances = InstanceData(**fields)
        samples.append(sample)
    return samples


def random_images(batch: int, size: int, seed: int = 0) -> List[torch.Tensor]:
    """``batch`` (3, size, size) uint8 images, as ``PackDetInputs`` gives."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (3, size, size), generator=generator,
                          dtype=torch.uint8) for _ in range(batch)]


def random_data(head: torch.nn.Module, batch: int, size: int,
                num_objects: int = 8, seed: int = 0) -> dict:
    """The dict a model's ``train_step`` takes: uint8 ``inputs`` and
    ``data_samples`` (see :func:`random_samples`)."""
    return dict(inputs=random_images(batch, size, seed),
                data_samples=random_samples(head, batch, size, num_objects,
                                            seed))
