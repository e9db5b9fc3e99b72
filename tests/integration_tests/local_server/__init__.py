"""The local server against docs/protocol.md, through bare aiohttp clients and sockets.

One module per concern: the signature, the error table and the order of the
checks, successful streaming, failures, the script and request log,
connections, run modes (thread, fixture, command line), the chatgpt-demo
dialect, and the public surface. Shared request builders are in `_helpers`.
"""
