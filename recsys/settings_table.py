"""The README's settings table, generated from `Config` so that the two never disagree.

`python -m recsys.settings_table` rewrites the table between the README's
`<!-- settings:start -->` and `<!-- settings:end -->` markers; `--check` only compares and exits
1 when the README is out of date (a test runs the same comparison).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from recsys.config import Config, field_docs, type_text
from recsys.files import atomic_write_text

__all__ = ["README", "main", "markdown_table", "replace_table"]

START, END = "<!-- settings:start -->", "<!-- settings:end -->"
README = Path(__file__).resolve().parents[1] / "README.md"


def markdown_table() -> str:
    """One row per setting: name, type, default and documentation."""
    docs = field_docs()
    defaults = Config().to_dict()
    rows = ["| setting | type | default | meaning |", "|---|---|---|---|"]
    for f in dataclasses.fields(Config):
        doc = docs[f.name].replace("|", "\\|")
        default = repr(defaults[f.name]).replace("|", "\\|")
        rows.append(f"| `{f.name}` | {type_text(f.name)} | `{default}` | {doc} |")
    return "\n".join(rows)


def replace_table(text: str, table: str) -> str:
    """`text` with the part between the markers replaced by `table`."""
    if START not in text or END not in text:
        raise SystemExit(f"README has no {START} ... {END} markers around the settings table.")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Only check; exit 1 when the README is stale.")
    parser.add_argument("--readme", default=str(README))
    args = parser.parse_args(argv)
    path = Path(args.readme)
    text = path.read_text()
    updated = replace_table(text, markdown_table())
    if updated == text:
        return 0
    if args.check:
        print(
            f"{path}: the settings table differs from Config; run python -m recsys.settings_table",
            file=sys.stderr,
        )
        return 1
    atomic_write_text(path, updated)
    print(f"Rewrote the settings table in {path}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
