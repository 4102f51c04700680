"""``torch.compile(fullgraph=True)`` of every config's forward + loss and of
its decode: no graph break, so no host synchronisation (``.item()``,
``.tolist()``, data-dependent shapes) in the training step's forward and
loss nor in decoding.

The one value read on the host is the instance count of every image, when
the targets lay the batch out (``pack_instances``): it is known from the
data (the length of each image's ``gt_instances``), not read back from the
device. Under ``torch.compile`` the target and loss functions take their
static-shape path (``cnet.models.utils.static_shapes``); the compiled
losses and detections are compared with eager's.

The configs share a handful of building blocks: a backbone with its neck
(ResNet + DeconvNeck with or without DCNv2, DLA-34 + DLANeck, Hourglass-104)
and a head with its train_cfg options. Compiling every config would take
minutes on one core, so one representative per pairing below is compiled
(``backend='eager'``: dynamo's tracing, where graph breaks are found,
without Inductor's code generation), and a test checks that every config's
backbone-neck and head kinds are among those compiled. Inputs are 128² (the
least Hourglass-104 takes), 2 images with 3 objects each.
"""
import glob
import os.path as osp
from typing import Dict, List, Tuple

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from cnet.registry import MODELS
from cnet.structures import DetDataSample

from shapes_setup import ROOT

CONFIG_DIR = osp.join(ROOT, 'configs')
# The configs compiled: together they hold every backbone-neck kind and
# every head kind of configs/ (test_every_config_is_represented).
REPRESENTATIVES = (
    'centernet_resnet18_shapes.py',         # ResNet + DeconvNeck, CenterHead
    'centernet_resnet18_dcn.py',            # ResNet + DeconvNeck with DCNv2
    'centernet_fast_dla34.py',              # DLA-34, ltrb Gaussian cells
    'centernet_fast_resnet18_shapes.py',    # ltrb centre 3x3, extra pos.
    'centernet_pose_hourglass104.py',       # Hourglass-104 (2 stacks), pose
    'centernet_pose_resnet18_shapes.py',    # pose with dense_hp
    'centernet_3d_resnet18_shapes.py',      # monocular 3-D
    'centertrack_resnet18_shapes.py',       # tracking, previous frame + hm
    'centertrack_dla34_mot17.py',           # tracking with ltrb_amodal
)
SIZE = 128
# train_cfg options that change which code builds targets or losses (the
# others are numbers).
PATH_OPTIONS = ('heatmap_radius', 'box_cells', 'box_weight', 'dense_hp')


@pytest.fixture(autouse=True)
def cnet_scope():
    with DefaultScope.overwrite_default_scope('cnet'):
        yield


def config_names() -> List[str]:
    return sorted(osp.basename(p)
                  for p in glob.glob(osp.join(CONFIG_DIR, '*.py')))


def kinds(name: str) -> Tuple[tuple, tuple]:
    """(backbone-neck kind, head kind) of a config's model."""
    model = Config.fromfile(osp.join(CONFIG_DIR, name)).model
    neck = model.get('neck') or {}
    conv = (neck.get('conv_cfg') or {}).get('type')
    head = model.bbox_head
    train_cfg = {**(model.get('train_cfg') or {}),
                 **(head.get('train_cfg') or {})}
    options = tuple((key, train_cfg[key]) for key in PATH_OPTIONS
                    if key in train_cfg)
    extra = bool(train_cfg.get('extra_positives', 0))
    return ((model.backbone.type, neck.get('type'), conv),
            (head.type, tuple(sorted(head.get('branches') or {})), options,
             extra))


def test_every_config_is_represented():
    compiled = [kinds(name) for name in REPRESENTATIVES]
    networks = {network for network, _ in compiled}
    heads = {head for _, head in compiled}
    for name in config_names():
        network, head = kinds(name)
        assert network in networks, f'{name}: {network} is not compiled'
        assert head in heads, f'{name}: {head} is not compiled'


def build_model(name: str) -> torch.nn.Module:
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    if 'init_cfg' in cfg.model.backbone:
        cfg.model.backbone.init_cfg = None    # nothing is downloaded
    return MODELS.build(cfg.model)


def samples(head: torch.nn.Module, batch: int = 2,
            num_objects: int = 3) -> List[DetDataSample]:
    """Seeded ground truth of the fields ``head`` reads."""
    generator = torch.Generator().manual_seed(0)
    out = []
    for index in range(batch):
        wh = SIZE * (0.1 + 0.5 * torch.rand(num_objects, 2,
                                            generator=generator))
        xy = torch.rand(num_objects, 2, generator=generator) * (SIZE - wh)
        boxes = torch.cat([xy, xy + wh], dim=1)
        fields: Dict[str, torch.Tensor] = dict(
            bboxes=boxes, labels=torch.randint(
                0, head.num_classes, (num_objects, ), generator=generator))
        num_joints = getattr(head, 'num_joints', None)
        if num_joints:
            points = xy[:, None] + wh[:, None] * torch.rand(
                num_objects, num_joints, 2, generator=generator)
            visible = torch.full((num_objects, num_joints, 1), 2.)
            visible[0, :3] = 0                  # some joints not labelled
            fields['keypoints'] = torch.cat([points, visible], dim=-1)
        if type(head).__name__ == 'Mono3DCenterHead':
            fields.update(
                depths=5 + 40 * torch.rand(num_objects, generator=generator),
                dimensions=1 + 3 * torch.rand(num_objects, 3,
                                              generator=generator),
                alphas=torch.rand(num_objects, generator=generator) * 6 - 3,
                centers_2d=xy + wh / 2)
        if type(head).__name__ == 'CenterTrackHead':
            # Objects 0 and 1 were in the previous frame (moved a little),
            # object 2 is new; the previous frame also held one that left.
            fields['track_ids'] = torch.arange(num_objects) + 10 * index
            if head.with_amodal:
                fields['amodal_bboxes'] = boxes + 2.
            shift = torch.rand(num_objects, 2, generator=generator) * 6 - 3
            pre_boxes = torch.cat([boxes[:2] + shift[:2].repeat(1, 2),
                                   torch.tensor([[4., 4., 30., 40.]])])
            pre_ids = torch.tensor([0, 1, 99]) + 10 * index
        sample = DetDataSample(metainfo=dict(
            img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE),
            batch_input_shape=(SIZE, SIZE), pad_shape=(SIZE, SIZE),
            scale_augmented=False, img_id=index))
        sample.gt_instances = InstanceData(**fields)
        if type(head).__name__ == 'CenterTrackHead':
            sample.pre_instances = InstanceData(bboxes=pre_boxes,
                                                track_ids=pre_ids)
        out.append(sample)
    return out


@pytest.mark.parametrize('name', REPRESENTATIVES)
def test_forward_loss_and_decode_compile_without_graph_break(name):
    torch.manual_seed(0)
    model = build_model(name).train()
    tracking = type(model.bbox_head).__name__ == 'CenterTrackHead'
    # CenterTrack: the image and its previous frame.
    inputs = torch.randn(2, 6 if tracking else 3, SIZE, SIZE)
    batch = samples(model.bbox_head)

    def forward_loss(images):
        return model(images, batch, mode='loss')

    with torch.no_grad():
        # The same draws of CenterTrack's disturbance of the previous
        # heatmap in both runs.
        torch.manual_seed(1)
        eager = forward_loss(inputs)
        torch._dynamo.reset()
        torch.manual_seed(1)
        compiled = torch.compile(forward_loss, fullgraph=True,
                                 backend='eager')(inputs)
    assert sorted(compiled) == sorted(eager)
    for key, value in eager.items():
        # The static path sums masked maps where eager sums the selected
        # cells: the same terms, another order of float additions.
        torch.testing.assert_close(compiled[key], value, rtol=1e-5,
                                   atol=1e-6, msg=key)

    model.eval()
    with torch.no_grad():
        outputs = model(inputs[:1], mode='tensor')
        # Random maps: an untrained head's flat heatmap has tied scores,
        # which eager's row-bound top-k and the compiled full top-k may
        # order differently.
        outputs = {name: [torch.randn_like(m) for m in maps]
                   for name, maps in outputs.items()}
        eager = model.bbox_head.decode(outputs)
        torch._dynamo.reset()
        compiled = torch.compile(model.bbox_head.decode, fullgraph=True,
                                 backend='eager')(outputs)
    for key in ('scores', 'labels', 'bboxes'):
        torch.testing.assert_close(compiled[key], eager[key], rtol=0,
                                   atol=0, msg=key)
