"""Where a CSV file that polars could not parse goes wrong, found by a vectorised scan of its bytes:
invalid UTF-8, an unbalanced quote, or a row with more fields than the header (`scan_csv`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys.errors import quoted

__all__ = ["scan_csv"]

BLOCK_BYTES = 1 << 24  # the CSV scanner reads 16 MiB at a time


@dataclass
class _Record:
    """A CSV record (a row, possibly over several lines) as far as the scanner has read it."""

    number: int  # 0 for the header, then the data row number
    line: int  # 0-based line of the file where it starts
    text: str  # its first line, for the message
    separators: int = 0  # separators outside quotes so far
    multiline: bool = False  # holds a line break inside quotes
    after_quote: bool = False  # text follows a quoted value's closing quote


NO_QUOTES_HINT = (
    "if the file does not quote its values (usual for .dat and .tsv files), set csv_quote_char = None "
    "in config.py."
)


def _record_problem(record: _Record, header: int, at_end_inside_quotes: bool = False) -> str | None:
    """What is wrong with a finished record, given the header's separator count; None if nothing."""
    where = (
        "the header line"
        if record.number == 0
        else f"row {record.number} (line {record.line + 1} of the file: {quoted(record.text)})"
    )
    if at_end_inside_quotes or (record.multiline and record.separators != header):
        return (
            f'{where} has an unbalanced quote ("); a quoted value must end with a closing quote, or '
            + NO_QUOTES_HINT
        )
    if record.after_quote:
        return f"{where} has text after a quoted value's closing quote (\"); quote the whole value, or " + (
            NO_QUOTES_HINT
        )
    if record.separators > header:
        return (
            f"{where} has {record.separators + 1} fields but the header has {header + 1}; every row needs "
            "one value per column (a value that contains the separator must be quoted)."
        )
    return None


class _CsvScanner:
    """Finds the first malformed record of a CSV file, block by block (whole lines per block).

    Vectorised per block: the positions of quotes, separators and line breaks come from numpy; a
    byte is inside quotes when an odd number of quotes precede it in the file; records end at line
    breaks outside quotes. A record is malformed when it has more fields than the header, when it
    spans lines inside quotes but has the wrong number of fields (a stray quote swallowed the
    following lines), when text follows a quoted value's closing quote (`"Weird Al" Yankovic`), or
    when the file ends inside quotes. `quote` None: the file quotes nothing."""

    def __init__(self, separator: int, quote: int | None = 34):
        self.separator, self.quote = separator, quote
        self.parity = 0  # quotes so far, modulo 2
        self.line = 0  # lines before the current block
        self.records = 0  # records finished so far (the header is record 0)
        self.header: int | None = None  # separators of the header
        self.open: _Record | None = None  # the record that continues into the next block

    def block(self, block: bytes) -> str | None:
        """Scan one block of whole lines; the first problem found, or None."""
        data = np.frombuffer(block, dtype=np.uint8)
        quotes = np.flatnonzero(data == self.quote) if self.quote is not None else np.zeros(0, np.int64)
        breaks = np.flatnonzero(data == 10)
        separators = np.flatnonzero(data == self.separator)

        def inside(positions: np.ndarray) -> np.ndarray:
            return (self.parity + np.searchsorted(quotes, positions)) % 2 == 1

        break_inside = inside(breaks)
        ends = breaks[~break_inside]
        # Piece k runs up to ends[k]; the last piece (after the last end) continues in the next block.
        n_pieces = len(ends) + 1
        seps = np.bincount(np.searchsorted(ends, separators[~inside(separators)]), minlength=n_pieces)
        multiline = np.bincount(np.searchsorted(ends, breaks[break_inside]), minlength=n_pieces) > 0
        # A closing quote (an even count of quotes up to it) must end the value: a separator, a line
        # end, or the first of an escaped pair ("") follows it.
        closing = quotes[(self.parity + np.arange(1, len(quotes) + 1)) % 2 == 0]
        following = data[np.minimum(closing + 1, len(data) - 1)] if len(data) else closing
        allowed = (following == self.separator) | (following == 10) | (following == 13)
        allowed |= (following == self.quote) | (closing + 1 >= len(data))
        after_quote = np.bincount(np.searchsorted(ends, closing[~allowed]), minlength=n_pieces) > 0
        starts = np.concatenate(([0], ends + 1))
        lines = self.line + np.searchsorted(breaks, starts)
        if self.open is not None:  # the first piece finishes the record left open
            self.open.separators += int(seps[0])
            self.open.multiline |= bool(multiline[0])
            self.open.after_quote |= bool(after_quote[0])
            seps[0], multiline[0] = self.open.separators, self.open.multiline
            after_quote[0] = self.open.after_quote
        numbers = self.records + np.arange(n_pieces)  # a blank line is a row (of nulls) to polars too
        if self.header is None and n_pieces > 1:
            self.header = int(seps[0])
        header = self.header if self.header is not None else -1
        bad = (numbers[:-1] > 0) & ((seps[:-1] > header) | (multiline[:-1] & (seps[:-1] != header)))
        bad |= after_quote[:-1]
        if header >= 0 and bad.any():
            first = int(np.flatnonzero(bad)[0])
            return _record_problem(
                self._record(block, first, starts, numbers, lines, seps, multiline, after_quote), header
            )
        if n_pieces > 1:
            self.open = None
        if starts[-1] < len(data):
            last = n_pieces - 1
            if self.open is None:
                self.open = self._record(block, last, starts, numbers, lines, seps, multiline, after_quote)
            else:  # the open record continues through this whole block
                self.open.separators, self.open.multiline = int(seps[last]), bool(multiline[last])
                self.open.after_quote = bool(after_quote[last])
        self.records = int(numbers[-2]) + 1 if n_pieces > 1 else self.records
        self.parity = (self.parity + len(quotes)) % 2
        self.line += len(breaks)
        return None

    def _record(
        self,
        block: bytes,
        piece: int,
        starts: np.ndarray,
        numbers: np.ndarray,
        lines: np.ndarray,
        seps: np.ndarray,
        multiline: np.ndarray,
        after_quote: np.ndarray,
    ) -> _Record:
        """Piece `piece` of the block as a record (the open record, when the piece finishes it)."""
        if piece == 0 and self.open is not None:
            return self.open
        begin = int(starts[piece])
        stop = block.find(b"\n", begin)
        text = block[begin : stop if stop >= 0 else len(block)].rstrip(b"\r").decode("utf-8", "replace")
        return _Record(
            int(numbers[piece]),
            int(lines[piece]),
            text,
            int(seps[piece]),
            bool(multiline[piece]),
            bool(after_quote[piece]),
        )

    def finish(self) -> str | None:
        """The verdict on the last record (the file may end without a line break, or inside quotes)."""
        if self.open is None or (self.header is None and self.parity == 0):
            return None
        header = self.header if self.header is not None else self.open.separators
        return _record_problem(self.open, header, at_end_inside_quotes=self.parity == 1)


def scan_csv(path: Path, separator: str, quote: str | None = '"') -> str | None:
    """Where a CSV file that polars could not parse goes wrong: invalid UTF-8, an unbalanced quote,
    text after a closing quote, or a row with more fields than the header. None when nothing is
    found. Reads the file in blocks of whole lines, so memory stays bounded on large files.
    `quote`: the quote character (None: the file quotes nothing)."""
    encoded = separator.encode()
    quote_byte = quote.encode() if quote is not None else None
    if len(encoded) != 1 or (quote_byte is not None and len(quote_byte) != 1):
        return None
    scanner = _CsvScanner(encoded[0], None if quote_byte is None else quote_byte[0])
    carry = b""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(BLOCK_BYTES)
            data = carry + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            if chunk and cut == 0:
                carry = data  # one line longer than a block: read on
                continue
            block, carry = data[:cut], data[cut:]
            if not block:
                return scanner.finish()
            try:
                block.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = scanner.line + block.count(b"\n", 0, exc.start)
                where = "the header line" if line == 0 else f"line {line + 1} of the file"
                return (
                    f"{where} holds the byte 0x{block[exc.start]:02x}, which is not UTF-8 text; "
                    "save the file as UTF-8."
                )
            problem = scanner.block(block)
            if problem:
                return problem
