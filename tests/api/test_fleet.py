"""The fleet view against real servers: three embedded servers as profiles (one
fast, one slow, one failing), plus a profile without its key and one whose server is
gone. The combined list is complete and newest first, a failing profile is reported
and retried without holding up the others, and PROFILE:BATCH_ID reaches the right
server from ``show``, ``cancel``, ``results`` and ``watch``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import openai
import pytest

from tests.api._cli import run
from tests.api.conftest import API_KEY, MakeServer, chat_lines, make_client, submit
from tui.core import fleet, paths
from tui.core.client import BatchClient
from tui.core.config import Profile, load_config
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer

Capsys = pytest.CaptureFixture[str]
START = 1_767_225_600.0
KEYS = {"fast": "FLEET_KEY_FAST", "slow": "FLEET_KEY_SLOW", "broken": "FLEET_KEY_BROKEN"}


@dataclass
class Site:
    """One profile's server, the SDK pointed at it, and the batches made there."""

    server: LocalServer
    sdk: openai.OpenAI
    batch_ids: list[str]

    def advance(self, seconds: float) -> None:
        self.server.advance(seconds)


def write_config(profiles: dict[str, dict[str, str]]) -> None:
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = []
    for name, fields in profiles.items():
        text.append(f"[profiles.{name}]")
        text.extend(f'{key} = "{value}"' for key, value in fields.items())
    path.write_text("\n".join(text) + "\n", encoding="utf-8")


@pytest.fixture
def sites(make_server: MakeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Site]]:
    """fast: batches at START and START+300; slow: START+100; broken: START+200 (its
    list answers 500 from now on). Profiles fast, slow, broken, plus ``nokey`` (the
    fast server, its key variable empty)."""
    made: dict[str, Site] = {}
    for offset, name in ((0, "fast"), (100, "slow"), (200, "broken")):
        server = make_server(clock=ManualClock(START + offset))
        made[name] = Site(server, make_client(server, max_retries=0), [])
        made[name].batch_ids.append(submit(made[name].sdk, chat_lines(2)).id)
        monkeypatch.setenv(KEYS[name], API_KEY)
    made["fast"].advance(300)
    made["fast"].batch_ids.append(submit(made["fast"].sdk, chat_lines(3)).id)
    made["broken"].server.faults.add("500", times=None, path="/v1/batches*", retry_after=0.01)
    monkeypatch.delenv("FLEET_KEY_NONE", raising=False)
    write_config(
        {
            **{
                name: {"base_url": site.server.base_url, "api_key_env": KEYS[name]}
                for name, site in made.items()
            },
            "nokey": {"base_url": made["fast"].server.base_url, "api_key_env": "FLEET_KEY_NONE"},
        }
    )
    yield made
    for site in made.values():
        site.sdk.close()


def newest_first(sites: dict[str, Site], names: tuple[str, ...]) -> list[tuple[str, str]]:
    """(profile, id) of the named sites' batches in the order the fleet must list them."""
    created = {
        (name, batch_id): site.sdk.batches.retrieve(batch_id).created_at
        for name, site in sites.items()
        if name in names
        for batch_id in site.batch_ids
    }
    return sorted(created, key=lambda ref: -created[ref])


def test_ls_all_profiles_lists_every_profile_newest_first_and_reports_the_failing(
    sites: dict[str, Site], capsys: Capsys
) -> None:
    sites["slow"].server.faults.add("latency", delay=0.2, times=None)
    ran = run(capsys, "ls", "--all-profiles", "--json")
    assert ran.code == 0, ran.err
    expected = newest_first(sites, ("fast", "slow"))
    assert [(row["profile"], row["id"]) for row in ran.json_lines()] == expected
    errors = ran.err.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("batchdeck: profile broken: server error: Server error (500)")
    assert errors[1].startswith("batchdeck: profile nokey: no key: ")
    assert API_KEY not in ran.err

    table = run(capsys, "ls", "--all-profiles")
    assert table.code == 0
    header, *rows = table.out.splitlines()
    assert header.split()[:2] == ["PROFILE", "ID"]
    assert [tuple(row.split()[:2]) for row in rows] == expected


def test_ls_all_profiles_fails_only_when_every_profile_does(
    sites: dict[str, Site], capsys: Capsys
) -> None:
    broken = sites["broken"].server.base_url
    write_config({"broken": {"base_url": broken, "api_key_env": KEYS["broken"]}})
    ran = run(capsys, "ls", "--all-profiles")
    assert (ran.code, ran.out) == (1, "")
    assert "profile broken: server error" in ran.err
    slow = sites["slow"].server.base_url
    write_config({"nokey": {"base_url": slow, "api_key_env": "FLEET_KEY_NONE"}})
    ran = run(capsys, "ls", "--all-profiles")
    assert ran.code == 2 and "profile nokey: no key" in ran.err


def no_retries(profile: Profile) -> BatchClient:
    return BatchClient(profile, max_retries=0)


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def test_the_fleet_polls_each_profile_on_its_own(
    sites: dict[str, Site], make_server: MakeServer
) -> None:
    gone = make_server()
    gone_url = gone.base_url
    gone.stop()  # a server that was there and is not any more
    config = load_config()
    profiles = [*config.profiles.values(), Profile("gone", base_url=gone_url)]
    broken_faults = sites["broken"].server.faults
    sites["slow"].server.faults.add("latency", delay=1.5, times=1)  # only its first answer
    group = fleet.Fleet(profiles, client_factory=no_retries, backoff_steps=(0.01,))

    def states() -> dict[str, str]:
        return {health.profile: health.state for health in group.health()}

    def refs() -> list[tuple[str, str]]:
        return [(row.profile, row.batch.id) for row in group.rows()]

    async def go() -> None:
        task = asyncio.create_task(group.run())
        try:
            # the others are answered and the broken one retried while the slow one waits
            await until(lambda: len(broken_faults.fired) >= 3 and states()["gone"] != "waiting")
            assert states() == {
                "fast": fleet.OK,
                "slow": fleet.WAITING,
                "broken": fleet.SERVER_ERROR,
                "nokey": fleet.NO_KEY,
                "gone": fleet.UNREACHABLE,
            }
            assert refs() == newest_first(sites, ("fast",))
            broken = {h.profile: h for h in group.health()}["broken"]
            assert "Server error (500)" in broken.reason and broken.failures >= 2
            await until(lambda: states()["slow"] == fleet.OK)
            assert refs() == newest_first(sites, ("fast", "slow"))
            fast = {h.profile: h for h in group.health()}["fast"]
            assert (fast.active, fast.in_flight) == (1, 0)  # validating: no counts yet

            broken_faults.clear()  # the broken server recovers: its batch joins in order
            await until(lambda: states()["broken"] == fleet.OK)
            assert refs() == newest_first(sites, ("fast", "slow", "broken"))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await group.close()

    asyncio.run(go())


def test_profile_refs_reach_the_right_server(sites: dict[str, Site], capsys: Capsys) -> None:
    _, fast_new = sites["fast"].batch_ids
    (slow_id,) = sites["slow"].batch_ids

    shown = run(capsys, "show", f"slow:{slow_id}", "--json")
    assert shown.code == 0, shown.err
    assert shown.json_lines()[0]["id"] == slow_id
    elsewhere = run(capsys, "show", f"fast:{slow_id}")
    assert elsewhere.code == 1 and "unknown batch" in elsewhere.err
    unknown = run(capsys, "show", f"home:{slow_id}")
    assert unknown.code == 2 and "no profile named 'home'" in unknown.err
    clash = run(capsys, "show", f"slow:{slow_id}", "--profile", "fast")
    assert clash.code == 2 and "--profile" in clash.err

    cancelled = run(capsys, "cancel", f"fast:{fast_new}", "--yes")
    assert cancelled.code == 0, cancelled.err
    assert sites["fast"].sdk.batches.retrieve(fast_new).status == "cancelling"
    assert sites["slow"].sdk.batches.retrieve(slow_id).status == "validating"

    sites["slow"].advance(3600)  # the slow server's batch completes
    results = run(capsys, "results", f"slow:{slow_id}", "--json")
    assert results.code == 0, results.err
    assert sorted(row["custom_id"] for row in results.json_lines()) == ["req-0", "req-1"]


def test_watch_follows_batches_of_several_profiles(sites: dict[str, Site], capsys: Capsys) -> None:
    fast_old, _ = sites["fast"].batch_ids
    (slow_id,) = sites["slow"].batch_ids
    sites["fast"].advance(3600)
    sites["slow"].advance(3600)
    ran = run(
        capsys, "watch", f"fast:{fast_old}", f"slow:{slow_id}", "--json", "--interval", "0.01s"
    )
    assert ran.code == 0, ran.err
    final = {(event["profile"], event["id"]): event["status"] for event in ran.json_lines()}
    assert final == {("fast", fast_old): "completed", ("slow", slow_id): "completed"}

    plain = run(capsys, "watch", f"slow:{slow_id}", "--interval", "0.01s")
    assert plain.code == 0 and f"  slow:{slow_id}  completed  2/2" in plain.out
    unknown = run(capsys, "watch", f"home:{slow_id}")
    assert unknown.code == 2 and "no profile named 'home'" in unknown.err


def test_an_anthropic_profile_joins_the_list(
    sites: dict[str, Site], make_server: MakeServer, capsys: Capsys
) -> None:
    """Each profile is read through its provider's client: Claude's message batches
    list beside OpenAI's, newest first."""
    import anthropic

    claude = make_server(clock=ManualClock(START + 250), dialect="anthropic")
    params = {
        "model": "claude-haiku-4-5",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "x"}],
    }
    with anthropic.Anthropic(base_url=claude.url, api_key=API_KEY, max_retries=0) as sdk:
        message_batch = sdk.messages.batches.create(
            requests=[{"custom_id": "c0", "params": params}]  # type: ignore[list-item]
        )
    fast = sites["fast"].server.base_url
    write_config(
        {
            "fast": {"base_url": fast, "api_key_env": KEYS["fast"]},
            "claude": {
                "provider": "anthropic",
                "base_url": claude.url,
                "api_key_env": KEYS["slow"],
            },
        }
    )
    ran = run(capsys, "ls", "--all-profiles", "--json")
    assert ran.code == 0, ran.err
    fast_old, fast_new = sites["fast"].batch_ids
    assert [(row["profile"], row["id"]) for row in ran.json_lines()] == [
        ("fast", fast_new),
        ("claude", message_batch.id),
        ("fast", fast_old),
    ]
