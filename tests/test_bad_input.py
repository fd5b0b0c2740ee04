"""Bad input, case by case, through every path it can take: the interactions file
(`load_from_files`, CSV and where given Parquet) and the hook (`load_from_hook`, or a whole
`get_raw_data()` through `call_hook`), then `prepare`.

Each case either runs and gives the ids exactly as they went in (type and value), or stops with one
`RecsysError` line that matches a pattern: no newline, no polars option the user cannot set, and
short (the input is never echoed at length).
"""

from __future__ import annotations

import datetime
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys.config import Config
from recsys.data.hook import call_hook, load_from_hook
from recsys.data.loading import load_from_files
from recsys.data.preparation import PreparedData, prepare
from recsys.errors import RecsysError
from recsys.report.eda import run_eda

LIBRARY_WORDS = re.compile(r"infer_schema|truncate_ragged|ignore_errors|schema_overrides|Traceback|polars")
MAX_MESSAGE = 500


@dataclass
class Case:
    """One bad (or tricky) input. `csv` is the interactions file (None: no file variant), `hook` the
    interaction_data get_raw_data() returns (None: no hook variant; a DataFrame also runs through a
    Parquet file when `parquet`). `error` is the pattern of the message on every path, `csv_error` /
    `hook_error` on one path only; without an error the case must run and give `users` (sorted)."""

    name: str
    csv: str | bytes | None = None
    hook: Any = None
    settings: dict = field(default_factory=dict)
    users_csv: str | None = None  # the user feature table, file variant
    users_hook: Any = None  # user_data, hook variant
    call: Callable[[], Any] | None = None  # a whole get_raw_data(), run through call_hook
    parquet: bool = False
    error: str | None = None
    csv_error: str | None = None
    hook_error: str | None = None
    users: list | None = None
    csv_users: list | None = None
    hook_users: list | None = None
    check: Callable[[PreparedData], None] | None = None
    warning: str | None = None  # a warning on stderr must match this

    def variants(self) -> list[str]:
        found = []
        if self.csv is not None:
            found.append("csv")
        if self.hook is not None or self.call is not None:
            found.append("hook")
        if self.parquet:
            found.append("parquet")
        return found

    def error_for(self, variant: str) -> str | None:
        return (self.csv_error if variant == "csv" else self.hook_error) or self.error

    def users_for(self, variant: str) -> list | None:
        own = self.csv_users if variant == "csv" else self.hook_users
        return own if own is not None else self.users


def _raising_hook():
    return 1 / 0


def _dropped(n: int, merged: int = 0) -> Callable[[PreparedData], None]:
    def check(prepared: PreparedData) -> None:
        assert prepared.report["negative_scores_dropped"] == n
        assert prepared.report["duplicates_merged"] == merged

    return check


def _times(*expected: float) -> Callable[[PreparedData], None]:
    def check(prepared: PreparedData) -> None:
        assert prepared.interactions.timestamps is not None
        assert sorted(prepared.interactions.timestamps.tolist()) == sorted(expected)

    return check


def _report(**expected: int) -> Callable[[PreparedData], None]:
    def check(prepared: PreparedData) -> None:
        assert {key: prepared.report[key] for key in expected} == expected

    return check


def rows(users: list, items: list | None = None, **columns: list) -> list[dict]:
    """A hook's list of dicts: one dict per interaction."""
    items = items if items is not None else list(range(1, len(users) + 1))
    names = ["user", "item", *columns]
    return [dict(zip(names, values)) for values in zip(users, items, *columns.values())]


# An unbalanced quote on row 2, then more than a megabyte of good rows.
BIG_QUOTE = 'user,item\n1,1\n2,"2\n' + "".join(map("{0},{0}\n".format, range(150_000)))
T0, T1 = 1_700_000_000, 1_700_086_400  # two times one day apart, in seconds
NFC, NFD = unicodedata.normalize("NFC", "é"), unicodedata.normalize("NFD", "é")

CASES = [
    # --- 1. float ids ------------------------------------------------------------------------
    Case(
        "float id among integer ids",
        csv="user,item\n7,1\n2.5,2\n",
        hook=rows([7, 2.5]),
        csv_users=["2.5", "7"],  # a CSV holds text: ids stay the text they were
        hook_error=r"column 'user' holds a float that is not a whole number on row 2: 2\.5; "
        r"ids must be integers or text",
    ),
    Case(
        "whole-number float ids",
        csv="user,item\n7.0,1\n2.0,2\n",
        hook=pl.DataFrame({"user": [7.0, 2.0], "item": [1, 2]}),
        parquet=True,
        csv_users=["2.0", "7.0"],
        hook_users=[2, 7],
    ),
    Case("integers mixed with whole floats", hook=rows([7, 2.0]), users=[2, 7]),
    Case(
        "NaN id",
        hook=pl.DataFrame({"user": [7.0, math.nan], "item": [1, 2]}),
        parquet=True,
        error=r"column 'user' is NaN on 1 row\(s\): rows 2",
    ),
    Case("NaN id in a list", hook=rows([7, math.nan]), error=r"column 'user' is NaN on 1 row\(s\): rows 2"),
    Case(
        "missing id",
        csv="user,item\n7,1\n,2\n",
        hook=rows([7, None]),
        error=r"column 'user' is empty on 1 data row\(s\): rows 2",
    ),
    Case(
        "list as an id", hook=rows([7, [1]]), error=r"column 'user' holds a list on row 2: \[1\]; ids must be"
    ),
    Case(
        "dict as an id",
        hook=rows([7, {"a": 1}]),
        error=r"column 'user' holds a dict on row 2: \{'a': 1\}; ids must be integers or text",
    ),
    Case(
        "list column in a DataFrame",
        hook=pl.DataFrame({"user": [[1], [2]], "item": [1, 2]}),
        parquet=True,
        error=r"column 'user' holds List\(Int64\) values on row 1: \[1\]; ids must be integers or text",
    ),
    # --- 2. ids from 2**63 --------------------------------------------------------------------
    Case(
        "ids from 2**63 up to 2**64 - 1",
        csv="user,item\n9223372036854775808,1\n18446744073709551615,2\n5,3\n",
        hook=rows([2**63, 2**64 - 1, 5]),
        csv_users=["18446744073709551615", "5", "9223372036854775808"],
        hook_users=[5, 2**63, 2**64 - 1],
    ),
    Case(
        "UInt64 column",
        hook=pl.DataFrame({"user": pl.Series([2**63, 1], dtype=pl.UInt64), "item": [1, 2]}),
        parquet=True,
        users=[1, 2**63],
    ),
    Case(
        "id beyond 64 bits",
        csv="user,item\n18446744073709551616,1\n1,2\n",
        hook=rows([2**64, 1]),
        csv_users=["1", "18446744073709551616"],
        hook_error=r"column 'user' holds 18446744073709551616 on row 1: integer ids must fit in 64 bits",
    ),
    Case(
        "negative id beside an id from 2**63",
        hook=rows([-1, 2**63]),
        error=r"column 'user' holds 9223372036854775808 on row 2: integer ids must fit in 64 bits",
    ),
    # --- 3. whitespace -------------------------------------------------------------------------
    Case(
        "' 1' and '1' are one user",
        csv="user,item\n 1,1\n1,2\n",
        hook=rows([" 1", "1"]),
        users=[1],
        warning=r"removed surrounding whitespace from 1 id in column 'user' \(e\.g\. row 1: ' 1' is '1'\)",
    ),
    Case(
        "text ids with whitespace",
        csv="user,item\nalice ,1\nalice,2\n\tbob,3\n",
        hook=rows(["alice ", "alice", "\tbob"]),
        users=["alice", "bob"],
        warning=r"removed surrounding whitespace from 2 ids in column 'user'",
    ),
    Case(
        "' 007' stays text",
        csv="user,item\n 007,1\n008,2\n",
        hook=rows([" 007", "008"]),
        users=["007", "008"],
    ),
    Case(
        "blank id",
        csv="user,item\na,1\n   ,2\n",
        hook=rows(["a", "   "]),
        error=r"column 'user' is empty on 1 data row\(s\): rows 2",
    ),
    # --- 4. feature tables ---------------------------------------------------------------------
    Case(
        "feature ids 1 and 01 match the same user",
        csv="user,item\n1,1\n2,2\n",
        users_csv="user,age\n1,30\n01,31\n2,40\n",
        hook=rows([1, 2]),
        users_hook={"1": {"age": 30}, "01": {"age": 31}, "2": {"age": 40}},
        error=r"ids '1' \(row 1\) and '01' \(row 2\) both match user id 1 of the interactions",
    ),
    Case(
        "feature column named id",
        csv="user,item\n1,1\n2,2\n",
        users_csv="user,id,age\n1,5,30\n2,6,40\n",
        hook=rows([1, 2]),
        users_hook={1: {"id": 5, "age": 30}, 2: {"id": 6, "age": 40}},
        csv_error=r"user features file .*: a feature column is named 'id' besides the id column 'user'",
        hook_error=r"get_raw_data\(\) user_data: a feature is named 'id', which is reserved for the ids",
    ),
    Case(
        "feature header repeats a name",
        csv="user,item\n1,1\n",
        users_csv="user,age,age\n1,30,31\n",
        error=r"user features file .*: the header names the column 'age' 2 times \(columns 2, 3\)",
    ),
    Case(
        "feature ids repeat once stripped",
        csv="user,item\n1,1\n",
        users_csv="user,age\n1,30\n 1,31\n",
        hook=rows([1]),
        users_hook={"1": {"age": 30}, " 1": {"age": 31}},
        error=r"id column '(user|id)' repeats 1 id\(s\), e\.g\. 1 on rows 1, 2; expected one row per id",
    ),
    Case(
        "feature values that are no dicts",
        hook=rows([1]),
        users_hook={1: 5},
        error=r"the value for id 1 \(row 1\) is an int, not a dict of features",
    ),
    Case(
        "text feature id beside integer user ids",
        csv="user,item\n1,1\n2,2\n",
        users_csv="user,age\n1,30\nx,31\n",
        hook=rows([1, 2]),
        users_hook={"id": ["1", "x"], "age": [30, 31]},
        users=[1, 2],
        check=_report(user_feature_rows_unknown_id=1, users_without_features=1),
    ),
    Case(
        "empty feature table",
        hook=rows([1, 2]),
        users_hook={"id": [], "age": []},
        error=r"user_data: the feature table has no rows",
    ),
    Case(
        "hook columns of different lengths",
        hook={"user": [1, 2], "item": [1]},
        error=r"interaction_data: the columns have different lengths \('user' 2, 'item' 1\)",
    ),
    Case(
        "hook feature columns of different lengths",
        hook=rows([1, 2]),
        users_hook={"id": [1, 2], "age": [30]},
        error=r"user_data: the columns have different lengths \('id' 2, 'age' 1\)",
    ),
    Case(
        "hook that raises",
        call=_raising_hook,
        error=r"get_raw_data\(\) raised ZeroDivisionError: division by zero \(test_bad_input\.py, line \d+\)",
    ),
    # --- 5. timestamps -------------------------------------------------------------------------
    Case(
        "infinite timestamp",
        csv=f"user,item,timestamp\n1,1,{T0}\n1,2,inf\n",
        hook=rows([1, 1], timestamp=[T0, math.inf]),
        settings={"timestamp_column": "timestamp"},
        error=r"column 'timestamp' row 2 has inf, which is no time",
    ),
    Case(
        "NaN timestamp",
        csv=f"user,item,timestamp\n1,1,{T0}\n1,2,NaN\n",
        hook=rows([1, 1], timestamp=[T0, math.nan]),
        settings={"timestamp_column": "timestamp"},
        error=r"column 'timestamp' is missing or NaN on rows 2",
    ),
    Case(
        "absurd timestamp",
        csv=f"user,item,timestamp\n1,1,{T0}\n1,2,1e20\n",
        hook=rows([1, 1], timestamp=[T0, 1e20]),
        settings={"timestamp_column": "timestamp"},
        error=r"column 'timestamp' row 2 has 1e\+20, which is no time",
    ),
    Case(
        "seconds mixed with milliseconds: a warning, values unchanged",
        csv=f"user,item,timestamp\n1,1,{T0}\n1,2,{T1 * 1000}\n1,3,{T1}\n",
        hook=rows([1, 1, 1], timestamp=[T0, T1 * 1000, T1]),
        settings={"timestamp_column": "timestamp"},
        users=[1],
        check=_times(T0, T1 * 1000, T1),
        warning=r"column 'timestamp' seems to mix time units by magnitude: 2 in seconds \(e\.g\. row 1: "
        r"1\.7e\+09\), 1 in milliseconds \(e\.g\. row 2: 1\.70009e\+12\)",
    ),
    Case(
        "mm/dd/yyyy dates are never guessed",
        csv="user,item,timestamp\n1,1,01/02/2023\n1,2,03/04/2023\n",
        hook=rows([1, 1], timestamp=["01/02/2023", "03/04/2023"]),
        settings={"timestamp_column": "timestamp"},
        csv_error=r"row 1 has '01/02/2023' \(2 such value\(s\)\); dates are never guessed: "
        r"set timestamp_format = '%m/%d/%Y' or '%d/%m/%Y' in config\.py",
        hook_error=r"row 1 has '01/02/2023' .*set timestamp_format = '%m/%d/%Y' or '%d/%m/%Y'"
        r".*datetime values",
    ),
    Case(
        "timestamp_format reads mm/dd/yyyy",
        csv="user,item,t\n1,1,01/02/2023\n1,2,12/31/2023\n",
        settings={"timestamp_column": "t", "timestamp_format": "%m/%d/%Y"},
        users=[1],
        check=_times(1672617600.0, 1703980800.0),
    ),
    Case(
        "value that does not match timestamp_format",
        csv="user,item,t\n1,1,01/02/2023\n1,2,31/12/2023\n",
        settings={"timestamp_column": "t", "timestamp_format": "%m/%d/%Y"},
        error=r"column 't' must hold times in timestamp_format '%m/%d/%Y'; row 2 has '31/12/2023'",
    ),
    Case(
        "timestamp_format without a directive",
        csv="user,item,t\n1,1,01/02/2023\n",
        settings={"timestamp_column": "t", "timestamp_format": "mdY"},
        error=r"config 'timestamp_format' is 'mdY' \(str\); expected a strftime format",
    ),
    Case(
        "ISO dates and datetimes with zones",
        csv="user,item,timestamp\n1,1,2024-01-01\n1,2,2024-01-01T10:00:00Z\n1,3,2024-01-01 11:00:00+01:00\n",
        hook=rows([1, 1, 1], timestamp=["2024-01-01", "2024-01-01T10:00:00Z", "2024-01-01 11:00:00+01:00"]),
        settings={"timestamp_column": "timestamp"},
        users=[1],
        check=_times(1704067200.0, 1704103200.0, 1704103200.0),
    ),
    Case(
        "impossible ISO date",
        csv="user,item,timestamp\n1,1,2023-02-30\n",
        hook=rows([1], timestamp=["2023-02-30"]),
        settings={"timestamp_column": "timestamp"},
        error=r"column 'timestamp' row 1 has '2023-02-30', which is no calendar date or time",
    ),
    Case(
        "hook timestamps mixing datetimes and text",
        hook=rows([1, 1], timestamp=[datetime.date(2024, 1, 1), "2024-01-02"]),
        error=r"column 'timestamp' mixes date \(row 1: datetime\.date\(2024, 1, 1\)\) and str",
    ),
    # --- 6. scores -----------------------------------------------------------------------------
    Case(
        "negative score dropped",
        csv="user,item,score\n1,1,5\n1,2,-1\n2,1,3\n2,2,4\n",
        hook=rows([1, 1, 2, 2], [1, 2, 1, 2], score=[5, -1, 3, 4]),
        settings={"score_column": "score"},
        users=[1, 2],
        check=_dropped(1),
    ),
    Case(
        "negative score with negative_scores='error'",
        csv="user,item,rating\n1,1,5\n1,2,-1\n",
        hook=rows([1, 1], score=[5, -1]),
        settings={"score_column": "rating", "negative_scores": "error"},
        csv_error=r"column 'rating' row 2 has the negative score -1 \(1 negative score\(s\)\)",
        hook_error=r"column 'score' row 2 has the negative score -1 \(1 negative score\(s\)\)",
    ),
    Case(
        "a later dislike overrides a like",
        csv="user,item,score\n1,1,5\n1,1,-1\n1,2,3\n",
        hook=rows([1, 1, 1], [1, 1, 2], score=[5, -1, 3]),
        settings={"score_column": "score", "duplicate_policy": "last"},
        users=[1],
        check=_dropped(1, merged=1),
    ),
    Case(
        "every score negative",
        csv="user,item,score\n1,1,-5\n1,2,-1\n",
        hook=rows([1, 1], score=[-5, -1]),
        settings={"score_column": "score"},
        error=r"every one of the 2 interactions has a negative score in column 'score'",
    ),
    Case(
        "score beyond float32",
        csv="user,item,score\n1,1,5\n1,2,1e39\n",
        hook=rows([1, 1], score=[5, 1e39]),
        settings={"score_column": "score"},
        error=r"column 'score' row 2 has 1e\+39, beyond float32's range",
    ),
    Case(
        "summed scores beyond float32",
        csv="user,item,score\n1,1,3e38\n1,1,3e38\n",
        hook=rows([1, 1], [1, 1], score=[3e38, 3e38]),
        settings={"score_column": "score", "duplicate_policy": "sum"},
        error=r"summing the scores of repeated \(user, item\) pairs .* gives 6e\+38, beyond float32's range",
    ),
    Case(
        "hook scores mixing numbers and lists",
        hook=rows([1, 2], score=[5, [1]]),
        error=r"column 'score' mixes int \(row 1: 5\) and list \(row 2: \[1\]\)",
    ),
    # --- 7. settings ---------------------------------------------------------------------------
    Case(
        "two-character separator",
        csv="user::item\n1::1\n",
        settings={"csv_separator": "::"},
        error=r"config 'csv_separator' is '::' \(str\); expected at most 1 character",
    ),
    Case(
        "empty separator",
        csv="user,item\n1,1\n",
        settings={"csv_separator": ""},
        error=r"config 'csv_separator' is '' \(str\); expected at least 1 character",
    ),
    Case(
        "multi-byte separator",
        csv="user§item\n1§1\n",
        settings={"csv_separator": "§"},
        error=r"config 'csv_separator' is '§' \(str\); expected one single-byte character",
    ),
    Case(
        "item_column equal to user_column",
        csv="user,item\n1,1\n",
        settings={"item_column": "user"},
        error=r"config 'user_column' and 'item_column' both name the column 'user'",
    ),
    Case(
        "score_column equal to item_column",
        csv="user,item\n1,1\n",
        settings={"score_column": "item"},
        error=r"config 'item_column' and 'score_column' both name the column 'item'",
    ),
    Case(
        "timestamp_column equal to user_column",
        csv="user,item\n1,1\n",
        settings={"timestamp_column": "user"},
        error=r"config 'user_column' and 'timestamp_column' both name the column 'user'",
    ),
    # --- 8. CSV structure ----------------------------------------------------------------------
    Case(
        "ragged row",
        csv="user,item\n1,2\n3,4,5\n6,7\n",
        error=r"row 2 \(line 3 of the file: '3,4,5'\) has 3 fields but the header has 2",
    ),
    Case(
        "unbalanced quote early, a megabyte after it",
        csv=BIG_QUOTE,
        error=r"row 2 \(line 3 of the file: '2,\"2'\) has an unbalanced quote",
    ),
    Case(
        "ragged row after a quoted line break",
        csv='user,item,note\n1,1,"x\ny"\n2,2,z,w\n',
        error=r"row 2 \(line 4 of the file: '2,2,z,w'\) has 4 fields but the header has 3",
    ),
    Case(
        "unbalanced quote in the header",
        csv='user,"item\n1,2\n',
        error=r"the header line has an unbalanced quote",
    ),
    Case(
        "not UTF-8",
        csv=b"user,item\n1,1\n\xe9,2\n",
        error=r"line 3 of the file holds the byte 0xe9, which is not UTF-8 text",
    ),
    Case(
        "header repeats a name",
        csv="user,item,item\n1,1,2\n",
        error=r"interactions file .*: the header names the column 'item' 2 times",
    ),
    Case(
        "quoted separators and line breaks are values",
        csv='user,item,note\n"a,b",1,"x\ny"\nc,2,z\n',
        users=["a,b", "c"],
    ),
    Case(
        "blank line",
        csv="user,item\n1,1\n\n2,2\n",
        error=r"column 'user' is empty on 1 data row\(s\): rows 2 \(row 1 is the first line after the",
    ),
    # --- 9. more ids ---------------------------------------------------------------------------
    Case(
        "unicode ids",
        csv="user,item\ncafé,1\n東京,2\n🎮,3\n",
        hook=rows(["café", "東京", "🎮"]),
        users=["café", "東京", "🎮"],
    ),
    Case(
        "composed and decomposed é stay two ids",
        csv=f"user,item\n{NFC},1\n{NFD},2\n",
        hook=rows([NFC, NFD]),
        users=sorted([NFC, NFD]),
    ),
    Case(
        "empty text id",
        csv='user,item\n"",1\n2,2\n',
        hook=rows(["", "2"]),
        error=r"column 'user' is empty on 1 data row\(s\): rows 1",
    ),
    Case(
        "duplicate rows are merged",
        csv="user,item\n1,1\n1,1\n2,1\n",
        hook=rows([1, 1, 2], [1, 1, 1]),
        users=[1, 2],
        check=_report(duplicates_merged=1, interactions=2),
    ),
    Case(
        "bool ids",
        csv="user,item\ntrue,1\nfalse,2\n",
        hook=rows([True, False]),
        csv_users=["false", "true"],
        hook_error=r"column 'user' holds a bool on row 1: True; ids must be integers or text",
    ),
    Case(
        "bool column",
        hook=pl.DataFrame({"user": [True, False], "item": [1, 2]}),
        parquet=True,
        error=r"column 'user' holds booleans on row 1: True",
    ),
    Case(
        "integers mixed with text",
        hook=rows([7, "a"]),
        error=r"column 'user' mixes integers \(row 1: 7\) and text \(row 2: 'a'\); ids must be all integers",
    ),
    Case(
        "integers mixed with digit text",
        hook=rows([7, "7"]),
        error=r"column 'user' mixes integers \(row 1: 7\) and text \(row 2: '7'\)",
    ),
    Case(
        "integers mixed with text in a dict of lists",
        hook={"user": [7, "a"], "item": [1, 2]},
        error=r"column 'user' mixes integers \(row 1: 7\) and text \(row 2: 'a'\)",
    ),
    Case(
        "a huge text id is cut in the message",
        hook=rows([7, "x" * 100_000]),
        error=r"mixes integers \(row 1: 7\) and text \(row 2: 'xxx+\.\.\.\)",
    ),
    Case("digit text becomes integers", csv="user,item\n1,1\n2,2\n", hook=rows(["1", "2"]), users=[1, 2]),
    Case(
        "'+7', '-0' and '007' stay text",
        csv="user,item\n+7,1\n-0,2\n007,3\n0,4\n",
        hook=rows(["+7", "-0", "007", "0"]),
        users=["+7", "-0", "0", "007"],
    ),
    Case(
        "hook row that is no dict",
        hook=[{"user": 1, "item": 1}, (2, 2)],
        error=r"row 2 is a tuple \(\(2, 2\)\); expected a list of dicts",
    ),
    Case(
        "date ids",
        hook=pl.DataFrame({"user": [datetime.date(2024, 1, 1)], "item": [1]}),
        parquet=True,
        error=r"column 'user' holds Date values on row 1",
    ),
    Case(
        "categorical ids",
        hook=pl.DataFrame({"user": pl.Series(["b", "a"], dtype=pl.Categorical), "item": [1, 2]}),
        parquet=True,
        users=["a", "b"],
    ),
]

PARAMS = [
    pytest.param(case, variant, id=f"{case.name} [{variant}]")
    for case in CASES
    for variant in case.variants()
]


def run(case: Case, variant: str, tmp_path) -> PreparedData:
    """Load the case's data by `variant` and prepare it (minimums of 1: nothing filtered)."""
    settings = {"min_interactions_per_user": 1, "min_interactions_per_item": 1, **case.settings}
    if variant == "hook":
        config = Config(**settings)
        result = call_hook(case.call) if case.call else (case.hook, case.users_hook, None)
        return prepare(load_from_hook(result), config)
    if variant == "parquet":
        path = tmp_path / "interactions.parquet"
        case.hook.write_parquet(path)
    else:
        path = tmp_path / "interactions.csv"
        data = case.csv.encode() if isinstance(case.csv, str) else case.csv
        path.write_bytes(data)
        if case.users_csv is not None:
            users = tmp_path / "users.csv"
            users.write_text(case.users_csv)
            settings["user_features_fpath"] = str(users)
    config = Config(raw_data_fpath=str(path), **settings)
    return prepare(load_from_files(config), config)


@pytest.mark.parametrize("case, variant", PARAMS)
def test_bad_input(case: Case, variant: str, tmp_path, capsys):
    error = case.error_for(variant)
    if error:
        with pytest.raises(RecsysError) as info:
            run(case, variant, tmp_path)
        message = str(info.value)
        assert re.search(error, message), message
        assert "\n" not in message and len(message) < MAX_MESSAGE, message
        assert not LIBRARY_WORDS.search(message), message
    else:
        prepared = run(case, variant, tmp_path)
        expected = case.users_for(variant)
        if expected is not None:
            got = prepared.user_vocab.to_python()
            assert [(type(i), i) for i in got] == [(type(i), i) for i in expected]
        if case.check:
            case.check(prepared)
    if case.warning:
        err = capsys.readouterr().err
        assert re.search(case.warning, err), err
        assert all(len(line) < MAX_MESSAGE for line in err.splitlines())


def test_every_case_has_an_outcome_on_each_of_its_paths():
    for case in CASES:
        assert case.variants(), case.name
        for variant in case.variants():
            assert case.error_for(variant) or case.users_for(variant) is not None or case.check, case.name


CSV_PIECES = st.sampled_from(
    list('01a ,;"\n\r\t-.') + ["NaN", "inf", "1e20", "2024-01-01", "01/02/2023", "é"]
)
HOOK_VALUES = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=3),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)


def _runs_or_one_line(load: Callable[[], Any]) -> None:
    try:
        load()
    except RecsysError as error:
        message = str(error)
        assert "\n" not in message and len(message) < MAX_MESSAGE, message


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(pieces=st.lists(CSV_PIECES, max_size=30), scores=st.booleans(), times=st.booleans())
def test_any_small_csv_runs_or_fails_in_one_line(tmp_path_factory, pieces, scores, times):
    """Fuzzing the file path: no traceback from a library, whatever the bytes."""
    header = "user,item" + (",s" if scores else "") + (",t" if times else "")
    path = tmp_path_factory.mktemp("fuzz") / "interactions.csv"
    path.write_text(header + "\n" + "".join(pieces))
    config = Config(
        raw_data_fpath=str(path),
        min_interactions_per_user=1,
        min_interactions_per_item=1,
        score_column="s" if scores else None,
        timestamp_column="t" if times else None,
    )
    _runs_or_one_line(lambda: prepare(load_from_files(config), config))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=st.lists(
        st.fixed_dictionaries(
            {"user": HOOK_VALUES, "item": HOOK_VALUES},
            optional={"score": HOOK_VALUES, "timestamp": HOOK_VALUES},
        ),
        min_size=1,
        max_size=5,
    )
)
def test_any_small_hook_list_runs_or_fails_in_one_line(data):
    """Fuzzing the hook path; a run keeps every id exactly (type and value)."""
    config = Config(min_interactions_per_user=1, min_interactions_per_item=1)
    try:
        prepared = prepare(load_from_hook((data, None, None)), config)
    except RecsysError as error:
        assert "\n" not in str(error) and len(str(error)) < MAX_MESSAGE, str(error)
        return
    given_ids = {row["user"] for row in data}
    kept = prepared.user_vocab.to_python()
    exact = {(type(i), i) for i in given_ids if not isinstance(i, (str, float))}
    assert exact <= {(type(i), i) for i in kept}


def test_hook_timestamps_in_a_given_format():
    data = rows([1, 1], timestamp=["01/02/2023", "12/31/2023"])
    raw = load_from_hook((data, None, None), timestamp_format="%m/%d/%Y")
    assert raw.interactions["timestamp"].to_list() == [1672617600.0, 1703980800.0]


def test_eda_draws_millisecond_timestamps_as_numbers(tmp_path, capsys):
    """Timestamps that are no dates as seconds (milliseconds here) must not break the EDA."""
    data = rows([1, 1, 2], [1, 2, 1], timestamp=[T0 * 1000, T1 * 1000, T1 * 1000])
    summary = run_eda(load_from_hook((data, None, None)), tmp_path)
    assert summary["time_is_calendar"] is False
    assert any(path.endswith("interactions_over_time.png") for path in summary["figures"])
    assert "numbers as given" in capsys.readouterr().out
