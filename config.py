"""Settings of your recommender run. Edit the values; delete a line to get its default.

Every setting, its type, default and meaning: `recsys config` (or the README's settings table).
A name that is not a known setting, or a value of the wrong type, is an error naming it.
"""

# --- your data -----------------------------------------------------------------------------
# Path of the interactions file (CSV or Parquet). None: use get_raw_data() in data.py, and if
# that returns None, the built-in demo dataset (players and games).
raw_data_fpath = None
user_column = "user"  # column holding user ids
item_column = "item"  # column holding item ids
score_column = None  # optional rating/score column; None: every interaction counts 1
timestamp_column = None  # optional time column (numbers or dates); enables the time-based split
timestamp_format = None  # e.g. "%m/%d/%Y" for text dates that are not ISO (YYYY-MM-DD)
csv_separator = ","  # field separator of CSV files (e.g. ";" or "\t")
duplicate_policy = "last"  # repeated (user, item) rows: "last", "max", "sum" or "error"
negative_scores = "drop"  # scores below 0 (dislikes): "drop" those rows, or stop with an "error"

# --- optional feature tables (one row per user / item) -------------------------------------
user_features_fpath = None  # CSV/Parquet with one row per user
user_features_id_column = "user"  # its column holding the user ids
item_features_fpath = None  # CSV/Parquet with one row per item
item_features_id_column = "item"  # its column holding the item ids
feature_types = {}  # e.g. {"genres": "multi_categorical", "age": "numeric"}; others are inferred
multi_value_separator = "|"  # separator inside multi-valued features, e.g. "Action|Comedy"

# --- filtering (applied repeatedly until stable) -------------------------------------------
min_interactions_per_user = 5
min_interactions_per_item = 5

# --- validation split ----------------------------------------------------------------------
per_user_val_fraction = 0.2  # share of each user's interactions held out for validation
split_strategy = "auto"  # "auto" (by time when timestamps exist), "time", "random", "global_time"

# --- model and training --------------------------------------------------------------------
embedding_dim = 256
loss = "softmax"  # "softmax" (in-batch, log-q corrected), "bce", "bpr", "mse"
batch_size = 1024
learning_rate = 4e-3
max_epochs = 100  # early stopping on monitor_metric usually ends sooner
early_stopping_patience = 15
monitor_metric = "NDCG@20"
seed = 42  # the same seed and data give the same model

# --- outputs -------------------------------------------------------------------------------
output_dir = "artifacts"  # model bundles, metrics, histories
figures_dir = "figures"
top_n = 50
recommendations_fpath = "recommendations.json"
verbosity = 1  # 0: warnings only (like --quiet); 1: one line per epoch; 2: details
