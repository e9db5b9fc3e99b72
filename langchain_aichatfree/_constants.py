"""Defaults in one place: endpoints, environment variables, timeouts and retries."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

DEFAULT_BASE_URL: Final = "https://aichatfree.info"
"""The public AIChatFree deployment."""

DEFAULT_MODEL: Final = "gemini-1.5-pro"
"""Reported in metadata and tracing; the deployment picks the real model."""

DEFAULT_MODELS: Final[Mapping[str, str]] = MappingProxyType(
    {"gemini": DEFAULT_MODEL, "chatgpt-demo": "gpt-3.5-turbo"}
)
"""The model reported by default, per dialect: each web app's own default
(GeminiProChat's Gemini model, chatgpt-demo's `OPENAI_API_MODEL` default)."""

GENERATE_PATH: Final = "/api/generate"

ENV_BASE_URL: Final = "AICHATFREE_BASE_URL"
ENV_SECRET: Final = "AICHATFREE_SECRET"  # noqa: S105 - a variable name
ENV_PASSWORD: Final = "AICHATFREE_PASSWORD"  # noqa: S105 - a variable name
ENV_DIALECT: Final = "AICHATFREE_DIALECT"

PROVIDER: Final = "aichatfree"
"""`ls_provider` and `model_provider`."""

DEFAULT_CHUNK_TIMEOUT: Final = 60.0
"""Longest silence, in seconds, before the first chunk and between chunks."""

DEFAULT_MAX_RETRIES: Final = 2
"""Retries after the first attempt."""

INITIAL_RETRY_DELAY: Final = 0.5
"""Backoff before the first retry, in seconds; doubled for each further retry."""

MAX_RETRY_DELAY: Final = 8.0
"""Longest backoff between two attempts when the server gave no hint."""

MAX_HINTED_RETRY_DELAY: Final = 60.0
"""Longest server-hinted delay ("Please retry in N s") that is waited for.

A rate limit that asks for a longer wait is raised to the caller at once, with
its `retry_after`, rather than blocking the call for minutes.
"""

RETRY_JITTER: Final = 0.25
"""Backoff is multiplied by a random factor in `[1 - RETRY_JITTER, 1]`."""

DEFAULT_MAX_RESPONSE_BYTES: Final = 8 * 1024 * 1024
"""Largest answer body accepted, in bytes (a full 8,000-token answer is ~50 KB)."""

MAX_REDIRECTS: Final = 3
"""Same-origin redirects followed at most, when following is allowed at all."""

SERVER_SENTINEL: Final = "Internal server error"
"""What the server writes as the last chunk when the upstream fails mid-stream."""

MAX_OUTPUT_TOKENS: Final = 8000
"""The deployment's output limit (its fixed generation settings)."""

CHARS_PER_TOKEN: Final = 4
"""Token estimates count one token per this many UTF-8 bytes (rounded up)."""

USER_AGENT: Final = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
"""Browser-like user agent, as the web app's own page sends."""

SYSTEM_PREFIX: Final = "[System instructions]\n"
SYSTEM_SUFFIX: Final = "\n[End of system instructions]\n\n"
"""Delimit system text folded into the first user turn."""

LEADING_USER_TURN: Final = "(The conversation so far follows.)"
"""Neutral user turn put before a history that would start with the model."""

# -- the quota store (cooldowns and budgets shared by the deployments of a pool) --

QUOTA_PREFIX: Final = "aichatfree:"
"""Every key the Redis quota store writes starts with this (configurable)."""

QUOTA_TIMEZONE: Final = "America/Los_Angeles"
"""Daily quotas (``rpd``, Gemini's per-day caps) end at midnight in this zone."""

RPM_WINDOW: Final = 60.0
"""The length, in seconds, of the sliding window an ``rpm`` budget counts."""

DEFAULT_COOLDOWN: Final = 10.0
"""Cooldown after a rate limit that names no delay, the first time, in seconds."""

MAX_DEFAULT_COOLDOWN: Final = 600.0
"""The escalating default cooldown (doubled per strike) stops growing here."""

COOLDOWN_JITTER: Final = 0.1
"""A cooldown is lengthened by a random fraction of itself, up to this one."""

RECUR_WINDOW: Final = 300.0
"""A rate limit this soon after a cooldown ended counts as a further strike."""

PROBE_LEASE: Final = 30.0
"""How long the one caller probing a group after its cooldown holds the lease."""

TAKEN_OUT_FOR: Final = 3600.0
"""How long a deployment refused with 401 stays out (or until restart)."""

REDIS_CONNECT_TIMEOUT: Final = 0.5
"""Seconds to open a connection to the Redis quota store."""

REDIS_SOCKET_TIMEOUT: Final = 0.5
"""Seconds to wait for one answer (or a free pooled connection) from Redis."""

REDIS_MAX_CONNECTIONS: Final = 8
"""Connections to Redis per event loop; more concurrent calls wait for one."""

REDIS_RETRY_INTERVAL: Final = 2.0
"""After a Redis failure, seconds on the local store before trying Redis again."""

# -- the pool of deployments (routing) ---------------------------------------------

ENV_QUOTA_STORE: Final = "AICHATFREE_QUOTA_STORE"

DEFAULT_QUOTA_STORE: Final = "memory"
"""Cooldowns and budgets shared by every model in the process (per quota group)."""

DEFAULT_MAX_WAIT: Final = 60.0
"""Longest time, in seconds, a call waits for a deployment to come free."""

FAILED_RANK_SECONDS: Final = 5.0
"""After a transient failure (5xx, network), a deployment is picked last by this
process for this long, so that calls stop trying a broken one first."""

MAX_WAIT_STEP: Final = 1.0
"""Longest single sleep while waiting for a deployment to come free; the store
is asked again after it."""

PROBE_POLL: Final = 0.25
"""While another caller probes a group after its cooldown, the others ask again
this often (a probe ends at its first byte, long before its lease); callers in
the prober's own process are woken at once."""

RPM_WINDOW_MARGIN: Final = 0.05
"""A declared `rpm` is counted over a window this much longer than `rpm_window`:
the slot is reserved before the request leaves, and the upstream counts it when
it arrives, a little later; without a margin a request sent the moment a slot
frees can reach an upstream whose window has not yet let the old one go."""
AUTH_PATH: Final = "/api/auth"
"""Where a site's page checks the password (`{"pass": ...}` -> `{"code": 0 | -1}`)."""

PROBE_TIMEOUT: Final = 30.0
"""Seconds one request of a site probe may take, first byte to last."""

MAX_PAGE_BYTES: Final = 1024 * 1024
"""Largest page read by a site probe (real chat pages are a few KB)."""

MAX_SCRIPT_BYTES: Final = 5 * 1024 * 1024
"""Largest script read by a site probe (real chat scripts are 1.2 to 1.3 MB)."""

MAX_PROBE_SCRIPTS: Final = 8
"""Scripts a site probe fetches at most while looking for the chat script."""
