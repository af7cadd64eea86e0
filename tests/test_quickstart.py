"""`dlzoo quickstart` end to end, offline, as a new user runs it: digits exported to a folder,
LeNet-5 trained, evaluated, saved with its card and plots, files predicted; >= 97% validation
accuracy within 20 epochs (the recipe allows 60 with early stopping: about 40 run, 99.1% in the
README; 97% is passed from about epoch 14, 98% at 17 to 20). About 35 CPU-seconds.
tests/test_wheel.py runs it again from the installed wheel, for one epoch."""

import json
import os

from dlzoo.cli import main


def test_quickstart_reaches_97_percent_and_leaves_everything_where_it_says(tmp_path, capsys):
    work = tmp_path / "qs"
    assert main(["quickstart", "--workdir", str(work), "--quiet", "--epochs", "20"]) == 0
    out = capsys.readouterr().out
    saved = work / "saved_models" / "lenet5-digits"
    card = json.loads((saved / "card.json").read_text())
    assert card["metrics"]["val_accuracy"] >= 0.97
    assert card["data"]["source"].startswith("folder:")
    assert len(list((work / "digits").glob("*/*.png"))) == 1797
    assert {"model.keras", "card.json", "README.md", "history.csv", "curves.png",
            "confusion_matrix.png"} <= set(os.listdir(saved))
    assert f"{card['metrics']['val_accuracy']:.2%} validation accuracy" in out
    for step in ("1/4 exporting", "2/4 training", "3/4 evaluating", "4/4 reloading"):
        assert step in out
    assert "dlzoo predict" in out and str(saved) in out
    assert out.count(".png: ") >= 5, "predicted a few files"
