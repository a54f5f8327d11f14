"""Crowd files: a CSV with a receiver column (`receiver`, or austin's `userId`) and one column
per template variable, read as a stream of rows that knows where each row ends in the file."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from templates_app.locales import locale_canonical

RECEIVER_COLUMNS = ("receiver", "userid", "user_id")
BIZ_ID_COLUMN = "biz_id"
# Optional: the row's BCP 47 locale, which picks the template's `locales` variant.
LOCALE_COLUMN = "locale"
MAX_PROBLEMS = 100
# Row fields can be long (a rendered paragraph), not unbounded.
csv.field_size_limit(1024 * 1024)


class CrowdFileError(ValueError):
    """The file cannot be used at all (bad header, encoding): names the line."""

    def __init__(self, line: int, problem: str):
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


@dataclass
class Header:
    columns: list[str]
    receiver_index: int
    biz_id_index: int | None
    variable_columns: list[tuple[int, str]]
    locale_index: int | None = None

    @property
    def receiver_column(self) -> str:
        return self.columns[self.receiver_index]


@dataclass
class Row:
    line: int  # physical line the row starts on (the header is line 1)
    receiver: str
    variables: dict[str, str]
    biz_id: str
    problem: str | None = None
    locale: str = ""


@dataclass
class ScanReport:
    header: Header
    rows: int = 0
    invalid_rows: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    # [byte offset, lines before it] where each segment after the first starts.
    segments: list[list[int]] = field(default_factory=list)


def header_parse(fields: list[str], required_variables: Iterable[str]) -> Header:
    """Check the header row against the variables the template needs (line 1 errors)."""
    columns = [name.strip() for name in fields]
    if not any(columns):
        raise CrowdFileError(1, "empty header: the first line must name the columns")
    lowered = [name.lower() for name in columns]
    receiver_index = next((lowered.index(n) for n in RECEIVER_COLUMNS if n in lowered), None)
    if receiver_index is None:
        raise CrowdFileError(1, "missing receiver column: name one column 'receiver' (or 'userId')")
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise CrowdFileError(1, f"duplicate column {name!r}")
        seen.add(name)
    missing = sorted(set(required_variables) - set(columns))
    if missing:
        names = ", ".join(repr(name) for name in missing)
        raise CrowdFileError(1, f"missing variable column {names} (the template uses it)")
    biz_id_index = lowered.index(BIZ_ID_COLUMN) if BIZ_ID_COLUMN in lowered else None
    locale_index = lowered.index(LOCALE_COLUMN) if LOCALE_COLUMN in lowered else None
    variable_columns = [
        (index, name)
        for index, name in enumerate(columns)
        if index not in (receiver_index, biz_id_index, locale_index) and name
    ]
    return Header(columns, receiver_index, biz_id_index, variable_columns, locale_index)


class CrowdReader:
    """Rows of a crowd file opened in binary mode, from `offset` on.

    csv.reader pulls one physical line at a time from `_lines` and never reads ahead of the
    record it returns, so after each row `offset` is exactly where the next row starts: a
    checkpoint can seek there instead of re-reading the file.
    """

    def __init__(
        self,
        handle: IO[bytes],
        required_variables: Iterable[str],
        *,
        offset: int = 0,
        line: int = 0,
        header: Header | None = None,
    ):
        self.handle = handle
        self.offset = offset
        self._line_base = line
        handle.seek(offset)
        self._reader = csv.reader(self._lines())
        if header is None:
            try:
                first = next(self._reader)
            except StopIteration:
                raise CrowdFileError(1, "the file is empty") from None
            except (csv.Error, UnicodeDecodeError) as exc:
                raise CrowdFileError(1, _describe(exc)) from None
            header = header_parse(first, required_variables)
        self.header = header

    @property
    def line(self) -> int:
        """Physical lines consumed so far (the header is line 1)."""
        return self._line_base + self._reader.line_num

    def _lines(self) -> Iterator[str]:
        first = self.offset == 0
        for raw in self.handle:
            self.offset += len(raw)
            text = raw.decode("utf-8")
            if first:
                text = text.removeprefix("\ufeff")  # Excel's UTF-8 byte order mark
                first = False
            yield text

    def __iter__(self) -> Iterator[Row]:
        header = self.header
        width = len(header.columns)
        receiver_index, biz_index = header.receiver_index, header.biz_id_index
        variable_columns = header.variable_columns
        locale_index = header.locale_index
        reader = self._reader
        while True:
            start = self.line + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                raise CrowdFileError(start, _describe(exc)) from None
            if not fields:
                continue  # blank line
            if len(fields) != width:
                yield Row(start, "", {}, "", f"expected {width} fields, got {len(fields)}")
                continue
            receiver = fields[receiver_index].strip()
            variables = {name: fields[index] for index, name in variable_columns}
            biz_id = fields[biz_index].strip() if biz_index is not None else ""
            locale = fields[locale_index].strip() if locale_index is not None else ""
            problem = None
            if not receiver:
                problem = f"empty receiver ({header.receiver_column!r} column)"
            elif len(biz_id) > 128:
                problem = "biz_id longer than 128 characters"
            elif locale and locale_canonical(locale) is None:
                problem = f"locale {locale[:40]!r} is not a language tag (e.g. en, zh-CN)"
            yield Row(start, receiver, variables, biz_id, problem, locale)


def crowd_scan(
    handle: IO[bytes],
    required_variables: Iterable[str],
    receiver_check: Callable[[str], str | None],
    shared: Mapping[str, Any],
    segment_rows: int = 0,
) -> ScanReport:
    """Read the whole file once (streaming): count rows, collect the first problems, and
    note where every `segment_rows` rows a segment starts (0: no segments).

    `receiver_check(receiver) -> problem | None` is the template's receiver rule.
    """
    present = set(shared)
    reader = CrowdReader(handle, [v for v in required_variables if v not in present])
    report = ScanReport(reader.header)
    # Where the next row starts, noted before it is read (rows end where the next starts).
    start, line = reader.offset, reader.line
    for row in reader:
        if segment_rows and report.rows and report.rows % segment_rows == 0:
            report.segments.append([start, line])
        start, line = reader.offset, reader.line
        report.rows += 1
        problem = row.problem or receiver_check(row.receiver)
        if problem:
            report.invalid_rows += 1
            if len(report.problems) < MAX_PROBLEMS:
                report.problems.append(
                    {"line": row.line, "receiver": row.receiver, "problem": problem}
                )
    if report.rows == 0:
        raise CrowdFileError(2, "no rows after the header")
    return report


def _describe(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text (save the file as CSV UTF-8)"
    return f"malformed CSV ({exc})"
