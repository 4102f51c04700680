"""The MOTChallenge bridge to TrackEval: on motmetrics' packaged reference
files it gives the numbers motmetrics' own test expects, and its MOT17
preprocessing removes predictions on distractors."""
import importlib.util
import os.path as osp

import numpy as np
import pytest

from cnet.evaluation.mot_challenge import (
    COMBINED,
    DISTRACTOR,
    PEDESTRIAN,
    evaluate_mot,
    mot_rows,
    mot_table,
    read_mot_file,
    write_mot_file,
)

# motmetrics 1.4.0 (tests/test_metrics.py, test_motchallenge_files): its
# code no longer runs on numpy 2 (np.asfarray), but its package ships the
# MOT15 TUD-Campus / TUD-Stadtmitte ground truth and a tracker's output,
# found here without importing it. Its MOTP is the mean 1 − IoU distance.
EXPECTED = {  # IDF1 IDP IDR Rcll Prcn GT MT PT ML FP FN IDSW Frag MOTA dist
    'TUD-Campus': (0.557659, 0.729730, 0.451253, 0.582173, 0.941441, 8, 1,
                   6, 1, 13, 150, 7, 7, 0.526462, 0.277201),
    'TUD-Stadtmitte': (0.644619, 0.819760, 0.531142, 0.608997, 0.939920,
                       10, 5, 4, 1, 45, 452, 7, 6, 0.564014, 0.345904),
    COMBINED: (0.624296, 0.799176, 0.512211, 0.602640, 0.940268, 18, 6,
               10, 2, 58, 602, 14, 13, 0.555116, 0.330177),
}
NAMES = ('IDF1', 'IDP', 'IDR', 'Rcll', 'Prcn', 'GT_IDs', 'MT', 'PT', 'ML',
         'FP', 'FN', 'IDSW', 'Frag', 'MOTA', 'MOTP')


def motmetrics_data():
    spec = importlib.util.find_spec('motmetrics')
    assert spec is not None, 'motmetrics (requirements/tests.txt) ships ' \
        'the reference data'
    return osp.join(spec.submodule_search_locations[0], 'data')


def test_tud_sequences_give_motmetrics_expected_numbers():
    root = motmetrics_data()
    gt, predictions, lengths = {}, {}, {}
    for seq in ('TUD-Campus', 'TUD-Stadtmitte'):
        gt[seq] = read_mot_file(osp.join(root, seq, 'gt.txt'))
        predictions[seq] = read_mot_file(osp.join(root, seq, 'test.txt'))
        lengths[seq] = int(gt[seq][:, 0].max())
    results = evaluate_mot(gt, predictions, lengths, benchmark='MOT15')
    for seq, expected in EXPECTED.items():
        got = dict(results[seq])
        got['MOTP'] = 1 - got['MOTP']  # motmetrics reports the distance
        for name, value in zip(NAMES, expected):
            assert got[name] == pytest.approx(value, abs=1e-6), (seq, name)
    assert 0 < results[COMBINED]['HOTA'] < 1
    table = mot_table(results)
    assert 'TUD-Campus' in table and 'overall' in table and '52.6' in table


def test_predictions_on_distractors_are_removed_in_mot17():
    boxes = np.array([[10, 10, 50, 90], [100, 10, 140, 90]], np.float64)
    frames = np.array([1, 1])
    gt = mot_rows(frames, [1, 2], boxes, confidences=[1, 1],
                  classes=[PEDESTRIAN, DISTRACTOR], visibilities=[1, 1])
    # A perfect pedestrian, a box on the distractor, one on nothing.
    predicted = mot_rows([1, 1, 1], [5, 6, 7],
                         np.concatenate([boxes, [[200, 10, 240, 90]]]),
                         confidences=[0.9, 0.9, 0.9])
    results = evaluate_mot({'seq': gt}, {'seq': predicted}, {'seq': 1})
    assert results['seq']['TP'] == 1
    assert results['seq']['FP'] == 1     # the third; the second is removed
    assert results['seq']['FN'] == 0
    assert results['seq']['MOTA'] == pytest.approx(0.0)
    # Without preprocessing (MOT15) the distractor is a pedestrian.
    plain = evaluate_mot({'seq': gt}, {'seq': predicted}, {'seq': 1},
                         benchmark='MOT15')['seq']
    assert (plain['TP'], plain['FP']) == (2, 1)


def test_an_empty_tracker_misses_everything():
    gt = mot_rows([1, 2], [1, 1], [[0, 0, 10, 10], [1, 0, 11, 10]],
                  confidences=[1, 1], classes=[1, 1])
    results = evaluate_mot({'a': gt}, {}, {'a': 3})
    assert results['a']['FN'] == 2 and results['a']['MOTA'] == 0.0


def test_mot_files_round_trip_and_name_bad_lines(tmp_path):
    rows = mot_rows([2, 1], [7, 3], [[1.5, 2, 11.5, 22], [0, 0, 4, 4]],
                    confidences=[0.75, 1.0])
    path = str(tmp_path / 'seq.txt')
    write_mot_file(path, rows)
    assert open(path).read().splitlines() == [
        '1,3,0,0,4,4,1,-1,-1', '2,7,1.5,2,10,20,0.75,-1,-1']
    assert np.array_equal(read_mot_file(path), rows[[1, 0]])
    bad = tmp_path / 'bad.txt'
    bad.write_text('1,2,3,4,5,6,1\n1,2,x\n')
    with pytest.raises(ValueError, match=r'bad\.txt:2: not comma'):
        read_mot_file(str(bad))
    with pytest.raises(ValueError, match='same sequences'):
        evaluate_mot({'a': rows}, {}, {'b': 2})
