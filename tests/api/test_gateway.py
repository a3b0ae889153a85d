"""``serve --upstream URL --upstream URL ...``: one batch spread over several model
servers (small aiohttp servers on 127.0.0.1, see ``_upstreams``), through the real SDK.

Each line's marker is its first message's text; the upstreams count requests by
marker, and the output, joined by custom_id, must hold every line exactly once.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.api._cli import serving
from tests.api._upstreams import FakeUpstream, wait_until
from tests.api.conftest import MakeServer, chat_line, make_client, read_lines, submit, wait_for
from tui.commands import serve
from tui.localapi import upstreams
from tui.localapi.clock import Timing
from tui.localapi.server import LocalServer
from tui.localapi.upstreams import Outcome, UpstreamPool

FRONT_SCALE = 1000  # the 24 h window lasts 86 s of real time: no batch expires here
AT_ONCE = Timing(validation=1, per_request=0, finalizing=1, cancelling=1)
REPO = Path(__file__).resolve().parents[2]
MakeUpstream = Callable[..., FakeUpstream]


@pytest.fixture
def make_upstream() -> Iterator[MakeUpstream]:
    started: list[FakeUpstream] = []

    def make(name: str, **kwargs: Any) -> FakeUpstream:
        upstream = FakeUpstream(name, **kwargs).start()
        started.append(upstream)
        return upstream

    yield make
    for upstream in started:
        upstream.stop()


def front(make_server: MakeServer, *ups: FakeUpstream, **kwargs: Any) -> LocalServer:
    kwargs.setdefault("upstream_concurrency", 2)
    return make_server(
        time_scale=FRONT_SCALE,
        timing=AT_ONCE,
        upstream=[u.base_url for u in ups],
        **kwargs,
    )


def lines(count: int) -> list[dict[str, Any]]:
    return [chat_line(f"l{i}", f"line-{i}") for i in range(count)]


def run_batch(server: LocalServer, count: int) -> tuple[Any, dict[str, dict[str, Any]]]:
    """Submit ``count`` lines, wait for the end; the batch and its lines by custom_id
    (asserting that each custom_id came back exactly once, with its own answer)."""
    with make_client(server) as client:
        done = wait_for(client, submit(client, lines(count)).id, timeout=60)
        got = [
            x for f in (done.output_file_id, done.error_file_id) if f for x in read_lines(client, f)
        ]
    seen = Counter(x["custom_id"] for x in got)
    assert set(seen) == {f"l{i}" for i in range(count)} and set(seen.values()) == {1}
    by_id = {x["custom_id"]: x for x in got}
    for custom_id, line in by_id.items():
        if line["response"] and line["response"]["status_code"] == 200:
            text = line["response"]["body"]["choices"][0]["message"]["content"]
            assert text.startswith(f"line-{custom_id[1:]} by ")
    return done, by_id


def answered_by(by_id: dict[str, dict[str, Any]]) -> Counter[str]:
    """Lines in the output by the upstream that answered them."""
    return Counter(
        x["response"]["body"]["choices"][0]["message"]["content"].rsplit(" by ", 1)[1]
        for x in by_id.values()
        if x["response"] and x["response"]["status_code"] == 200
    )


def test_lines_are_spread_over_every_upstream(
    make_server: MakeServer, make_upstream: MakeUpstream
) -> None:
    ups = [make_upstream(name, delay=0.01) for name in ("a", "b", "c")]
    done, by_id = run_batch(front(make_server, *ups), 90)
    assert done.status == "completed" and done.request_counts.completed == 90
    shares = answered_by(by_id)
    assert sum(shares.values()) == 90 and all(shares[u.name] >= 15 for u in ups), shares
    for upstream in ups:
        assert upstream.most_inflight <= 2  # --upstream-concurrency 2
        assert sum(upstream.answered().values()) == shares[upstream.name]


def test_an_upstream_killed_mid_batch_leaves_its_lines_to_the_others(
    make_server: MakeServer, make_upstream: MakeUpstream
) -> None:
    a, b = make_upstream("a", delay=0.02), make_upstream("b", delay=0.02)
    server = front(make_server, a, b, upstream_concurrency=4)
    with make_client(server) as client:
        batch = submit(client, lines(120))
        wait_until(lambda: a.requests() >= 10)
        a.kill()
        done = wait_for(client, batch.id, timeout=60)
    assert done.status == "completed" and done.request_counts.completed == 120
    assert done.request_counts.failed == 0
    _, by_id = run_batch_result(server, done)
    shares = answered_by(by_id)
    # a answered 10 or more; up to 4 of those (its concurrency) may have been cut off
    assert shares["a"] >= 10 - 4 and shares["b"] >= 60 and shares["a"] + shares["b"] == 120
    pool = server.engine.executor.pool  # type: ignore[attr-defined]
    assert pool.upstreams[0].out  # taken out after failing, not yet back


def test_lines_wait_out_an_outage_of_every_upstream(
    make_server: MakeServer, make_upstream: MakeUpstream
) -> None:
    a = make_upstream("a", delay=0.01)
    server = front(make_server, a)
    pool = server.engine.executor.pool  # type: ignore[attr-defined]
    pool.cooldown = 0.2  # a quick probe after the outage starts
    with make_client(server) as client:
        batch = submit(client, lines(40))
        wait_until(lambda: a.requests() >= 5)
        a.kill()
        wait_until(lambda: pool.outage_since is not None)
        back = make_upstream("a-again", port=a.port)
        done = wait_for(client, batch.id, timeout=60)
    assert done.request_counts.completed == 40 and done.request_counts.failed == 0
    assert back.requests() > 0 and pool.outage_since is None


def run_batch_result(server: LocalServer, done: Any) -> tuple[Any, dict[str, dict[str, Any]]]:
    with make_client(server) as client:
        got = [
            x for f in (done.output_file_id, done.error_file_id) if f for x in read_lines(client, f)
        ]
    assert Counter(x["custom_id"] for x in got).most_common(1)[0][1] == 1
    return done, {x["custom_id"]: x for x in got}


def test_a_429_pauses_that_upstream_for_its_retry_after(
    make_server: MakeServer, make_upstream: MakeUpstream
) -> None:
    a = make_upstream("a", delay=0.02, limited=2, retry_after="0.3")
    b = make_upstream("b", delay=0.02)  # 80 lines take b alone 0.8 s at least: a comes back
    done, by_id = run_batch(front(make_server, a, b), 80)
    assert done.request_counts.completed == 80 and done.request_counts.failed == 0
    seen = a.snapshot()
    assert [x.status for x in seen[:2]] == [429, 429]
    last_429 = max(x.at for x in seen if x.status == 429)
    later = [x.at for x in seen if x.status == 200]
    assert later and min(later) >= last_429 + 0.3  # nothing sent to a while it was paused
    assert answered_by(by_id)["a"] == len(later)


def test_an_upstream_that_keeps_limiting_gets_no_more_lines(
    make_server: MakeServer, make_upstream: MakeUpstream
) -> None:
    a = make_upstream("a", limited=10_000, retry_after="3600")
    b = make_upstream("b", delay=0.005)
    done, by_id = run_batch(front(make_server, a, b), 40)
    assert done.request_counts.completed == 40
    assert answered_by(by_id) == {"b": 40}
    assert a.requests() <= 2  # the first ones in flight at once; then paused an hour


def test_a_slow_upstream_gets_fewer_lines(
    make_server: MakeServer, make_upstream: MakeUpstream
) -> None:
    slow, fast = make_upstream("slow", delay=1.0), make_upstream("fast", delay=0.0)
    done, by_id = run_batch(front(make_server, slow, fast, upstream_concurrency=4), 60)
    assert done.request_counts.completed == 60
    shares = answered_by(by_id)
    assert shares["slow"] * 3 < shares["fast"], shares


def test_lines_that_keep_failing_get_an_error_line_and_the_batch_goes_on(
    make_server: MakeServer, make_upstream: MakeUpstream
) -> None:
    a = make_upstream("a", limited=10_000, retry_after="0")
    done, by_id = run_batch(front(make_server, a, upstream_retries=2), 3)
    assert done.status == "completed" and done.request_counts.failed == 3
    assert {x["response"]["status_code"] for x in by_id.values()} == {429}
    assert a.requests() == 9  # three attempts a line


def test_progress_moves_line_by_line(make_server: MakeServer, make_upstream: MakeUpstream) -> None:
    a = make_upstream("a", held=True)
    server = front(make_server, a, upstream_concurrency=1)
    with make_client(server) as client:
        batch = submit(client, lines(4))
        for finished in range(1, 5):
            wait_until(lambda: a.inflight == 1)
            a.release()

            def counted(n: int = finished) -> bool:
                counts = client.batches.retrieve(batch.id).request_counts
                return counts is not None and counts.completed == n

            wait_until(counted)
        assert wait_for(client, batch.id).status == "completed"


def test_the_upstream_key_is_sent_and_never_logged(
    make_server: MakeServer, make_upstream: MakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    a = make_upstream("a")
    caplog.set_level(logging.DEBUG)
    server = front(make_server, a, upstream_api_key="sk-upstream-secret", access_log=True)
    run_batch(server, 3)
    assert {x.authorization for x in a.snapshot()} == {"Bearer sk-upstream-secret"}
    assert "sk-upstream-secret" not in caplog.text


def test_upstream_key_env_reads_the_environment_and_refuses_an_empty_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_VLLM_KEY", "sk-from-env")
    assert serve.upstream_key("MY_VLLM_KEY") == "sk-from-env"
    monkeypatch.setenv("MY_VLLM_KEY", " ")
    with pytest.raises(ValueError, match="MY_VLLM_KEY is empty or not set"):
        serve.upstream_key("MY_VLLM_KEY")
    monkeypatch.delenv("MY_VLLM_KEY")
    with pytest.raises(ValueError, match="MY_VLLM_KEY"):
        serve.upstream_key("MY_VLLM_KEY")
    monkeypatch.setenv(serve.UPSTREAM_KEY_ENV, "sk-default")
    assert serve.upstream_key(None) == "sk-default"
    assert serve.DEFAULT_CONCURRENCY == upstreams.DEFAULT_CONCURRENCY


def test_serve_refuses_an_empty_key_variable_and_a_bad_url(tmp_path: Path) -> None:
    def serve_with(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tui.cli", "serve", "--data-dir", str(tmp_path), *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "EMPTY_KEY": ""},
        )

    done = serve_with("--upstream", "http://127.0.0.1:9/v1", "--upstream-key-env", "EMPTY_KEY")
    assert done.returncode == 2
    assert "--upstream-key-env EMPTY_KEY: the environment variable EMPTY_KEY is empty" in (
        done.stderr
    )
    done = serve_with("--upstream", "ftp://u:secret@h/v1")
    assert done.returncode == 2 and "not an http(s) URL" in done.stderr
    assert "secret" not in done.stderr


def test_stats_say_requests_latency_and_errors_per_upstream(
    make_server: MakeServer, make_upstream: MakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    a = make_upstream("a", limited=1, retry_after="0")
    b = make_upstream("b")
    caplog.set_level(logging.INFO, logger="tui.localapi.upstreams")
    server = front(make_server, a, b, upstream_stats_interval=0.05)
    run_batch(server, 20)
    wait_until(lambda: "429: 1" in caplog.text)
    shown = [r.getMessage() for r in caplog.records if r.getMessage().startswith("upstream ")]
    assert any(a.base_url in x and "req/s" in x and "latency avg" in x for x in shown)
    assert any(b.base_url in x and "0 errors" in x for x in shown)


async def test_a_pool_takes_failing_upstreams_out_and_fails_fast_after_a_long_outage() -> None:
    now = [100.0]
    pool = UpstreamPool(
        ["http://127.0.0.1:9/v1", "http://u:pw@127.0.0.1:10/v1"],
        concurrency=2,
        cooldown=5.0,
        max_outage=30.0,
        stats_interval=0,
        clock=lambda: now[0],
    )
    a, b = pool.upstreams
    assert b.name == "http://127.0.0.1:10/v1"  # no password in logs
    for _ in range(upstreams.FAILURE_THRESHOLD):
        got = await pool.acquire(avoid=b)
        assert got is a
        pool.release(a, Outcome.SERVER_ERROR, now[0])
    assert a.out and a.open_until == 105.0 and pool.outage_since is None
    assert await pool.acquire() is b  # a is out: b even when b is "avoided"
    assert await pool.acquire(avoid=b) is b
    pool.release(b, Outcome.RATE_LIMITED, now[0], retry_after=2.0)
    assert b.paused_until == 102.0 and b.limit == 1
    report = pool.report()
    assert len(report) == 2 and "5xx: 5" in report[0] and "429: 1" in report[1]
    assert pool.report() == []  # no traffic since: no line
    pool.release(b, Outcome.OK, now[0])  # b's second request
    for _ in range(upstreams.FAILURE_THRESHOLD):
        now[0] = max(now[0], b.paused_until)
        assert await pool.acquire() is b
        pool.release(b, Outcome.UNREACHABLE, now[0])
    assert b.out and pool.outage_since == 102.0
    now[0] = 102.0 + 30.0  # both out for max_outage: lines fail at once
    assert await pool.acquire() is None
    await pool.close()


def test_serve_runs_a_batch_over_two_upstreams_with_the_key_from_the_environment(
    tmp_path: Path, make_upstream: MakeUpstream
) -> None:
    a, b = make_upstream("a"), make_upstream("b")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "MY_UPSTREAM_KEY": "sk-fleet-key"}
    args = ["--port", "0", "--data-dir", str(tmp_path / "data"), "--upstream-concurrency", "3"]
    args += ["--upstream", a.base_url, "--upstream", b.base_url]
    log = (tmp_path / "serve.log").open("w")  # a pipe not read would fill and stop serve
    with (
        log,
        serving(*args, "--upstream-key-env", "MY_UPSTREAM_KEY", env=env, stderr=log) as served,
    ):
        with openai.OpenAI(base_url=served.url, api_key="any", max_retries=0) as client:
            done = wait_for(client, submit(client, lines(12)).id, timeout=60)
        assert done.status == "completed" and done.request_counts.completed == 12
    out = served.out
    err = (tmp_path / "serve.log").read_text()
    shown = served.shown
    assert f"upstream:   {a.base_url} (x3)" in shown and f"upstream:   {b.base_url} (x3)" in shown
    assert "sk-fleet-key" not in shown + out + err
    auth = {x.authorization for u in (a, b) for x in u.snapshot()}
    assert auth == {"Bearer sk-fleet-key"}
    assert set(a.answered()) | set(b.answered()) == {f"line-{i}" for i in range(12)}
    assert LocalServer(tmp_path / "x", upstream=a.base_url).timing.per_request == 0
