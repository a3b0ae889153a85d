"""tui.core.fleet: references, health states, the merged list, and one profile's
trouble never holding up the others (fake clients; the api tests use real servers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest

from tui.core import errors, fleet
from tui.core.config import Profile
from tui.core.models import Batch, RequestCounts

NOW = 1_767_225_600


def batch(batch_id: str, created: int, status: str = "completed", **kw: object) -> Batch:
    base = Batch(
        id=batch_id,
        status=status,
        endpoint="/v1/chat/completions",
        input_file_id="file-1",
        created_at=created,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


class FakeClient:
    """Lists ``pages`` (or raises ``error``, or waits on ``gate`` first)."""

    def __init__(
        self,
        pages: list[list[Batch]] | None = None,
        error: errors.ApiError | None = None,
        gate: asyncio.Event | None = None,
    ) -> None:
        self.pages = pages or []
        self.error = error
        self.gate = gate
        self.calls = 0
        self.closed = False

    async def iter_batch_pages(self) -> AsyncIterator[list[Batch]]:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        for page in self.pages:
            yield page

    async def retrieve_batch(self, batch_id: str) -> Batch:
        for page in self.pages:
            for item in page:
                if item.id == batch_id:
                    return item
        raise errors.NotFoundError(f"no {batch_id}")

    async def close(self) -> None:
        self.closed = True


def factory(clients: dict[str, FakeClient]) -> Callable[[Profile], FakeClient]:
    return lambda profile: clients[profile.name]


def test_split_ref_reads_profile_prefixes_and_names_the_known_profiles() -> None:
    names = ["work", "azure"]
    assert fleet.split_ref("batch_abc", names) == (None, "batch_abc")
    assert fleet.split_ref("azure:batch_abc", names) == ("azure", "batch_abc")
    with pytest.raises(fleet.RefError, match=r"no profile named 'home' \(profiles: azure, work\)"):
        fleet.split_ref("home:batch_abc", names)
    with pytest.raises(fleet.RefError, match="no batch id"):
        fleet.split_ref("work:", names)


def test_errors_map_to_health_states(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = Profile("work", base_url="http://127.0.0.1:1/v1", api_key_env="FLEET_TEST_KEY")
    monkeypatch.delenv("FLEET_TEST_KEY", raising=False)
    assert fleet.state_of(errors.AuthError("401"), profile) == fleet.NO_KEY
    monkeypatch.setenv("FLEET_TEST_KEY", "sk-x")
    assert fleet.state_of(errors.AuthError("401"), profile) == fleet.AUTH_REFUSED
    assert fleet.state_of(errors.RateLimitedError("429"), profile) == fleet.RATE_LIMITED
    assert fleet.state_of(errors.NetworkError("down"), profile) == fleet.UNREACHABLE
    assert fleet.state_of(errors.ServerError("500"), profile) == fleet.SERVER_ERROR
    assert fleet.state_of(errors.RequestError("400"), profile) == fleet.REFUSED


def test_in_flight_counts_undone_requests_of_active_batches_only() -> None:
    running = batch("a", NOW, "in_progress", request_counts=RequestCounts(10, 3, 2))
    done = batch("b", NOW, "completed", request_counts=RequestCounts(10, 8, 2))
    validating = batch("c", NOW, "validating")
    assert fleet.in_flight([running, done, validating]) == 5


def test_a_feed_keeps_since_while_the_state_holds_and_backs_off_on_failure() -> None:
    clock = iter(range(100, 200)).__next__
    client = FakeClient([[batch("a", NOW, "in_progress", request_counts=RequestCounts(4, 1))]])
    feed = fleet.ProfileFeed(
        Profile("p"), client_factory=lambda _p: client, clock=lambda: float(clock())
    )

    async def go() -> None:
        assert await feed.poll() == fleet.ACTIVE_INTERVAL
        first = feed.health
        assert (first.state, first.active, first.in_flight) == (fleet.OK, 1, 3)
        await feed.poll()
        assert feed.health.since == first.since  # still ok: since when it became ok
        client.error = errors.ServerError("Server error (500): boom")
        delays = [await feed.poll(), await feed.poll()]
        assert delays[1] > delays[0]
        assert feed.health.state == fleet.SERVER_ERROR and feed.health.failures == 2
        assert feed.health.since != first.since and "boom" in feed.health.reason
        assert list(feed.batches) == ["a"]  # what was seen stays on show

    asyncio.run(go())


def test_rows_merge_newest_first_and_keep_same_ids_apart() -> None:
    clients = {
        "one": FakeClient([[batch("batch_x", NOW - 10), batch("batch_old", NOW - 99)]]),
        "two": FakeClient([[batch("batch_new", NOW), batch("batch_x", NOW - 20)]]),
    }
    group = fleet.Fleet([Profile("one"), Profile("two")], client_factory=factory(clients))

    async def go() -> None:
        for feed in group.feeds.values():
            await feed.poll()

    asyncio.run(go())
    assert [row.ref for row in group.rows()] == [
        "two:batch_new",
        "one:batch_x",
        "two:batch_x",
        "one:batch_old",
    ]


def test_a_hung_and_a_failing_profile_do_not_hold_up_the_others() -> None:
    gate = asyncio.Event()  # the slow profile answers only when the test says so
    clients = {
        "slow": FakeClient([[batch("batch_s", NOW - 5)]], gate=gate),
        "broken": FakeClient(error=errors.NetworkError("Cannot reach the server")),
        "fine": FakeClient([[batch("batch_f", NOW)]]),
    }
    changes: list[str] = []
    group = fleet.Fleet(
        [Profile(name) for name in clients],
        client_factory=factory(clients),
        changed=changes.append,
        backoff_steps=(0.001,),
    )

    async def until(condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not condition():
                await asyncio.sleep(0.001)

    async def go() -> None:
        task = asyncio.create_task(group.run())
        await until(lambda: clients["broken"].calls >= 3 and bool(group.rows()))
        states = {h.profile: h.state for h in group.health()}
        assert states == {"slow": fleet.WAITING, "broken": fleet.UNREACHABLE, "fine": fleet.OK}
        assert [row.ref for row in group.rows()] == ["fine:batch_f"]
        gate.set()
        await until(lambda: len(group.rows()) == 2)
        assert [row.ref for row in group.rows()] == ["fine:batch_f", "slow:batch_s"]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await group.close()

    asyncio.run(go())
    assert "slow" in changes and all(client.closed for client in clients.values())


def test_list_profiles_reports_each_failure_and_keeps_the_rest() -> None:
    clients = {
        "a": FakeClient([[batch("batch_a", NOW - 1, "in_progress")]]),
        "b": FakeClient(error=errors.RateLimitedError("Rate limited by the server: slow")),
    }

    def make(profile: Profile) -> FakeClient:
        if profile.name == "nokey":
            raise errors.AuthError("No API key: set NOKEY (profile 'nokey').")
        return clients[profile.name]

    async def collect(client: FakeClient) -> list[Batch]:
        return [b async for page in client.iter_batch_pages() for b in page]

    profiles = [Profile("a"), Profile("b"), Profile("nokey", api_key_env="FLEET_NO_SUCH_KEY")]
    listing = asyncio.run(fleet.list_profiles(profiles, collect, client_factory=make))  # type: ignore[arg-type]
    assert [row.ref for row in listing.rows] == ["a:batch_a"]
    assert [(h.profile, h.state) for h in listing.failed] == [
        ("b", fleet.RATE_LIMITED),
        ("nokey", fleet.NO_KEY),
    ]
    assert listing.health[0].active == 1 and clients["b"].closed
