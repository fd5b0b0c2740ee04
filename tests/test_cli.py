"""The `recsys` command: exit codes scripts can trust, one-line errors, options before or after
the command, config printing, quiet output."""

import subprocess
import sys

from recsys.cli import main


def test_config_lists_every_setting_with_docs(capsys):
    assert main(["--set", "embedding_dim=64", "config"]) == 0
    out = capsys.readouterr().out
    assert (
        "embedding_dim = 64" in out and "min_interactions_per_user = 5" in out and "Choices: softmax" in out
    )


def test_config_marks_the_settings_that_differ_from_the_defaults(capsys):
    from recsys.config import Config

    default = Config()
    assert main(["--set", "embedding_dim=64", "--set", "top_n=7", "config"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"embedding_dim = 64   # changed (default {default.embedding_dim})" in lines
    assert f"top_n = 7   # changed (default {default.top_n})" in lines
    assert sum("# changed" in line for line in lines) == 2
    assert lines[-1].startswith("# 2 of ") and lines[-1].endswith(" settings differ from the defaults.")


def test_options_are_accepted_after_the_command_and_merge_with_those_before(capsys):
    assert main(["--set", "embedding_dim=64", "config", "--set", "top_n=5"]) == 0
    out = capsys.readouterr().out
    assert "embedding_dim = 64" in out and "top_n = 5" in out


def test_quiet_flag_sets_verbosity_zero(capsys):
    assert main(["config", "--quiet"]) == 0
    assert "verbosity = 0" in capsys.readouterr().out
    from recsys.log import set_verbosity

    set_verbosity(1)


def test_user_error_is_one_line_and_exit_1(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    code = main(["--data", str(tmp_path / "none.py"), "--set", f"raw_data_fpath={missing}", "eda"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: interactions file") and "does not exist" in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_bad_override_is_a_user_error(capsys):
    assert main(["--set", "embeding_dim=3", "config"]) == 1
    assert "unknown setting 'embeding_dim'; did you mean 'embedding_dim'?" in capsys.readouterr().err
    assert main(["config", "--set", "top_n=5.5"]) == 1
    assert "'top_n' is 5.5 (float); expected a valid integer" in capsys.readouterr().err


def test_unknown_command_is_usage_error():
    completed = subprocess.run([sys.executable, "-m", "recsys", "fly"], capture_output=True, text=True)
    assert completed.returncode == 2 and "invalid choice: 'fly'" in completed.stderr


def test_aliases_resolve(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    assert main(["--data", "none.py", "--set", f"raw_data_fpath={missing}", "val"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_broken_data_hook_is_one_line(tmp_path, capsys):
    hook = tmp_path / "data.py"
    hook.write_text("def get_raw_data():\n    return [], None, None\n")
    assert main(["--data", str(hook), "eda"]) == 1
    err = capsys.readouterr().err
    assert "no interactions (an empty list)" in err and "missing column" not in err


def test_an_exception_in_get_raw_data_is_one_line_naming_the_hook_line(tmp_path, capsys):
    hook = tmp_path / "data.py"
    hook.write_text(
        "import polars as pl\n\ndef get_raw_data():\n    return pl.read_csv('no/such.csv'), None, None\n"
    )
    assert main(["--data", str(hook), "eda"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: get_raw_data() raised FileNotFoundError") and "(data.py, line 4)" in err
    assert err.count("\n") == 1


def test_quiet_run_prints_nothing_on_success(tmp_path, capsys):
    data = tmp_path / "interactions.csv"
    data.write_text("user,item\n" + "".join(f"{u},{i}\n" for u in range(8) for i in range(6)))
    settings = [
        f"raw_data_fpath={data}",
        f"figures_dir={tmp_path / 'figures'}",
        f"report_fpath={tmp_path / 'report.html'}",
        "min_interactions_per_user=1",
    ]
    args = ["--data", str(tmp_path / "none.py"), *sum((["--set", s] for s in settings), [])]
    assert main([*args, "eda", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert (tmp_path / "figures" / "interactions_per_user.png").exists()
    assert main([*args, "eda"]) == 0
    assert "[1/1] exploratory_data_analysis" in capsys.readouterr().out


def test_an_unwritable_output_folder_is_one_line(tmp_path, capsys):
    data = tmp_path / "interactions.csv"
    data.write_text("user,item\n" + "".join(f"{u},{i}\n" for u in range(8) for i in range(6)))
    blocker = tmp_path / "figures"
    blocker.write_text("a file where the figures folder should be")
    settings = [f"raw_data_fpath={data}", f"figures_dir={blocker}", "min_interactions_per_user=1"]
    settings.append(f"report_fpath={tmp_path / 'report.html'}")
    args = ["--data", str(tmp_path / "none.py"), *sum((["--set", s] for s in settings), [])]
    assert main([*args, "eda"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(blocker) in err and err.count("\n") == 1


def test_a_test_starts_in_an_empty_folder_outside_the_checkout(capsys):
    """What a command writes by default (artifacts/, figures/) lands in the test's own folder."""
    from pathlib import Path

    checkout = Path(__file__).resolve().parents[1]
    here = Path.cwd().resolve()
    assert checkout not in here.parents and here != checkout
    assert not any(here.iterdir())


def test_git_ignores_what_the_readme_commands_write():
    """The default outputs of a run, MovieLens downloaded to data/, and tune's config file."""
    import shutil
    from pathlib import Path

    import pytest

    from recsys.config import Config
    from recsys.layout import RunLayout

    checkout = Path(__file__).resolve().parents[1]
    if shutil.which("git") is None or not (checkout / ".git").exists():
        pytest.skip("needs git and a git checkout")
    layout = RunLayout.of(Config())
    written = [
        layout.validation_bundle / "model.keras",
        layout.figures_dir / "eda.png",
        layout.recommendations,
        layout.similar_items,
        layout.report,
        Path("data/ml-latest-small/ratings.csv"),
        Path("config_tuned.py"),
    ]
    for path in written:
        ignored = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=checkout)
        assert ignored.returncode == 0, f"{path} is not ignored by .gitignore"
    assert subprocess.run(["git", "check-ignore", "-q", "recsys/config.py"], cwd=checkout).returncode == 1


def test_quick_shrinks_the_demo_and_the_epochs_and_set_still_wins(capsys):
    from recsys.cli import QUICK_SETTINGS

    assert main(["config", "--quick"]) == 0
    out = capsys.readouterr().out
    for name, value in QUICK_SETTINGS.items():
        assert f"{name} = {value!r}   # changed" in out
    assert main(["--quick", "--set", "max_epochs=3", "config"]) == 0
    assert "max_epochs = 3   # changed" in capsys.readouterr().out
