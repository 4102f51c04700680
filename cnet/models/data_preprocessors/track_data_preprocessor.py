"""Batch an image and its previous frame, packed as 6 channels."""
from torch import Tensor

from cnet.registry import MODELS

from .det_data_preprocessor import DetDataPreprocessor


@MODELS.register_module()
class TrackDataPreprocessor(DetDataPreprocessor):
    """:class:`DetDataPreprocessor` for ``PackTrackInputs``' (6, H, W)
    inputs: the image's 3 channels then the previous frame's, each group
    normalised (and channel-swapped) as a 3-channel image would be; 3-channel
    inputs (no previous frame) pass as before.

    Returns ``inputs`` (B, 6, H, W) (or (B, 3, H, W)); the tracking detector
    splits it with :meth:`split`.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        channels = (inputs.shape[1] if isinstance(inputs, Tensor)
                    else inputs[0].shape[0])
        if channels == 3:
            return super().forward(data, training)
        if channels != 6:
            raise ValueError(f'TrackDataPreprocessor: inputs must have 3 or '
                             f'6 channels (image, previous frame), got '
                             f'{channels}')
        data = self.cast_data(data)
        inputs = data['inputs']
        batch = inputs if isinstance(inputs, Tensor) else \
            self.stack_batch(list(inputs))
        num, _, height, width = batch.shape
        groups = batch.float().view(num * 2, 3, height, width)
        if self.bgr_to_rgb:
            groups = groups.flip(1)
        groups = (groups - self.mean) / self.std
        batch = groups.view(num, 6, height, width)
        data_samples = data.get('data_samples')
        if data_samples is not None:
            for sample in data_samples:
                sample.set_metainfo(dict(batch_input_shape=(height, width),
                                         pad_shape=(height, width)))
        return dict(inputs=batch, data_samples=data_samples)

    @staticmethod
    def split(inputs: Tensor):
        """(B, 6, H, W) → the image (B, 3, H, W) and the previous frame."""
        return inputs[:, :3], inputs[:, 3:]


__all__ = ['TrackDataPreprocessor']
