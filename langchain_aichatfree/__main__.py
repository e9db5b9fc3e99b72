"""``python -m langchain_aichatfree``: the ``aichatfree`` command."""

from __future__ import annotations

import sys

from langchain_aichatfree._cli import main

if __name__ == "__main__":
    sys.exit(main())
