"""Write src/phonegate/data/country_names.json: the name of every region phonenumbers knows,
in the 12 languages of phonegate's pages, taken from phonenumbers' geocoding data.

Importing that data costs about 100 MB per process, so the pages read this small extract
instead. Run it after upgrading phonenumbers; tests/unit/test_phone.py checks the file is
current.

    .venv/bin/python scripts/country_names.py
"""

from __future__ import annotations

import json
from pathlib import Path

import phonenumbers
from phonenumbers.geodata.locale import LOCALE_DATA

from phonegate.domain.texts import SUPPORTED_LOCALES

TARGET = Path(__file__).resolve().parents[1] / "src" / "phonegate" / "data" / "country_names.json"


def extract() -> dict[str, dict[str, str]]:
    names: dict[str, dict[str, str]] = {}
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        known = LOCALE_DATA.get(region, {})
        row: dict[str, str] = {}
        for language in SUPPORTED_LOCALES:
            name = known.get(language, "")
            if name.startswith("*"):  # a pointer to another language's entry
                name = known.get(name[1:], "")
            if name:
                row[language] = str(name)
        names[region] = row
    return names


def render(names: dict[str, dict[str, str]]) -> str:
    return json.dumps(names, ensure_ascii=False, sort_keys=True, indent=0) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(extract()), encoding="utf-8")
    print(f"wrote {TARGET}")
