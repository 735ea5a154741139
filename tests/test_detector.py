import numpy as np
import pytest

from edge_kws.detector import Detector, DetectorConfig

LABELS = ["_silence_", "_unknown_", "yes", "no"]


def probs(yes=0.0, no=0.0, unknown=0.0):
    return np.array([1 - yes - no - unknown, unknown, yes, no], np.float32)


def feed(det, seq, step=0.02):
    return [e for i, p in enumerate(seq) if (e := det.update(p, i * step)) is not None]


def test_one_utterance_fires_once_and_a_later_one_fires_again():
    det = Detector(LABELS, DetectorConfig(smoothing_ms=60, refractory_ms=500), step_ms=20)
    word = [probs(yes=0.9)] * 20
    gap = [probs()] * 40
    events = feed(det, gap + word + gap + word + gap)
    assert [e.keyword for e in events] == ["yes", "yes"]
    assert events[1].t - events[0].t == pytest.approx(1.2, abs=0.1)


def test_smoothing_ignores_a_single_spike():
    det = Detector(LABELS, DetectorConfig(smoothing_ms=100, threshold=0.6), step_ms=20)
    assert feed(det, [probs()] * 10 + [probs(no=0.95)] + [probs()] * 10) == []


def test_per_keyword_threshold_and_margin_over_unknown():
    det = Detector(LABELS, DetectorConfig(smoothing_ms=20, thresholds={"yes": 0.9}), step_ms=20)
    assert feed(det, [probs(yes=0.8)] * 5) == []
    assert [e.keyword for e in feed(det, [probs(no=0.7)] * 5)] == ["no"]
    det = Detector(LABELS, DetectorConfig(smoothing_ms=20, threshold=0.4, min_margin=0.1), step_ms=20)
    assert feed(det, [probs(yes=0.45, unknown=0.4)] * 5) == []


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="'yes'"):
        DetectorConfig(thresholds={"yes": 1.5})


def test_a_word_that_stays_in_view_past_the_refractory_period_fires_once():
    det = Detector(LABELS, DetectorConfig(smoothing_ms=20, refractory_ms=200), step_ms=20)
    assert len(feed(det, [probs()] * 5 + [probs(no=0.9)] * 50 + [probs()] * 5 + [probs(no=0.9)] * 5)) == 2
