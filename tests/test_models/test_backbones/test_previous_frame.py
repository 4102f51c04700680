"""CenterTrack's previous-frame inputs of DLA-34 and ResNet: off by default
(nothing changes), on: two extra stems whose outputs add to the image's."""
import pytest
import torch

from cnet.models.backbones import DLA, ResNet


def count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('build', [lambda **kw: DLA(34, **kw),
                                   lambda **kw: ResNet(18, **kw)])
def test_off_by_default_keeps_every_key_and_the_random_init(build):
    torch.manual_seed(0)
    default = build()
    torch.manual_seed(0)
    explicit_off = build(with_pre_img=False, with_pre_hm=False)
    torch.manual_seed(0)
    on = build(with_pre_img=True, with_pre_hm=True)
    default_state = default.state_dict()
    assert list(explicit_off.state_dict()) == list(default_state)
    assert not any(k.startswith('pre_') for k in default_state)
    # The stems are built after the trunk: its random weights are the same.
    on_state = on.state_dict()
    assert all(torch.equal(on_state[k], v) for k, v in default_state.items())
    assert sorted(set(on_state) - set(default_state)) == sorted(
        f'{name}_layer.{leaf}' for name in ('pre_img', 'pre_hm')
        for leaf in ('0.weight', '1.weight', '1.bias', '1.running_mean',
                     '1.running_var', '1.num_batches_tracked'))


def test_dla_stems_have_centertracks_shapes_and_count():
    model = DLA(34, with_pre_img=True, with_pre_hm=True)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes['pre_img_layer.0.weight'] == (16, 3, 7, 7)
    assert shapes['pre_hm_layer.0.weight'] == (16, 1, 7, 7)
    # CenterTrack's dla.py: 15,270,832 of the trunk + 2 × (7·7·c·16 + 32).
    assert count(model) == 15_270_832 + 2384 + 816 == 15_274_032


def test_resnet_stems_match_conv1():
    model = ResNet(18, with_pre_img=True, with_pre_hm=True)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes['pre_img_layer.0.weight'] == (64, 3, 7, 7)
    assert shapes['pre_hm_layer.0.weight'] == (64, 1, 7, 7)
    assert count(model) == count(ResNet(18)) + 64 * 49 * 4 + 4 * 64


@pytest.mark.parametrize('build,stem', [
    (lambda **kw: DLA(34, **kw), lambda m, x: m.base_layer(x)),
    (lambda **kw: ResNet(18, **kw),
     lambda m, x: m.relu(m.bn1(m.conv1(x)))),
])
def test_previous_frame_adds_to_the_stem_output(build, stem):
    torch.manual_seed(1)
    model = build(with_pre_img=True, with_pre_hm=True).eval()
    plain = build().eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items()
                           if not k.startswith('pre_')})
    img = torch.randn(1, 3, 64, 64)
    pre_img = torch.randn(1, 3, 64, 64)
    pre_hm = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        # No previous inputs: exactly the plain network.
        for ours, theirs in zip(model(img), plain(img)):
            assert torch.equal(ours, theirs)
        # The sum enters the trunk: feed it through a hooked stem.
        expected_stem = (stem(model, img) + model.pre_img_layer(pre_img) +
                         model.pre_hm_layer(pre_hm))
        seen = {}

        def record(module, args, out):  # returns None: output unchanged
            seen['in'] = args[0]

        first = model.level0 if isinstance(model, DLA) else model.maxpool
        handle = first.register_forward_hook(record)
        outs = model(img, pre_img, pre_hm)
        handle.remove()
    assert torch.allclose(seen['in'], expected_stem, atol=1e-6)
    assert not torch.allclose(outs[-1], plain(img)[-1])


@pytest.mark.parametrize('build', [DLA, ResNet])
def test_a_previous_input_without_its_stem_is_refused(build):
    model = build(with_pre_img=True).eval()
    x = torch.zeros(1, 3, 32, 32)
    with pytest.raises(ValueError, match='with_pre_hm=True'):
        model(x, pre_hm=torch.zeros(1, 1, 32, 32))
    model(x, pre_img=torch.zeros(1, 3, 32, 32))  # its own stem: accepted
