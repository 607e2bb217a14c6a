"""The catalogue's steps (rcp/locale, gettext with Babel): extract, compile, check.

    .venv/bin/python scripts/i18n.py extract   # the code's messages into rcp/locale/*/…/messages.po
    .venv/bin/python scripts/i18n.py compile   # .po -> .mo (scripts/setup.sh runs it)
    .venv/bin/python scripts/i18n.py check     # what is missing (the test does the same)

After ``extract``, translate each new entry of ``rcp/locale/en/LC_MESSAGES/messages.po``
(its msgid is the French text), then ``compile``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rcp import catalogue  # noqa: E402


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "extract":
        for language, todo in catalogue.update().items():
            print(f"{language}: {len(todo)} message(s) to translate")
            for message in todo:
                print(f"  {message!r}")
        return 0
    if command == "compile":
        for path in catalogue.compile_all():
            print(f"compiled {path.relative_to(catalogue.ROOT)}")
        return 0
    if command == "check":
        problems = catalogue.check()
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
