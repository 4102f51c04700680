import pytest
import torch

from cnet.models.necks import DeconvNeck
from cnet.models.necks.deconv_neck import fill_bilinear_


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_msra_layout_upsamples_by_8_with_the_original_parameter_count():
    neck = DeconvNeck(in_channels=512, out_channels=(256, 256, 256))
    neck.init_weights()
    out = neck((torch.randn(1, 512, 4, 5), ))
    assert len(out) == 1 and out[0].shape == (1, 256, 32, 40)
    # 512*256*16 + 2 * 256*256*16 transposed-conv weights, 3 BNs of 256.
    assert count(neck) == 512 * 256 * 16 + 2 * 256 * 256 * 16 + 3 * 512


def test_resnet_dcn_layout_with_plain_conv():
    neck = DeconvNeck(in_channels=512, out_channels=(256, 128, 64),
                      with_conv=True, bilinear_init=True)
    neck.init_weights()
    out = neck((torch.randn(2, 512, 4, 4), ))
    assert out[0].shape == (2, 64, 32, 32)


def test_bilinear_kernel_matches_the_original_values():
    deconv = torch.nn.ConvTranspose2d(2, 2, 4, stride=2, padding=1,
                                      bias=False)
    fill_bilinear_(deconv)
    # f = 2, c = 0.75: 1 - |i/2 - 0.75| = 0.25, 0.75, 0.75, 0.25.
    row = torch.tensor([0.25, 0.75, 0.75, 0.25])
    expected = row[:, None] * row[None, :]
    assert torch.allclose(deconv.weight[0, 0], expected)
    assert torch.allclose(deconv.weight[1, 0], expected)


def test_lateral_maps_are_added_after_each_stage():
    neck = DeconvNeck(in_channels=512, out_channels=(256, 128, 64),
                      with_conv=True, bilinear_init=True,
                      lateral_channels=(256, 128, 64))
    neck.init_weights()
    neck.eval()
    feats = (torch.randn(1, 64, 32, 32), torch.randn(1, 128, 16, 16),
             torch.randn(1, 256, 8, 8), torch.randn(1, 512, 4, 4))
    out = neck(feats)[0]
    assert out.shape == (1, 64, 32, 32)
    # The same computation written out stage by stage.
    x = feats[3]
    for stage in range(3):
        x = neck.deconv_layers[6 * stage:6 * stage + 6](x)
        x = x + neck.lateral_convs[stage](feats[2 - stage])
    assert torch.equal(out, x)
    # Without laterals the keys are the original's: no lateral_convs.
    plain = DeconvNeck(in_channels=512, out_channels=(256, 128, 64),
                       with_conv=True)
    assert not any('lateral' in k for k in plain.state_dict())


def test_lateral_errors_name_the_mismatch():
    with pytest.raises(ValueError, match='one entry per upsampling stage'):
        DeconvNeck(in_channels=512, out_channels=(256, 128, 64),
                   lateral_channels=(256, 128))
    neck = DeconvNeck(in_channels=512, out_channels=(256, 128, 64),
                      lateral_channels=(256, 128, 64))
    with pytest.raises(ValueError, match='out_indices'):
        neck((torch.randn(1, 512, 4, 4), ))
