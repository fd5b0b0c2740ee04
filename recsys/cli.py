"""Command line: `recsys <command>` (and `python -m recsys`), plus the template's `python main.py`.

Options (`--config`, `--data`, `--set`, `--quiet`, `--verbose`) are accepted before or after the
command. One invocation builds one `Experiment`, so however many actions it runs, the data are
read once.

Exit codes: 0 success; 1 a user error (bad data, config or missing artifact: one line on stderr,
no traceback); 2 a usage error (unknown command, action or option); 130 interrupted.

Every command but `config` holds the lock of its `output_dir` (`recsys.files.output_lock`) while
its actions run: a second run in the same folder stops at once with a one-line error (exit 1)
rather than crashing on the first run's checkpoint or bundles. The lock is released however the run
ends (an error, Ctrl-C, or a kill: the operating system drops it with the process), and Ctrl-C
during a bundle save leaves the previous bundle in place, with no temporary folder behind.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from recsys.actions import ACTION_NAMES, DEFAULT_SEQUENCE
from recsys.config import Config, field_docs
from recsys.config_loading import apply_overrides, load_config
from recsys.errors import ConfigError, RecsysError, UsageError
from recsys.files import output_lock
from recsys.log import set_verbosity

__all__ = [
    "COMMANDS",
    "QUICK_SETTINGS",
    "configure",
    "engine",
    "load_data_hook",
    "main",
    "run_guarded",
    "run_template",
]

# command -> (action name, aliases, help)
COMMANDS: dict[str, tuple[str | None, list[str], str]] = {
    "eda": (
        "exploratory_data_analysis",
        ["explore"],
        "Summary statistics and figures of the interaction data (figures/).",
    ),
    "validate": (
        "train_validation_model",
        ["val", "train-validation"],
        "Train on the training split; report ranking metrics on held-out interactions beside most-popular.",
    ),
    "train": (
        "train_production_model",
        ["prod", "train-production"],
        "Train the production model on all interactions (epochs from the validation run).",
    ),
    "recommend": (
        "compute_predictions",
        ["predict", "rec"],
        "Top-N unseen items for every user -> recommendations file.",
    ),
    "similar": (
        "similar_items",
        ["similar-items"],
        "Most similar items of every item -> similar items file.",
    ),
    "compare": (
        "compare_models",
        [],
        "Two-tower model vs most-popular, EASE and iALS on the validation split (table + chart).",
    ),
    "tune": (
        "tune",
        [],
        "Search the main hyper-parameters on the validation split; write the best settings to a file.",
    ),
    "all": (
        None,
        ["run"],
        "exploratory_data_analysis, train_validation_model, train_production_model, "
        "compute_predictions in order.",
    ),
    "config": (None, ["settings"], "Print every setting with its current value and documentation."),
    "serve": (
        None,
        [],
        "Serve a model bundle over HTTP (JSON API, docs at /docs); needs fastapi and uvicorn.",
    ),
}


def engine() -> ModuleType:
    """`recsys.pipeline`, imported on first use: the one place the command line loads the engine
    (Keras and the backend, seconds), so that `--help`, `config` and mistyped commands answer at
    once. Every other import of the package's own modules is at the top of its module."""
    from recsys import pipeline  # deliberately lazy: see the docstring

    return pipeline


def load_data_hook(path: str | Path | None) -> Callable[[], Any] | None:
    """`get_raw_data` from a template `data.py` (None when the file does not exist)."""
    if path is None or not Path(path).exists():
        return None
    spec = importlib.util.spec_from_file_location("recsys_user_data", str(path))
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path} is not a Python file.")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(Path(path).resolve().parent))  # so data.py can `import config`
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ConfigError(f"could not import {path}: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.pop(0)
    hook = getattr(module, "get_raw_data", None)
    if hook is None:
        raise ConfigError(f"{path} defines no get_raw_data() function.")
    return hook


def _print_config(config: Config) -> None:
    """Every setting with its doc; a value that differs from the default is marked, with the
    default beside it, and counted in a last line."""
    docs, defaults = field_docs(), Config().to_dict()
    changed = 0
    for name, value in config.to_dict().items():
        mark = ""
        if value != defaults[name]:
            mark, changed = f"   # changed (default {defaults[name]!r})", changed + 1
        print(f"{name} = {value!r}{mark}\n    {docs[name]}")
    print(f"# {changed} of {len(defaults)} settings differ from the defaults.")


def add_run_options(parser: argparse.ArgumentParser, after_command: bool = False) -> None:
    """The options every command takes. After the command, unset ones keep the values given
    before it (argparse.SUPPRESS), and `--set` collects into its own list, merged later."""
    keep = argparse.SUPPRESS if after_command else None
    parser.add_argument(
        "--config",
        default=keep or "config.py",
        help="Settings file (a config.py, or a config.json saved with a run). Default: ./config.py.",
    )
    parser.add_argument(
        "--data",
        default=keep or "data.py",
        help="File defining get_raw_data() (default: ./data.py if present).",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        dest="set_after" if after_command else "set",
        metavar="NAME=VALUE",
        help="Override a setting, e.g. --set embedding_dim=64 (repeatable).",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=keep or False,
        help="Print warnings and errors only (verbosity 0).",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=keep or False, help="Print details too (verbosity 2)."
    )
    parser.add_argument("--quick", action="store_true", default=keep or False, help=QUICK_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recsys",
        description="Two-tower recommender on Keras 3. Commands read settings from --config (a config.py) "
        "and the data hook get_raw_data() from --data (a data.py).",
    )
    add_run_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name, (_, aliases, text) in COMMANDS.items():
        command = sub.add_parser(name, aliases=aliases, help=text, description=text)
        add_run_options(command, after_command=True)
        if name == "tune":
            command.add_argument("--trials", type=int, default=20, help="Number of trials (default 20).")
            command.add_argument(
                "--minutes", type=float, default=None, help="Time budget in minutes (stops early)."
            )
            command.add_argument(
                "--output", default="config_tuned.py", help="Where the best settings are written."
            )
        if name == "serve":
            command.add_argument(
                "--bundle",
                default="artifacts/production_model",
                help="Model bundle folder to serve (default: artifacts/production_model).",
            )
            command.add_argument(
                "--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1)."
            )
            command.add_argument("--port", type=int, default=8000, help="Port to listen on (default 8000).")
            command.add_argument(
                "--access-log", action="store_true", help="Log every request (off by default: it costs time)."
            )
    return parser


def _resolve_command(name: str) -> str:
    for command, (_, aliases, _) in COMMANDS.items():
        if name == command or name in aliases:
            return command
    raise UsageError(f"unknown command {name!r}; valid commands: {', '.join(COMMANDS)}.")


# --quick: a first look, timed by benchmarks/first_run.py. Smaller demos than the default one overfit
# after an epoch or two, so the data stay and the training is capped (cosine decay over 5 epochs).
QUICK_SETTINGS = {"max_epochs": 5}
QUICK_HELP = (
    "A first look in under a minute: at most 5 training epochs (--set max_epochs=... wins); "
    "full quality needs no flag."
)


def configure(
    config_path: str | Path | None,
    overrides: list[str],
    quiet: bool = False,
    verbose: bool = False,
    quick: bool = False,
) -> Config:
    """Settings from the file, then `--quick`'s (`QUICK_SETTINGS`), then `--set` overrides;
    --quiet / --verbose win over `verbosity`."""
    config = load_config(config_path)
    if quick:
        config = config.replace(**QUICK_SETTINGS)
    config = apply_overrides(config, overrides)
    if quiet or verbose:
        config = config.replace(verbosity=0 if quiet else 2)
    set_verbosity(config.verbosity)
    return config


def run_guarded(work: Callable[[], None]) -> int:
    """Run `work`, turning the project's errors into one line on stderr and an exit code."""
    try:
        work()
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RecsysError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the file system refused (permissions, a full disk): say what and where
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2

    def work() -> None:
        command = _resolve_command(args.command)
        if command == "serve":  # a bundle holds its own settings: no config, data or output lock
            set_verbosity(0 if args.quiet else 2 if args.verbose else 1)
            engine().serve(args.bundle, args.host, args.port, access_log=args.access_log)
            return
        config_path = args.config if Path(args.config).exists() or args.config != "config.py" else None
        config = configure(config_path, args.set + args.set_after, args.quiet, args.verbose, args.quick)
        if command == "config":
            _print_config(config)
            return
        with output_lock(config.output_dir):  # one run per output folder (module doc)
            pipeline = engine()
            experiment = pipeline.Experiment(config, load_data_hook(args.data))
            if command == "tune":
                pipeline.tune(experiment, trials=args.trials, minutes=args.minutes, output=args.output)
                return
            action = COMMANDS[command][0]
            pipeline.run_actions(list(DEFAULT_SEQUENCE) if action is None else [action], experiment)

    return run_guarded(work)


def run_template(argv: list[str], config_path: str | Path, data_hook_module: str | Path) -> int:
    """`python main.py [action ...] [--quiet] [--set name=value]`: the seed's action names (the
    first four in order when none is given)."""
    valid = list(ACTION_NAMES)
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description="Run the recommender's actions in order; with none, "
        + ", ".join(DEFAULT_SEQUENCE)
        + ". Settings: config.py; data: data.py.",
        epilog="Actions: " + ", ".join(valid) + ". More commands and options: recsys --help.",
    )
    parser.add_argument("actions", nargs="*", metavar="action", help="One or more of the actions below.")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Override a setting of config.py, e.g. --set top_n=10 (repeatable).",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="Print warnings and errors only.")
    parser.add_argument("-v", "--verbose", action="store_true", help="Print details too.")
    parser.add_argument("--quick", action="store_true", help=QUICK_HELP)
    args = parser.parse_intermixed_args(argv)
    actions = args.actions or DEFAULT_SEQUENCE
    unknown = [a for a in actions if a not in valid]
    if unknown:
        print(
            f"error: unknown action {unknown[0]!r}. Valid actions: {', '.join(valid)} "
            "(none runs the first four in order).",
            file=sys.stderr,
        )
        return 2

    def work() -> None:
        config = configure(config_path, args.set, args.quiet, args.verbose, args.quick)
        with output_lock(config.output_dir):  # one run per output folder (module doc)
            pipeline = engine()
            pipeline.run_actions(actions, pipeline.Experiment(config, load_data_hook(data_hook_module)))

    return run_guarded(work)
