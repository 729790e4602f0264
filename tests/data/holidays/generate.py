#!/usr/bin/env python3
"""Dump Colombian public holidays 1984-2060 from the PyPI package `holidays`.

The Rust calendar tests compare their own holiday rules against this file,
an independent implementation. Regenerate with:

    pip install -U holidays
    python3 tests/data/holidays/generate.py

co_1984_2060.json was produced with holidays 0.109, which already knows
Ley 2578 de 2026 (9 July, moved to Monday from 2026 on); 0.98 did not.
The script refuses to write a file from a version without it, since the
Rust test expects that holiday to be present.
"""

import datetime
import json
import pathlib

import holidays

FIRST_YEAR, LAST_YEAR = 1984, 2060
OUT = pathlib.Path(__file__).with_name(f"co_{FIRST_YEAR}_{LAST_YEAR}.json")


def main() -> None:
    co = holidays.Colombia(years=range(FIRST_YEAR, LAST_YEAR + 1), language="es")
    # One entry per holiday: two can share a date (e.g. 2025-06-30), and the
    # package joins their names in a single dict value.
    rows = [
        {"date": day.isoformat(), "name": name}
        for day in sorted(co)
        for name in co.get_list(day)
    ]
    if datetime.date(2026, 7, 13) not in co:
        raise SystemExit(
            f"holidays {holidays.__version__} lacks Ley 2578 de 2026 "
            "(2026-07-13); upgrade it before regenerating"
        )
    # One object per line keeps the file small and its diffs readable.
    lines = ",\n".join(json.dumps(row, ensure_ascii=False) for row in rows)
    OUT.write_text(f"[\n{lines}\n]\n", encoding="utf-8")
    print(f"holidays {holidays.__version__}: wrote {len(rows)} holidays to {OUT}")


if __name__ == "__main__":
    main()
