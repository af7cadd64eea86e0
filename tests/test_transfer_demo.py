"""The transfer demonstration: a tiny run writes the figures into the pre-trained model's card and
draws the curves; `dlzoo quickstart --transfer` runs the reduced version (slow)."""

import json

import pytest

from dlzoo.cli import main
from dlzoo.commands.transfer_demo import POLICIES, run_demo


@pytest.mark.slow
def test_tiny_demo_records_figures_in_the_card_and_plots_the_curves(tmp_path):
    policies = ("scratch", "pretrained, dlzoo defaults")
    result = run_demo(tmp_path, ks=(2,), seeds=(0,), policies=policies, pretrain_epochs=1,
                      log=lambda *a: None)
    card = json.loads((tmp_path / "saved_models" / "lenet5-digits04" / "card.json").read_text())
    demo = card["transfer_demo"]
    assert demo["ks"] == [2] and set(demo["policies"]) == set(policies)
    for p in policies:
        acc = demo["policies"][p]["runs"][0][0]
        assert 0.2 < acc <= 1.0  # five classes: chance is 0.2
        assert demo["policies"][p]["mean"] == [round(acc, 4)]
    assert card["metrics"]["k2_scratch"] == demo["policies"]["scratch"]["mean"][0]
    assert card["class_names"] == ["0", "1", "2", "3", "4"]
    assert "transfer_curves.png" in card["files"]
    assert (tmp_path / "saved_models" / "lenet5-digits04" / "transfer_curves.png").stat().st_size
    assert result["test_images"][0] == 896 - 10  # every other 5-9 digit
    # The pretrained policy is fine_tune's own defaults, read from its signature.
    settings = demo["policies"]["pretrained, dlzoo defaults"]["settings"]
    assert settings["unfreeze"] == "all" and settings["lr"] is None


def test_demo_rejects_unknown_policies(tmp_path):
    with pytest.raises(ValueError, match="unknown policy 'magic'"):
        run_demo(tmp_path, policies=("magic",))
    assert "scratch" in POLICIES


@pytest.mark.slow
def test_quickstart_transfer_prints_both_curves_figures(tmp_path, capsys):
    assert main(["quickstart", "--transfer", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "scratch + augment" in out and "pretrained + augment" in out and "k=10" in out
    assert (tmp_path / "transfer" / "transfer_curves.png").exists()
