"""Autogenerate an Alembic revision against a fresh temporary SQLite database.

scripts/make-migration "add partner notes"     # new revision on top of head
scripts/make-migration --replace-initial        # rewrite the single initial revision
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from alembic import command
from alembic.operations.ops import MigrationScript

from atelier.migrations import VERSIONS_DIR, alembic_config, upgrade


def _revision_files() -> list[Path]:
    return sorted(p for p in VERSIONS_DIR.glob("*.py") if not p.name.startswith("__"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("message", nargs="?", help="what the revision changes")
    parser.add_argument(
        "--replace-initial",
        action="store_true",
        help="delete every revision and generate one 'initial' revision from the models",
    )
    args = parser.parse_args()
    if not args.replace_initial and not args.message:
        parser.error("a message is required (or --replace-initial)")

    VERSIONS_DIR.mkdir(parents=True, exist_ok=True)
    empty = {"value": False}

    def skip_empty(context: Any, revision: Any, directives: list[MigrationScript]) -> None:
        script = directives[0]
        if script.upgrade_ops is not None and script.upgrade_ops.is_empty():
            empty["value"] = True
            directives[:] = []

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'schema.db'}"
        if args.replace_initial:
            for path in _revision_files():
                path.unlink()
            shutil.rmtree(VERSIONS_DIR / "__pycache__", ignore_errors=True)
            message, rev_id = "initial", "0001"
        else:
            upgrade(url)
            message, rev_id = args.message, f"{len(_revision_files()) + 1:04d}"
        before = set(_revision_files())
        command.revision(
            alembic_config(url),
            message=message,
            autogenerate=True,
            rev_id=rev_id,
            process_revision_directives=skip_empty,
        )
    if empty["value"]:
        print("No changes between the models and the migrations; nothing written.")
        return 0
    created = sorted(set(_revision_files()) - before)
    ruff = Path(sys.executable).with_name("ruff")
    if ruff.exists():
        files = [str(p) for p in created]
        subprocess.run([str(ruff), "format", "--quiet", *files], check=False)
        subprocess.run([str(ruff), "check", "--fix", "--quiet", *files], check=False)
        subprocess.run([str(ruff), "format", "--quiet", *files], check=False)
    for path in created:
        print(f"Wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
