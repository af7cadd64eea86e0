"""The CLI's argument errors: a misspelt or missing flag is named with what to type instead, and
the line points at the help of the command that was run. In-process and cheap: every command
here is refused by the parser (or before anything is loaded), in well under a second."""

from pathlib import Path

import pytest

from dlzoo.cli import build_parser, cli_words, main

SHIPPED = Path(__file__).resolve().parent.parent / "saved_models" / "lenet5-digits"


def _refused(argv, capsys) -> str:
    """The one error line the parser prints for argv (exit status 2)."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    return err


def test_a_misspelt_flag_is_named_even_when_a_required_one_is_missing(tmp_path, capsys):
    # argparse reports the missing --model first; the misspelling is why it is missing
    err = _refused(["finetune", str(tmp_path), "--modle", "lenet5"], capsys)
    assert err == ("dlzoo finetune: error: unrecognized arguments: --modle (closest: --model) "
                   "(see `dlzoo finetune --help`)")
    # a missing required argument with no misspelt flag is still reported as missing
    err = _refused(["finetune", str(tmp_path)], capsys)
    assert "the following arguments are required: --model" in err


@pytest.mark.parametrize("command, argv, expected", [
    ("train", ["--epochs", "1"], "(a recipe value: use --set train.epochs=1)"),
    ("train", ["--batch-size=8"], "(a recipe value: use --set data.batch_size=8)"),
    ("tune", ["--lr", "0.01", "--seed", "3"],
     "(recipe values: use --set train.learning_rate=0.01 --set data.seed=3)"),
    ("train", ["--image-size"], "(a recipe value: use --set data.image_size=VALUE)"),
])
def test_a_flag_that_is_a_recipe_value_says_the_set_form(command, argv, expected, capsys):
    err = _refused([command, "lenet5-digits", *argv], capsys)
    assert err.startswith(f"dlzoo {command}: error: unrecognized arguments: ")
    assert expected in err and "closest" not in err, err  # not `closest: --warmup-epochs`
    assert err.endswith(f"(see `dlzoo {command} --help`)")


@pytest.mark.parametrize("argv", [
    ["predict", "model", "x.png", "--top", "3"],
    ["train", "lenet5-digits", "--bogus"],
    ["build", "lenet5", "--sett", "a=1"],
])
def test_an_unrecognized_flag_points_at_the_commands_own_help(argv, capsys):
    err = _refused(argv, capsys)
    assert err.startswith(f"dlzoo {argv[0]}: error: unrecognized arguments: ")
    assert err.endswith(f"(see `dlzoo {argv[0]} --help`)"), err


@pytest.mark.parametrize("argv, closest", [
    (["train", "lenet5-digits", "--resum"], "--resume"),
    (["train", "lenet5-digits", "--out", "x"], "--output"),
    (["finetune", "imgs", "--model", "lenet5", "--head-epoch", "2"], "--head-epochs"),
    (["predict", "model", "x.png", "--top", "3"], "--top-k"),
])
def test_a_prefix_of_a_flag_is_refused_with_the_flag_not_guessed(argv, closest, capsys):
    err = _refused(argv, capsys)
    assert f"(closest: {closest})" in err, err


def test_no_parser_takes_abbreviations():
    parser = build_parser()
    subparsers = parser._subparsers._group_actions[0].choices
    assert not parser.allow_abbrev
    assert [name for name, p in subparsers.items() if p.allow_abbrev] == []
    # a whole flag, and --flag=value, still parse
    args = parser.parse_args(["train", "lenet5-digits", "--output=o", "--resume"])
    assert (args.output, args.resume) == ("o", True)


def test_the_cli_names_the_flag_and_python_the_keyword(tmp_path, capsys):
    from dlzoo.data.datasets import export_digits

    (tmp_path / "taken.txt").write_text("x")
    with pytest.raises(ValueError, match=r"--overwrite \(overwrite=True\)"):
        export_digits(tmp_path)  # Python: the keyword is named
    assert main(["datasets", "export", "digits", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("not empty; pass an empty or new folder, or --overwrite to write into it")
    assert "=True" not in err
    # every form the engines use for a keyword beside a flag
    assert cli_words("pass --overwrite (overwrite=True) to replace it") == \
        "pass --overwrite to replace it"
    assert cli_words("pass --overwrite to replace it (overwrite=True in Python), or --out") == \
        "pass --overwrite to replace it, or --out"
    assert cli_words("pass --resume (resume=True) to continue it or --overwrite "
                     "(overwrite=True) to start again.") == \
        "pass --resume to continue it or --overwrite to start again."
    assert cli_words("--set train.epochs=5 (the recipe's)") == "--set train.epochs=5 (the recipe's)"


def test_a_task_takes_an_before_a_vowel(capsys):
    assert main(["generate", str(SHIPPED)]) == 2
    err = capsys.readouterr().err
    assert ": an image_classification model, not a language model" in err, err
