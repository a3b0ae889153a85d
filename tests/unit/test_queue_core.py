"""The queue's core, offline: token limits (configured and learned), splitting by
tokens, enqueueing parts, and what the queue view says about them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tui.core.config import ConfigError, Profile, load_config, save_config
from tui.core.journal import Journal
from tui.core.queue import drop, enqueue_file, pause, queue_dir, queue_view, resume
from tui.core.queue_limits import LimitBook, LimitBookError, limit_for
from tui.core.queue_view import IN_FLIGHT, WAITING, groups_of
from tui.core.registry import Registry
from tui.core.request_split import TOO_MANY_TOKENS, split_counted
from tui.core.requests import SplitError
from tui.core.tokens import counter_for, encoding_for_model, request_input_tokens

CHAT = "/v1/chat/completions"
MODEL = "gpt-4o-mini"


def chat(i: int, text: str = "Summarise the ticket: the parcel is late.") -> dict[str, Any]:
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
    return {"custom_id": f"r{i}", "method": "POST", "url": CHAT, "body": body}


def line_tokens(text: str = "Summarise the ticket: the parcel is late.") -> int:
    body = chat(0, text)["body"]
    return request_input_tokens(CHAT, body, counter_for(encoding_for_model(MODEL)))


def write(path: Path, objs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(obj) + "\n" for obj in objs), encoding="utf-8")
    return path


class NoClient:
    """Enqueueing sends nothing: any call is a bug."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"enqueue called the API ({name})")


def journal_for(tmp_path: Path, profile: Profile | None = None) -> Journal:
    profile = profile or Profile("work", base_url="http://127.0.0.1:9/v1")
    return Journal(Registry(tmp_path / "jobs", durable=False), NoClient(), profile)  # type: ignore[arg-type]


# -- limits -----------------------------------------------------------------------------


def test_token_limits_are_read_from_the_profile(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[profiles.work]\napi_key_env = "K"\n\n'
        '[profiles.work.token_limits]\n"gpt-4o-mini" = 2000000\n"gpt-4.1" = 900000\n'
    )
    config = load_config(path)
    assert config.profile("work").token_limits == {"gpt-4o-mini": 2_000_000, "gpt-4.1": 900_000}
    config.settings["theme"] = "x"  # a save keeps the limits table as it was
    save_config(config)
    assert '"gpt-4o-mini" = 2000000' in path.read_text()
    assert load_config(path).profile("work").token_limits["gpt-4.1"] == 900_000


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('token_limits = "lots"', "must be a table"),
        ('[profiles.work.token_limits]\n"gpt-4o-mini" = -5', "'gpt-4o-mini' must be a positive"),
        ('[profiles.work.token_limits]\n"gpt-4o-mini" = "2M"', "positive whole number"),
    ],
)
def test_a_bad_token_limit_names_the_file_table_and_model(
    tmp_path: Path, table: str, expected: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[profiles.work]\napi_key_env = "K"\n{table}\n')
    with pytest.raises(ConfigError, match=expected) as caught:
        load_config(path)
    assert str(path) in str(caught.value) and "profiles.work" in str(caught.value)


def test_learned_limits_only_go_down_and_the_lower_limit_wins(tmp_path: Path) -> None:
    book = LimitBook(tmp_path / "q")
    assert book.learned("work", MODEL) is None
    assert book.learn("work", MODEL, 5000, "batch_a")
    assert not book.learn("work", MODEL, 7000, "batch_b")  # a higher figure teaches nothing
    assert book.learn("work", MODEL, 4000, "batch_c")
    learned = book.learned("work", MODEL)
    assert learned is not None and (learned.tokens, learned.batch_id) == (3999, "batch_c")
    assert (tmp_path / "q" / "limits.toml").stat().st_mode & 0o777 == 0o600
    plain = Profile("work")
    assert limit_for(plain, MODEL, None).source == "unknown"
    assert limit_for(plain, MODEL, learned).tokens == 3999
    configured = Profile("work", token_limits={MODEL: 3000})
    assert limit_for(configured, MODEL, learned).source == "configured"
    higher = Profile("work", token_limits={MODEL: 9000})
    limit = limit_for(higher, MODEL, learned)
    assert (limit.tokens, limit.source, limit.configured) == (3999, "learned", 9000)
    assert limit.fits(0, 10_000)  # nothing in flight: a part may always go
    assert limit.fits(1000, 2999) and not limit.fits(1000, 3000)


def test_a_broken_limits_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "limits.toml").write_text('[work."gpt-4o-mini"]\nbelow = "lots"\n')
    with pytest.raises(LimitBookError, match=r"limits\.toml.*below"):
        LimitBook(tmp_path).read()


# -- split by tokens --------------------------------------------------------------------


def test_split_by_tokens_keeps_every_line_once_in_order(tmp_path: Path) -> None:
    each = line_tokens()
    src = write(tmp_path / "in.jsonl", [chat(i) for i in range(10)])
    parts = split_counted(src, tmp_path / "out", endpoint=CHAT, max_tokens=3 * each)
    assert [part.requests for part in parts] == [3, 3, 3, 1]
    assert [part.tokens for part in parts] == [3 * each, 3 * each, 3 * each, each]
    assert b"".join(part.path.read_bytes() for part in parts) == src.read_bytes()


def test_one_request_over_the_token_limit_is_named_by_line(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [chat(0), chat(1, "word " * 400), chat(2)])
    with pytest.raises(SplitError) as caught:
        split_counted(src, tmp_path / "out", endpoint=CHAT, max_tokens=line_tokens() + 5)
    assert caught.value.problem.code == TOO_MANY_TOKENS and caught.value.problem.line == 2
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


# -- enqueue and the view ---------------------------------------------------------------


def test_enqueue_records_parts_as_queued_and_sends_nothing(tmp_path: Path) -> None:
    each = line_tokens()
    src = write(tmp_path / "in.jsonl", [chat(i) for i in range(9)])
    journal = journal_for(tmp_path)
    jobs = enqueue_file(
        journal, src, description="nightly", part_tokens=2 * each, parts_dir=tmp_path / "parts"
    )
    assert len(jobs) == 5 and len({job.group_id for job in jobs}) == 1
    assert all(job.submission and job.submission["state"] == "queued" for job in jobs)
    assert jobs[0].description == "nightly (part 1/5)"
    (group,) = groups_of(journal.registry.load().values()).values()
    assert group.complete and group.status == "waiting" and group.parts == 5
    assert [group.latest[i].tokens for i in range(5)] == [2 * each] * 4 + [each]
    assert all(part.phase == WAITING for part in group.latest.values())
    src.write_text("")  # the parts are copies: editing the source changes nothing queued
    assert all(Path(job.input_path or "").stat().st_size > 0 for job in jobs)


def test_the_view_says_why_each_part_waits(tmp_path: Path) -> None:
    each = line_tokens()
    profile = Profile("work", base_url="http://127.0.0.1:9/v1", token_limits={MODEL: 3 * each})
    journal = journal_for(tmp_path, profile)
    src = write(tmp_path / "in.jsonl", [chat(i) for i in range(6)])
    jobs = enqueue_file(journal, src, part_tokens=each, parts_dir=tmp_path / "parts")
    registry = journal.registry
    # the first two parts are in flight
    for job in jobs[:2]:
        registry.modify(
            job.job_id,
            lambda j: j.with_submission(state="created", batch_id="b-" + j.job_id),
        )
    config = load_config(tmp_path / "none.toml")
    config.profiles["work"] = profile
    view = queue_view(registry, config)
    (lane,) = view.lanes
    assert (lane.profile, lane.model, lane.in_flight) == ("work", MODEL, 2 * each)
    assert (lane.limit.tokens, lane.limit.source) == (3 * each, "configured")
    reasons = [wait.reason for wait in lane.waiting]
    assert reasons[0] == "ready: the next pass sends it"
    assert reasons[1].startswith(f"needs {each:,} tokens; {3 * each:,} of {3 * each:,} in flight")
    assert reasons[1].endswith("in flight or ready ahead (configured)")  # 1 part is only ready
    assert reasons[2].startswith("after part 4 of grp-")
    (group,) = view.groups
    assert group.count(IN_FLIGHT) == 2 and group.status == "running"
    data = view.to_dict()
    assert data["lanes"][0]["waiting"][0]["part"] == 3
    assert data["groups"][0]["in_flight"] == 2 and data["groups"][0]["waiting"] == 4
    json.dumps(data)  # what `queue ls --json` prints


def test_pause_resume_and_drop_a_group(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [chat(i) for i in range(4)])
    journal = journal_for(tmp_path)
    jobs = enqueue_file(journal, src, part_tokens=line_tokens(), parts_dir=tmp_path / "parts")
    registry = journal.registry
    group_id = jobs[0].group_id
    assert group_id is not None
    assert pause(registry, jobs[2].job_id) == group_id  # a part's job id names its group
    (group,) = groups_of(registry.load().values()).values()
    assert group.paused and not group.runnable and group.status == "paused"
    assert resume(registry, group_id) == group_id
    (group,) = groups_of(registry.load().values()).values()
    assert group.runnable
    assert drop(registry, group_id) == (group_id, 4)
    assert registry.load() == {}
    assert not any(Path(job.input_path or "").exists() for job in jobs)
    assert not (queue_dir(registry) / "runner.lock").exists()


def test_an_enqueue_cut_short_leaves_a_group_that_never_runs(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [chat(i) for i in range(3)])
    journal = journal_for(tmp_path)
    jobs = enqueue_file(journal, src, part_tokens=line_tokens(), parts_dir=tmp_path / "parts")
    journal.registry.forget(jobs[1].job_id)  # as if the process died before recording it
    (group,) = groups_of(journal.registry.load().values()).values()
    assert not group.complete and not group.runnable and group.status == "incomplete"


def test_a_group_without_a_description_has_none(tmp_path: Path) -> None:
    """Parts of a job queued with no ``--description`` are labelled "(part i/n)";
    the group's own description is empty, not its first part's label."""
    src = write(tmp_path / "in.jsonl", [chat(i) for i in range(2)])
    journal = journal_for(tmp_path)
    jobs = enqueue_file(journal, src, part_tokens=line_tokens(), parts_dir=tmp_path / "parts")
    assert jobs[0].description == "(part 1/2)"
    (group,) = groups_of(journal.registry.load().values()).values()
    assert group.description == ""
    named = enqueue_file(journal, src, description="a (part of) b", parts_dir=tmp_path / "parts")
    assert groups_of([named[0]])[named[0].group_id or ""].description == "a (part of) b"
