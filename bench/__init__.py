"""The benchmark of langchain-aichatfree against a bare aiohttp client and ChatOpenAI.

Run ``make bench`` or ``python -m bench --help``; see ``bench/README.md``.
"""
