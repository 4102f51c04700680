import torch

from cnet.models.data_preprocessors import DetDataPreprocessor
from cnet.structures import DetDataSample


def test_pads_before_normalising_and_records_batch_shape():
    pre = DetDataPreprocessor(mean=[10., 20., 30.], std=[2., 4., 5.],
                              pad_size_divisor=4)
    images = [torch.full((3, 5, 6), 50, dtype=torch.uint8),
              torch.full((3, 8, 3), 50, dtype=torch.uint8)]
    samples = [DetDataSample(), DetDataSample()]
    out = pre(dict(inputs=images, data_samples=samples))
    batch = out['inputs']
    assert batch.shape == (2, 3, 8, 8) and batch.dtype == torch.float32
    # Image pixels: (50 - mean) / std; padding is pixel value 0 (black).
    assert torch.allclose(batch[0, :, 0, 0], torch.tensor([20., 7.5, 4.]))
    assert torch.allclose(batch[0, :, 7, 7], torch.tensor([-5., -5., -6.]))
    assert out['data_samples'][1].batch_input_shape == (8, 8)


def test_bgr_to_rgb_swaps_channels_before_normalising():
    pre = DetDataPreprocessor(mean=[0., 0., 0.], std=[1., 1., 1.],
                              bgr_to_rgb=True)
    image = torch.tensor([1., 2., 3.]).view(3, 1, 1)
    out = pre(dict(inputs=[image]))
    assert out['inputs'].flatten().tolist() == [3., 2., 1.]
