"""How a prediction file's problems are told: echoing a user's values, and the column rule.

Shared by the format readers (`prediction_formats`, `prediction_jsonl`) and the
checks in `heldout.predictions`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from heldout.errors import InvalidPredictions

MAX_COLUMNS = 100
"""More columns than this are refused before anything looks at them one by one."""


def show(value: Any) -> str:
    """Echo a user's value safely: repr() makes control characters visible, and long
    values are cut so a 10 kB string cannot flood a message."""
    value = value if isinstance(value, str) else str(value)
    if len(value) <= 40 and len(text := repr(value)) <= 90:
        return text
    text = repr(value[:40]) if len(repr(value[:40])) <= 90 else repr(value[:10])
    return f"{text}… ({len(value):,} characters)"


def listing(values: Iterable[Any]) -> str:
    return ", ".join(show(v) for v in values)


def check_columns(found: list[str], expected: list[str], fmt: str) -> None:
    """Exactly the expected columns, each once; near misses get a hint. Linear in `found`."""
    too_many(len(found), expected)
    counts = Counter(found)
    repeated = sorted(name for name, n in counts.items() if n > 1)
    if repeated:
        raise InvalidPredictions(f"the column {show(repeated[0])} appears more than once")
    missing = [name for name in expected if name not in counts]
    extra = [name for name in found if name not in expected]
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append(f"missing {plural(len(missing), 'column')} {listing(missing)}")
    if extra:
        more = f" and {len(extra) - 5:,} more" if len(extra) > 5 else ""
        parts.append(f"unexpected {plural(len(extra), 'column')} {listing(extra[:5])}{more}")
    near = {name.strip().lower(): name for name in extra}
    renames = [f"{show(near[n.lower()])} to {show(n)}" for n in missing if n.lower() in near]
    hint = ""
    if renames:
        hint = f" (names are case-sensitive: rename {', '.join(renames)})"
    elif fmt == "csv" and len(found) == 1 and re.search(r"[;\t|]", found[0]):
        hint = " (values must be separated by commas)"
    elif fmt == "csv" and len(missing) == len(expected):
        hint = f" (the first line must be the header {expected[0]},{expected[1]})"
    elif fmt == "parquet" and extra:
        hint = " (with pandas, write the file with index=False)"
    raise InvalidPredictions(
        f"{'; '.join(parts)}; the file must have exactly the columns "
        f"{show(expected[0])} and {show(expected[1])}{hint}"
    )


def too_many(count: int, expected: list[str], what: str = "columns") -> None:
    """Refuse a file with far more columns than expected, before any per-column work."""
    if count > MAX_COLUMNS:
        raise InvalidPredictions(
            f"the file has {count:,} {what}; it must have exactly the columns "
            f"{show(expected[0])} and {show(expected[1])}"
        )


def reason(exc: BaseException) -> str:
    """pyarrow's own words, without its block-relative row numbers or its prefixes."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = re.sub(r"^(CSV|JSON) parse error:\s*", "", re.sub(r"\s*in row \d+", "", text))
    return text if len(text) <= 120 else text[:120] + "…"


def mb(size: int, other: int) -> str:
    """Megabytes, plus the byte count when rounding would make two sizes look equal."""
    text, twin = f"{size / 2**20:.1f} MB", f"{other / 2**20:.1f} MB"
    return f"{text} ({size:,} bytes)" if text == twin else text


def plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"
