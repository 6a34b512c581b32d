"""Extract the portal's strings and update the translation catalogues.

    scripts/portal-messages          # update locale/*/LC_MESSAGES/messages.po from the sources
    scripts/portal-messages --check  # exit 1 when a catalogue misses or has stale strings

Strings come from ``_()``/``ngettext()`` in the portal templates and ``N_()``/``_()`` in the
portal's Python code. New strings are added untranslated; translate them in the ``.po`` file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "src" / "atelier" / "web"
LANGUAGES = {"hi": "hi_IN"}
METHODS = [
    ("templates/portal/**.html", "jinja2"),
    ("portal/**.py", "python"),
]
OPTIONS = {"templates/portal/**.html": {"trimmed": "true"}}


def template() -> Catalog:
    """Every msgid the portal uses, with where it is used."""
    catalog = Catalog(project="atelier-portal", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        WEB, METHODS, options_map=OPTIONS, keywords={"_": None, "N_": None, "ngettext": (1, 2)}
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only report missing translations")
    args = parser.parse_args()
    source = template()
    problems = 0
    for language, locale in LANGUAGES.items():
        path = WEB / "locale" / language / "LC_MESSAGES" / "messages.po"
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=locale)
        else:
            catalog = Catalog(locale=locale, project="atelier-portal", charset="utf-8")
        catalog.update(source, no_fuzzy_matching=True)
        missing = [
            m.id
            for m in catalog
            if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))
        ]
        if args.check:
            problems += len(missing)
            for msgid in missing:
                sys.stdout.write(f"{language}: untranslated: {msgid!r}\n")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False, ignore_obsolete=True)
        sys.stdout.write(
            f"{path.relative_to(ROOT)}: {len(catalog)} messages, {len(missing)} untranslated\n"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
