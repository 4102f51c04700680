"""Batch the pipeline's images on the device and normalise them there."""
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor
from torch import Tensor

from cnet.registry import MODELS


@MODELS.register_module()
class DetDataPreprocessor(BaseDataPreprocessor):
    """Stack, pad, move and normalise a batch of CHW images.

    The images arrive as uint8 (or float32 after photometric augmentation,
    still in 0..255 units). They are padded *before* normalisation with
    ``pad_value`` in pixel units (0: the black border that the affine warp
    already uses), moved to the device in their own dtype (uint8 is a quarter
    of the bytes), then normalised in one batched op.

    Args:
        mean: per-channel mean in 0..255 units, in the channel order of the
            image after ``bgr_to_rgb``. The original CenterNet feeds BGR images
            with mean (0.408, 0.447, 0.470)·255 and std (0.289, 0.274,
            0.278)·255.
        std: per-channel std in 0..255 units.
        bgr_to_rgb: swap the channels of the BGR images the pipeline loads
            (MMDetection's CenterNet weights expect RGB; the original's, BGR).
        pad_size_divisor: pad height and width up to a multiple of it.
        pad_value: the padding, in pixel units.
    """

    def __init__(self,
                 mean: Sequence[float],
                 std: Sequence[float],
                 bgr_to_rgb: bool = False,
                 pad_size_divisor: int = 1,
                 pad_value: float = 0.0,
                 non_blocking: Optional[bool] = False) -> None:
        super().__init__(non_blocking)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f'DetDataPreprocessor: mean and std need 3 '
                             f'values, got mean={mean}, std={std}')
        self.register_buffer(
            'mean', torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer(
            'std', torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.bgr_to_rgb = bgr_to_rgb
        self.pad_size_divisor = pad_size_divisor
        self.pad_value = pad_value

    def stack_batch(self, images: List[Tensor]) -> Tensor:
        """(3, h_i, w_i) images → (B, 3, H, W), padded at the bottom-right."""
        heights = [img.shape[-2] for img in images]
        widths = [img.shape[-1] for img in images]
        d = self.pad_size_divisor
        pad_h = -(-max(heights) // d) * d
        pad_w = -(-max(widths) // d) * d
        if all(h == pad_h for h in heights) and all(w == pad_w
                                                    for w in widths):
            return torch.stack(images)
        return torch.stack([
            F.pad(
                img, (0, pad_w - img.shape[-1], 0, pad_h - img.shape[-2]),
                value=self.pad_value) for img in images
        ])

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, Tensor):
            batch = inputs
        else:
            batch = self.stack_batch(list(inputs))
        batch = batch.float()
        if self.bgr_to_rgb:
            batch = batch.flip(1)
        batch = (batch - self.mean) / self.std
        data_samples = data.get('data_samples')
        if data_samples is not None:
            batch_input_shape = tuple(batch.shape[-2:])
            for sample in data_samples:
                sample.set_metainfo(
                    dict(
                        batch_input_shape=batch_input_shape,
                        pad_shape=batch_input_shape))
        return dict(inputs=batch, data_samples=data_samples)
