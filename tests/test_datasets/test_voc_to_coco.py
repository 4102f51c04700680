"""The VOC → COCO converter on hand-written VOCdevkit files."""
import json
import os.path as osp
import subprocess
import sys

import pytest

from cnet.datasets import CocoDataset
from cnet.datasets.voc_to_coco import (
    VOC_CLASSES,
    build_coco_dict,
    convert_voc,
    parse_voc_xml,
    voc_image_id,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

XML_2007 = """<annotation>
  <filename>000005.jpg</filename>
  <size><width>500</width><height>375</height><depth>3</depth></size>
  <object><name>chair</name><pose>Rear</pose><truncated>0</truncated><difficult>0</difficult>
    <bndbox><xmin>263</xmin><ymin>211</ymin><xmax>324</xmax><ymax>339</ymax></bndbox></object>
  <object><name>chair</name><pose>Unspecified</pose><truncated>1</truncated>
    <difficult>1</difficult>
    <bndbox><xmin>5</xmin><ymin>244</ymin><xmax>67</xmax><ymax>374</ymax></bndbox></object>
</annotation>"""
# VOC2012 files may lack <difficult>; coordinates may be written as floats.
XML_2012 = """<annotation>
  <filename>2008_000002.jpg</filename>
  <size><width>400</width><height>300</height><depth>3</depth></size>
  <object><name>tvmonitor</name>
    <bndbox><xmin>34.0</xmin><ymin>11</ymin><xmax>448</xmax><ymax>293</ymax></bndbox></object>
</annotation>"""


def write_devkit(root):
    for year, name, xml, image_set in (('2007', '000005', XML_2007,
                                        'trainval'), ('2012', '2008_000002',
                                                      XML_2012, 'trainval')):
        (root / f'VOC{year}' / 'Annotations').mkdir(parents=True)
        (root / f'VOC{year}' / 'ImageSets' / 'Main').mkdir(parents=True)
        (root / f'VOC{year}' / 'Annotations' / f'{name}.xml').write_text(xml)
        (root / f'VOC{year}' / 'ImageSets' / 'Main' /
         f'{image_set}.txt').write_text(name + '\n')
    # The 2007 test set reuses the first file under its own list.
    (root / 'VOC2007' / 'ImageSets' / 'Main' /
     'test.txt').write_text('000005\n')
    return str(root)


def test_parse_reads_size_boxes_classes_and_difficult(tmp_path):
    path = tmp_path / '000005.xml'
    path.write_text(XML_2007)
    record = parse_voc_xml(str(path))
    assert (record['file_name'], record['width'],
            record['height']) == ('000005.jpg', 500, 375)
    assert [o['name'] for o in record['objects']] == ['chair', 'chair']
    assert record['objects'][0]['bbox'] == [263, 211, 324, 339]
    assert [o['difficult'] for o in record['objects']] == [False, True]


def test_missing_difficult_tag_means_not_difficult(tmp_path):
    path = tmp_path / '2008_000002.xml'
    path.write_text(XML_2012)
    assert parse_voc_xml(str(path))['objects'][0] == dict(
        name='tvmonitor', bbox=[34.0, 11.0, 448.0, 293.0], difficult=False)


def test_build_coco_dict_converts_inclusive_one_based_boxes(tmp_path):
    path = tmp_path / '000005.xml'
    path.write_text(XML_2007)
    coco = build_coco_dict([(7, parse_voc_xml(str(path)))])
    assert coco['categories'][0] == dict(
        id=1, name='aeroplane', supercategory='none')
    assert [c['name'] for c in coco['categories']] == list(VOC_CLASSES)
    assert coco['images'] == [
        dict(id=7, file_name='000005.jpg', width=500, height=375)
    ]
    first, difficult = coco['annotations']
    assert first['bbox'] == [262, 210, 62, 129]
    assert first['area'] == 62 * 129
    assert first['category_id'] == VOC_CLASSES.index('chair') + 1 == 9
    assert (first['iscrowd'], first['ignore']) == (0, 0)
    assert difficult['bbox'] == [4, 243, 63, 131]
    assert (difficult['iscrowd'], difficult['ignore']) == (0, 1)
    assert [a['id'] for a in coco['annotations']] == [1, 2]


def test_unknown_class_is_an_error_naming_the_file():
    record = dict(
        file_name='x.jpg',
        width=4,
        height=4,
        objects=[dict(name='unicorn', bbox=[1, 1, 2, 2], difficult=False)])
    with pytest.raises(ValueError, match="x.jpg: class 'unicorn'"):
        build_coco_dict([(1, record)])


def test_image_ids_of_both_years_do_not_collide():
    assert voc_image_id('2007', '000005') == 2007000005
    assert voc_image_id('2012', '2008_000002') == 2012000002


def test_tool_writes_the_two_files_and_cnet_reads_them(tmp_path):
    devkit = write_devkit(tmp_path / 'VOCdevkit')
    out_dir = tmp_path / 'annotations'
    proc = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'dataset_converters', 'pascal_voc.py'), devkit,
        '--out-dir',
        str(out_dir)
    ],
                          check=True,
                          cwd=ROOT,
                          capture_output=True,
                          text=True)
    # One progress bar per image set, ending at its count of XML files.
    assert 'VOC2007 trainval: 1 annotation files' in proc.stdout
    assert '1/1, ' in proc.stdout
    trainval = json.loads((out_dir / 'pascal_trainval0712.json').read_text())
    test = json.loads((out_dir / 'pascal_test2007.json').read_text())
    assert [i['id'] for i in trainval['images']] == [2007000005, 2012000002]
    assert [a['bbox']
            for a in trainval['annotations']] == [[262, 210, 62, 129],
                                                  [4, 243, 63, 131],
                                                  [33.0, 10.0, 415.0, 283.0]]
    assert [i['file_name'] for i in test['images']] == ['000005.jpg']
    assert convert_voc(devkit)['pascal_test2007.json'] == test
    # Difficult objects stay ordinary training boxes (iscrowd 0), as in the
    # original.
    dataset = CocoDataset(
        ann_file=str(out_dir / 'pascal_trainval0712.json'),
        metainfo=dict(classes=VOC_CLASSES))
    instances = dataset.get_data_info(0)['instances']
    assert [i['ignore_flag'] for i in instances] == [0, 0]
    assert instances[0]['bbox'] == [262.0, 210.0, 324.0, 339.0]
