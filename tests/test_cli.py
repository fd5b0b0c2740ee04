"""The `recsys` command: exit codes scripts can trust, one-line errors, config printing."""

import subprocess
import sys

from recsys.cli import main


def test_config_lists_every_setting_with_docs(capsys):
    assert main(["--set", "embedding_dim=64", "config"]) == 0
    out = capsys.readouterr().out
    assert "embedding_dim = 64" in out and "min_interactions_per_user = 5" in out and "Choices: softmax" in out


def test_user_error_is_one_line_and_exit_1(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    code = main(["--data", str(tmp_path / "none.py"), "--set", f"raw_data_fpath={missing}", "eda"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: interactions file") and "does not exist" in err and "Traceback" not in err


def test_bad_override_is_a_user_error(capsys):
    assert main(["--set", "embeding_dim=3", "config"]) == 1
    assert "unknown setting 'embeding_dim'" in capsys.readouterr().err


def test_unknown_command_is_usage_error():
    completed = subprocess.run([sys.executable, "-m", "recsys", "fly"], capture_output=True, text=True)
    assert completed.returncode == 2 and "invalid choice: 'fly'" in completed.stderr


def test_aliases_resolve(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    assert main(["--data", "none.py", "--set", f"raw_data_fpath={missing}", "val"]) == 1
    assert "does not exist" in capsys.readouterr().err
