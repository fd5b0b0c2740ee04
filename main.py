"""Run the recommender: `python main.py [action ...]`; no action runs the first four in order.

Actions: exploratory_data_analysis, train_validation_model, train_production_model,
compute_predictions (and similar_items, compare_models). Settings live in config.py; custom
parsing of your data goes in data.py. `python main.py --help` lists the options (--quiet,
--set name=value); the same actions with more options are `recsys --help`.
"""

import sys
from pathlib import Path

from recsys.cli import run_template

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    sys.exit(run_template(sys.argv[1:], config_path=HERE / "config.py", data_hook_module=HERE / "data.py"))
