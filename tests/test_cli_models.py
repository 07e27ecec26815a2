"""``minisegnet models``: every registered network, its parameter count and where it is from."""

from minisegnet import models
from minisegnet import random as msrandom
from minisegnet.cli import _first_sentence, main


def test_models_lists_every_registered_network_with_its_count(capsys):
    msrandom.manual_seed(5)
    expected = msrandom.generator().random(4)
    msrandom.manual_seed(5)
    assert main(["models"]) == 0
    assert (msrandom.generator().random(4) == expected).all()  # building left no trace
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert set(rows) == set(models.MODEL_NAMES)
    # the defaults of `minisegnet train`: width 8, depth 3, RGB in, 4 classes (docs: 121,204)
    unet = models.build_model("unet", 3, 4, base_width=8, depth=3)
    assert unet.num_parameters() == 121_204
    assert rows["unet"].split()[1] == "121,204"
    assert _first_sentence(models.UNet.__doc__) in rows["unet"]
    fcn = models.build_model("fcn8s", 3, 4, base_width=8)
    assert rows["fcn8s"].split()[1] == f"{fcn.num_parameters():,}"


def test_first_sentence():
    assert _first_sentence("A net.  More text.\n\nOther paragraph.") == "A net."
    assert _first_sentence("Widths 1, 2, ... x base. Then.") == "Widths 1, 2, ... x base."
    assert _first_sentence("one\n  line ``code``") == "one line code"
    assert _first_sentence(None) == ""
    assert _first_sentence("x" * 200, limit=10) == "xxxxxxx..."
    # an abbreviation's full stop does not end the sentence (it cut "DeepLab v1 (Chen et al.")
    assert (
        _first_sentence("Net (Chen et al. 2015): atrous. More.")
        == "Net (Chen et al. 2015): atrous."
    )
    assert _first_sentence("Pads, e.g. by 2 px. Then.") == "Pads, e.g. by 2 px."


def test_models_rows_of_the_cited_networks_are_whole_sentences(capsys):
    assert main(["models"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:-1]}
    for name in ("deeplabv1", "deeplabv2", "fcdensenet"):
        assert "et al. 20" in rows[name] and not rows[name].endswith("et al.")
