"""The physical line on which each CSV record starts, found while the file streams (bounded memory).

The CSV reader skips blank lines and lets quoted values hold newlines, so the n-th record is not always on
line n + 1.  A record ends at a newline outside quotes (an even number of ``"`` before it); a record that is
empty, or only a carriage return, is a blank line.  The file is scanned in chunks with numpy, carrying the
quote parity and the record in progress from one chunk to the next, and the line numbers are handed out in
step with the reader's batches (``take``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CHUNK = 1 << 22


class RecordLines:
    """``take(n)``: the start lines of the next *n* data records (the header, record 1, is skipped).

    When the scan and the reader disagree on the number of records (a stray quote inside an unquoted
    value fools the quote parity), ``consistent`` is False at the end and the caller numbers the rows
    by their order instead (line = record index + 2).
    """

    def __init__(self, path: Path, chunk: int | None = None) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - held across calls, closed by close()
        self._chunk = chunk or CHUNK
        self._buf: list[np.ndarray] = []
        self._buffered = 0
        self._eof = False
        self._line_base = 1  # physical line of the chunk's first byte
        self._parity = 0  # quotes seen so far, mod 2
        self._cur_line = 1  # line on which the record in progress started
        self._cur_len = 0  # its length so far (bytes)
        self._cur_first = -1  # its first byte (-1: none yet)
        self._header_skipped = False
        self.taken = 0
        self.short = False  # the scan ran out of records before the reader did

    def close(self) -> None:
        self._fh.close()

    def _emit(self, lines: np.ndarray) -> None:
        if not self._header_skipped and len(lines):
            lines = lines[1:]
            self._header_skipped = True
        if len(lines):
            self._buf.append(lines)
            self._buffered += len(lines)

    def _scan(self) -> None:
        chunk = self._fh.read(self._chunk)
        if not chunk:
            self._eof = True
            self._fh.close()
            if self._cur_len > 0 and not (self._cur_len == 1 and self._cur_first == 13):
                self._emit(np.array([self._cur_line], dtype=np.int64))
            self._cur_len = 0
            return
        data = np.frombuffer(chunk, dtype=np.uint8)
        nl = np.flatnonzero(data == 10)
        quotes = np.flatnonzero(data == 34)
        outside = ((np.searchsorted(quotes, nl) + self._parity) & 1) == 0
        term = nl[outside]
        term_idx = np.flatnonzero(outside)  # which newline of the chunk each terminator is
        if len(term):
            # the first record started before (or at the start of) this chunk
            first_len = self._cur_len + int(term[0])
            first_byte = self._cur_first if self._cur_len else (int(data[0]) if term[0] > 0 else -1)
            keep_first = first_len > 0 and not (first_len == 1 and first_byte == 13)
            starts = term[:-1] + 1
            lengths = term[1:] - starts
            firsts = data[np.minimum(starts, len(data) - 1)]
            keep = (lengths > 0) & ~((lengths == 1) & (firsts == 13))
            lines = self._line_base + term_idx[:-1] + 1
            out = lines[keep].astype(np.int64)
            if keep_first:
                out = np.concatenate([np.array([self._cur_line], dtype=np.int64), out])
            self._emit(out)
            last = int(term[-1])
            self._cur_line = self._line_base + int(term_idx[-1]) + 1
            self._cur_len = len(data) - last - 1
            self._cur_first = int(data[last + 1]) if self._cur_len else -1
        else:
            if not self._cur_len and len(data):
                self._cur_first = int(data[0])
            self._cur_len += len(data)
        self._parity = (self._parity + len(quotes)) & 1
        self._line_base += len(nl)

    def take(self, n: int) -> np.ndarray:
        while self._buffered < n and not self._eof:
            self._scan()
        if self._buffered < n:  # the scan found fewer records than the reader: number by order from here on
            self.short = True
            have = np.concatenate(self._buf) if self._buf else np.empty(0, dtype=np.int64)
            self._buf, self._buffered = [], 0
            extra = np.arange(self.taken + len(have), self.taken + n, dtype=np.int64) + 2
            self.taken += n
            return np.concatenate([have, extra])
        allb = np.concatenate(self._buf) if len(self._buf) > 1 else self._buf[0]
        out, rest = allb[:n], allb[n:]
        self._buf = [rest] if len(rest) else []
        self._buffered = len(rest)
        self.taken += n
        return out

    @property
    def consistent(self) -> bool:
        """After the reader is done: did the scan find exactly as many records?"""
        if self.short:
            return False
        while not self._eof and not self._buffered:
            self._scan()
        return self._buffered == 0 and self._eof
