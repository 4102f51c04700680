"""One reader of COCO json files: the dataset, the box metric and the
tracking metric refuse a malformed file with the same error."""
import pytest

from cnet.datasets import CocoDataset
from cnet.evaluation.metrics import CocoMetric, MOTMetric
from cnet.fileio import AnnotationError, load_coco_json

MALFORMED = {
    'truncated': ('{"images": [', 'is not valid JSON'),
    'a list': ('[1, 2]', 'holds a list, not a JSON object'),
    'images a dict': ('{"images": {}, "categories": []}',
                      "'images' at the top level is a dict, not a list"),
    'annotations a string': (
        '{"images": [], "annotations": "none", "categories": []}',
        "'annotations' at the top level is a str, not a list"),
}


def readers(path):
    return {
        'CocoDataset': lambda: CocoDataset(ann_file=path, pipeline=[]),
        'CocoMetric': lambda: CocoMetric(ann_file=path),
        'MOTMetric': lambda: MOTMetric(ann_file=path),
    }


@pytest.mark.parametrize('case', sorted(MALFORMED))
def test_every_reader_refuses_with_the_one_readers_error(tmp_path, case):
    content, message = MALFORMED[case]
    path = tmp_path / 'broken.json'
    path.write_text(content)
    with pytest.raises(AnnotationError) as expected:
        load_coco_json(str(path))
    assert message in str(expected.value)
    assert str(expected.value).startswith(f'{path}: file: ')
    for name, read in readers(str(path)).items():
        with pytest.raises(AnnotationError) as raised:
            read()
        assert str(raised.value) == str(expected.value), name


def test_annotations_are_filled_only_when_asked(tmp_path):
    path = tmp_path / 'image_info.json'
    path.write_text('{"images": [], "categories": []}')
    assert load_coco_json(str(path))['annotations'] == []
    assert 'annotations' not in load_coco_json(str(path),
                                               fill_annotations=False)


def test_required_lists_are_named(tmp_path):
    path = tmp_path / 'frames.json'
    path.write_text('{"images": []}')
    assert load_coco_json(str(path), required=('images', ))['images'] == []
    with pytest.raises(AnnotationError,
                       match="'categories' is missing .*no 'categories'"):
        load_coco_json(str(path))
