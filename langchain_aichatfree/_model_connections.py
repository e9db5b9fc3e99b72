"""`ModelConnections`: the settings, and the connections a call over them uses.

The HTTP sessions (one pool per model, a session per event loop) and the
router (the deployments and quota store the settings name) are made on first
use and closed together (`close`, `aclose`, or a ``with`` block). A call is
planned (`_plan_call`) and run (`_run`) over them. `ChatAIChatFree` is built
on this class; the command line's one-shot question uses it alone, without
LangChain's model classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pydantic import PrivateAttr
from typing_extensions import Self

from langchain_aichatfree import _sync
from langchain_aichatfree._answer import PlannedCall
from langchain_aichatfree._call_plan import (
    CallPlan,
    RouterCache,
    plan_call,
    pool_router,
)
from langchain_aichatfree._model_settings import ModelSettings
from langchain_aichatfree._router import Router
from langchain_aichatfree._sessions import SessionPool

if TYPE_CHECKING:
    from langchain_core.rate_limiters import BaseRateLimiter

    from langchain_aichatfree._protocol import Turn


class ModelConnections(ModelSettings):
    """The settings, with the HTTP sessions and router they describe.

    Made on first use (no I/O until a call), closed by `close` or `aclose`
    (the model stays usable: new calls reopen).
    """

    _sessions: SessionPool = PrivateAttr(default_factory=SessionPool)
    _router: RouterCache | None = PrivateAttr(default=None)

    def _get_router(self) -> Router:
        """The deployments and quota store, made on first use (no I/O)."""
        self._router = pool_router(self, self._router)
        return self._router[1]

    def _plan_call(
        self,
        turns: Sequence[Turn],
        stop: list[str] | None,
        kwargs: Mapping[str, Any],
        *,
        rate_limiter: BaseRateLimiter | None = None,
    ) -> CallPlan:
        """Check and convert everything a call needs, before any I/O.

        Args:
            turns: The conversation, one turn per message.
            stop: The call's stop sequences (``None``: the settings').
            kwargs: The call's other keyword arguments.
            rate_limiter: The model's rate limiter, if any.

        Returns:
            The plan (`plan_call`), routed by these settings' router.
        """
        router = self._get_router()
        return plan_call(self, turns, stop, kwargs, router, rate_limiter=rate_limiter)

    def _run(self, plan: CallPlan) -> PlannedCall:
        """A planned call over these HTTP sessions (`stream` or `collect` runs it).

        Args:
            plan: The call's plan.

        Returns:
            The call.
        """
        return PlannedCall(self._sessions, plan)

    async def aquota_status(self) -> list[dict[str, Any]]:
        """The quota state of each deployment, as the store has it now.

        Returns:
            One dict per deployment, in the pool's order: ``base_url`` (no
            credentials), ``quota_group``, ``cooling_until`` (epoch seconds, or
            ``None``), ``reason`` (why it cools or is out), ``rpm_used`` and
            ``rpd_used`` (requests counted in the current minute and day).
        """
        return await self._get_router().status()

    def quota_status(self) -> list[dict[str, Any]]:
        """`aquota_status` from synchronous code.

        Returns:
            One dict per deployment (see `aquota_status`).
        """
        return _sync.run(self.aquota_status())

    # -- lifecycle ------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the model's HTTP sessions (it stays usable: new calls reopen).

        This loop's connections to a Redis quota store are closed too.
        """
        await self._sessions.aclose()
        if self._router is not None:
            await self._router[1].store.aclose()

    def close(self) -> None:
        """Close the model's HTTP sessions from synchronous code."""
        self._sessions.close()
        if self._router is not None:
            _sync.run(self._router[1].store.aclose())

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
