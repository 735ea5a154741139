import pytest

from edge_kws.config import ConfigError
from training.config import TrainConfig

from .conftest import run_cli


def test_toml_config_with_overrides(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text('data = "d"\nkeywords = ["yes"]\nepochs = 3\n[frontend]\nn_mels = 32\n[augment]\ntime_shift_ms = 50\n')
    cfg = TrainConfig.load(path, epochs=7)
    assert (cfg.data, cfg.keywords, cfg.epochs, cfg.frontend.n_mels, cfg.augment.time_shift_ms) == \
        ("d", ["yes"], 7, 32, 50)


@pytest.mark.parametrize("text, named", [
    ("epochz = 3\n", "epochz"),
    ("[frontend]\nn_mel = 3\n", "frontend.n_mel"),
    ("[frontend]\nfmax = 20000\n", "fmax"),
    ("epochs = \n", "not valid TOML"),
])
def test_bad_config_names_the_key(tmp_path, text, named):
    path = tmp_path / "train.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=named):
        TrainConfig.load(path)


def test_cli_bad_config_is_one_line_and_nonzero(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text("batch = 3\n")
    proc = run_cli("train", "--config", str(path), check=False)
    assert proc.returncode == 1
    assert "batch: unknown setting" in proc.stderr and "Traceback" not in proc.stderr
