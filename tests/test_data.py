"""Loading a Speech Commands-layout folder the way the dataset's paper does."""

import logging

import numpy as np
import pytest

from edge_kws.audio import AudioError, read_audio
from edge_kws.dataset import SILENCE, UNKNOWN, list_clips, parse_keywords, which_set
from training.config import TrainConfig
from training.data import load_dataset

from .conftest import tone, write_audio


@pytest.fixture
def layout(tmp_path):
    """yes/no keywords, two other words, split lists, one odd file of each kind."""
    for word, freq in [("yes", 500), ("no", 900), ("cat", 1300), ("dog", 1700)]:
        for i in range(6):
            write_audio(tmp_path / word / f"spk{i}_nohash_0.wav", tone(freq + 10 * i, 1.0))
    write_audio(tmp_path / "yes" / "stereo44k_nohash_0.wav", tone(500, 1.0, 44100, channels=2), rate=44100)
    write_audio(tmp_path / "no" / "short_nohash_0.wav", tone(900, 0.4))
    write_audio(tmp_path / "no" / "long_nohash_0.wav", tone(900, 1.7))
    (tmp_path / "yes" / "broken_nohash_0.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    write_audio(tmp_path / "_background_noise_" / "hum.wav", tone(60, 5.0))
    (tmp_path / "validation_list.txt").write_text("yes/spk1_nohash_0.wav\nno/spk1_nohash_0.wav\ncat/spk1_nohash_0.wav\n")
    (tmp_path / "testing_list.txt").write_text("yes/spk2_nohash_0.wav\nno/spk2_nohash_0.wav\ndog/spk2_nohash_0.wav\n")
    return tmp_path


def test_words_not_chosen_become_unknown_and_background_is_not_a_class(layout):
    clips = list_clips(layout, ["yes", "no"])
    labels = {p.parent.name: label for p, label in clips}
    assert labels == {"yes": "yes", "no": "no", "cat": UNKNOWN, "dog": UNKNOWN}


def test_split_lists_decide_the_split(layout):
    test = {p.relative_to(layout).as_posix() for p, _ in list_clips(layout, ["yes", "no"], "testing")}
    assert test == {"yes/spk2_nohash_0.wav", "no/spk2_nohash_0.wav", "dog/spk2_nohash_0.wav"}
    train = {p.relative_to(layout).as_posix() for p, _ in list_clips(layout, ["yes", "no"], "training")}
    assert "yes/spk1_nohash_0.wav" not in train and "dog/spk1_nohash_0.wav" in train


def test_without_lists_a_speaker_stays_in_one_split():
    splits = {which_set(f"speaker{i}_nohash_{n}.wav", 10, 10) for i in range(3) for n in range(5)}
    assert len({which_set(f"speakerX_nohash_{n}.wav", 10, 10) for n in range(20)}) == 1
    shares = [which_set(f"s{i}_nohash_0.wav", 10, 10) for i in range(3000)]
    assert 0.07 < shares.count("validation") / 3000 < 0.13 and 0.07 < shares.count("testing") / 3000 < 0.13
    assert splits <= {"training", "validation", "testing"}


def test_load_pads_crops_resamples_and_skips_unreadable_files_by_name(layout, caplog):
    cfg = TrainConfig(data=str(layout), keywords=["yes", "no"], unknown_percentage=100, silence_percentage=50)
    with caplog.at_level(logging.INFO):
        data = load_dataset(cfg)
    assert data.labels == [SILENCE, UNKNOWN, "yes", "no"]
    assert [s.endswith("broken_nohash_0.wav") for s in data.skipped] == [True]
    assert "broken_nohash_0.wav" in caplog.text
    assert "down-mixed" in caplog.text and "resampled" in caplog.text
    train = data.splits["training"]
    assert train.audio.shape[1] == 16000 and train.audio.dtype == np.float32
    n_keyword = int(np.isin(train.labels, [2, 3]).sum())
    assert n_keyword == 4 + 1 + 4 + 2  # spk0,3,4,5 per word, the stereo file, short and long
    assert int((train.labels == 0).sum()) == int(np.ceil(n_keyword * 0.5))
    assert int((train.labels == 1).sum()) == 10  # every cat and dog training clip (100 %)


def test_short_clip_is_zero_padded_and_long_clip_is_centre_cropped(layout):
    from edge_kws.audio import fit_length
    short = fit_length(read_audio(layout / "no" / "short_nohash_0.wav"), 16000)
    assert np.abs(short[:6000]).max() > 0.2 and np.abs(short[7000:]).max() == 0
    long = read_audio(layout / "no" / "long_nohash_0.wav")
    assert len(long) == 27200 and len(fit_length(long, 16000)) == 16000


def test_stereo_44k_is_down_mixed_and_resampled_to_the_same_tone(layout):
    audio = read_audio(layout / "yes" / "stereo44k_nohash_0.wav", 16000)
    assert len(audio) == 16000
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * 16000 / len(audio) - 500) < 2


def test_unreadable_file_error_names_the_file(layout):
    with pytest.raises(AudioError, match="broken_nohash_0.wav"):
        read_audio(layout / "yes" / "broken_nohash_0.wav")


def test_missing_folder_and_bad_keywords_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        list_clips(tmp_path / "nowhere", ["yes"])
    with pytest.raises(ValueError, match="keywords"):
        parse_keywords(" , ")
    with pytest.raises(ValueError, match="_silence_"):
        parse_keywords("yes,_silence_")
