"""Command line: `recsys <command>` (and `python -m recsys`), plus the template's `python main.py`.

Exit codes: 0 success; 1 a user error (bad data, config or missing artifact: one line on stderr,
no traceback); 2 a usage error (unknown command or option).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from recsys.config import Config, apply_overrides, field_docs, load_config
from recsys.errors import RecsysError

# command -> (action name, aliases, help)
COMMANDS = {
    "eda": ("exploratory_data_analysis", ["explore"], "Summary statistics and figures of the interaction data (figures/)."),
    "validate": ("train_validation_model", ["val", "train-validation"], "Train on the training split; report ranking metrics on held-out interactions beside most-popular."),
    "train": ("train_production_model", ["prod", "train-production"], "Train the production model on all interactions (epochs from the validation run)."),
    "recommend": ("compute_predictions", ["predict", "rec"], "Top-N unseen items for every user -> recommendations file."),
    "similar": ("similar_items", ["similar-items"], "Most similar items of every item -> similar items file."),
    "compare": ("compare_models", [], "Two-tower model vs most-popular, EASE and iALS on the validation split (table + chart)."),
    "tune": ("tune", [], "Search the main hyper-parameters on the validation split; write the best settings to a config file."),
    "all": (None, ["run"], "exploratory_data_analysis, train_validation_model, train_production_model, compute_predictions in order."),
    "config": (None, ["settings"], "Print every setting with its current value and documentation."),
}


def _actions():
    from recsys import pipeline

    return pipeline


def load_data_hook(path: str | Path | None):
    """`get_raw_data` from a template `data.py` (None when the file does not exist)."""
    if path is None or not Path(path).exists():
        return None
    spec = importlib.util.spec_from_file_location("recsys_user_data", str(path))
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(Path(path).resolve().parent))  # so data.py can `import config`
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise RecsysError(f"could not import {path}: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.pop(0)
    hook = getattr(module, "get_raw_data", None)
    if hook is None:
        raise RecsysError(f"{path} defines no get_raw_data() function.")
    return hook


def _run(actions: list[str], config: Config, hook) -> None:
    pipeline = _actions()
    for action in actions:
        pipeline.run_action(action, config, hook)


def _print_config(config: Config) -> None:
    docs = field_docs()
    for name, value in config.to_dict().items():
        print(f"{name} = {value!r}\n    {docs[name]}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recsys",
        description="Two-tower recommender on Keras 3. Commands read settings from --config (a config.py) "
                    "and the data hook get_raw_data() from --data (a data.py).",
    )
    parser.add_argument("--config", default="config.py", help="Settings file (config.py, or a config.json saved with a run). Default: ./config.py if present.")
    parser.add_argument("--data", default="data.py", help="File defining get_raw_data() (default: ./data.py if present).")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="Override a setting, e.g. --set embedding_dim=64 (repeatable).")
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name, (_, aliases, text) in COMMANDS.items():
        command = sub.add_parser(name, aliases=aliases, help=text, description=text)
        if name == "tune":
            command.add_argument("--trials", type=int, default=20, help="Number of trials (default 20).")
            command.add_argument("--minutes", type=float, default=None, help="Time budget in minutes (stops early).")
            command.add_argument("--output", default="config_tuned.py", help="Where the best settings are written.")
    return parser


def _resolve_command(name: str) -> str:
    for command, (_, aliases, _) in COMMANDS.items():
        if name == command or name in aliases:
            return command
    raise ValueError(name)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    command = _resolve_command(args.command)
    try:
        config_path = args.config if Path(args.config).exists() or args.config != "config.py" else None
        config = apply_overrides(load_config(config_path), args.set)
        if command == "config":
            _print_config(config)
            return 0
        hook = load_data_hook(args.data)
        if command == "all":
            _run(_actions().DEFAULT_SEQUENCE, config, hook)
        elif command == "tune":
            from recsys.tuning import tune

            tune(config, hook, trials=args.trials, minutes=args.minutes, output=args.output)
        else:
            _run([COMMANDS[command][0]], config, hook)
    except RecsysError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def run_template(argv: list[str], config_path: str | Path, data_hook_module: str | Path) -> int:
    """`python main.py [action ...]`: the seed's action names (all four in order when none is given)."""
    pipeline = _actions()
    valid = list(pipeline.ACTIONS)
    actions = argv or pipeline.DEFAULT_SEQUENCE
    unknown = [a for a in actions if a not in valid]
    if unknown:
        print(f"error: unknown action {unknown[0]!r}. Valid actions: {', '.join(valid)} "
              "(none runs the first four in order).", file=sys.stderr)
        return 2
    try:
        config = load_config(config_path)
        hook = load_data_hook(data_hook_module)
        _run(actions, config, hook)
    except RecsysError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
