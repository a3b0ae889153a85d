"""The job registry: records, names, updates, corrupt records, the start-up cache."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tui.core import paths, registry_cache
from tui.core import registry as registry_module
from tui.core.errors import BatchdeckError
from tui.core.models import Batch, BatchErrorItem, RequestCounts, Usage
from tui.core.registry import (
    CACHE_DIR,
    CACHE_NAME,
    CORRUPT_DIR,
    FORMAT_VERSION,
    LOCK_NAME,
    Job,
    JobNotFoundError,
    RecordError,
    Registry,
    clean,
    record_name,
)

REPO = Path(__file__).resolve().parents[2]


def make_batch(batch_id: str = "batch_abc", status: str = "in_progress", **extra: Any) -> Batch:
    fields: dict[str, Any] = {
        "id": batch_id,
        "status": status,
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file-in",
        "created_at": 1_700_000_000,
        "model": "gpt-4o-mini",
        "in_progress_at": 1_700_000_010,
        "request_counts": RequestCounts(total=10, completed=4, failed=1),
        "metadata": {"batchdeck_token": "tok_1"},
    }
    fields.update(extra)
    return Batch(**fields)


def full_job(job_id: str = "job_full") -> Job:
    batch = make_batch(
        status="failed",
        usage=Usage(input_tokens=10, output_tokens=5, total_tokens=15),
        errors=(BatchErrorItem(code="invalid_json_line", message="bad", line=3),),
    )
    return Job(
        job_id=job_id,
        batch_id=batch.id,
        description='nightly eval — «ünïcode» "quoted"\nsecond line',
        tags=("eval", "nightly"),
        input_path="/home/u/in.jsonl",
        profile="work",
        base_url="http://127.0.0.1:8000/v1",
        downloads={"output": "/home/u/out.jsonl"},
        created_at=1_700_000_000.25,
        group_id="grp_1",
        retry_of="batch_old",
        snapshot=batch.to_dict(),
        submission={
            "state": "created",
            "client_token": "tok_1",
            "input_file_id": "file-in",
            "endpoint": "/v1/chat/completions",
            "metadata": {"batchdeck_token": "tok_1"},
            "intent_at": 1.5,
        },
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "jobs"


@pytest.fixture
def reg(root: Path) -> Registry:
    return Registry(root, durable=False)


def record_files(root: Path) -> list[Path]:
    return sorted(root.glob("*.toml"))


def inode_and_mtime(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the name of every record the registry parses from TOML."""
    parsed: list[str] = []
    original = Registry._parse

    def spy(self: Registry, name: str, memo: dict[str, str]) -> Any:
        parsed.append(name)
        return original(self, name, memo)

    monkeypatch.setattr(Registry, "_parse", spy)
    return parsed


# -- records ---------------------------------------------------------------------


def test_round_trip_through_disk(reg: Registry, root: Path) -> None:
    job = full_job()
    stored = reg.add(job)
    assert stored == dataclasses.replace(job, snapshot=clean(job.snapshot))
    fresh = Registry(root).load()
    assert fresh == {"job_full": stored}
    assert fresh["job_full"].batch() == Batch.from_dict(job.snapshot or {})
    assert fresh["job_full"].status == "failed"


def test_toml_dict_round_trip_and_no_none(reg: Registry) -> None:
    job = Job(job_id="job_1", snapshot={"a": None, "b": [1, None, {"c": None, "d": 2}]})
    doc = job.to_toml_dict()
    assert doc == {
        "version": FORMAT_VERSION,
        "job_id": "job_1",
        "created_at": job.created_at,
        "snapshot": {"b": [1, {"d": 2}]},
    }
    assert Job.from_toml_dict(tomllib.loads(tomli_w.dumps(doc))) == dataclasses.replace(
        job, snapshot={"b": [1, {"d": 2}]}
    )


def test_defaults_of_a_new_job() -> None:
    first, second = Job(), Job()
    assert first.job_id != second.job_id
    assert re.fullmatch(r"job_\d{8}-\d{6}_[0-9a-f]{8}", first.job_id)
    assert record_name(first.job_id) == first.job_id + ".toml"  # no hash suffix needed
    assert first.created_at > 1_600_000_000
    assert first.snapshot is None and first.batch() is None and first.status is None


def test_unknown_keys_survive_a_rewrite(reg: Registry, root: Path) -> None:
    reg.add(Job(job_id="job_1", extra={"future_field": {"x": 1}}))
    reg.update("job_1", description="changed")
    raw = tomllib.loads((root / "job_1.toml").read_text())
    assert raw["future_field"] == {"x": 1}
    assert raw["description"] == "changed"


def test_batch_of_a_job_with_a_strange_snapshot_is_none() -> None:
    assert Job(snapshot={"status": 3}).batch() is None
    assert Job(snapshot={"status": 3}).status is None
    assert Job(snapshot={"id": "b", "created_at": "soon"}).batch() is None


def test_with_submission_merges_and_removes() -> None:
    job = Job(submission={"state": "intent", "client_token": "t"})
    job = job.with_submission(state="uploaded", input_file_id="file-1", client_token=None)
    assert job.submission == {"state": "uploaded", "input_file_id": "file-1"}


def test_clean_makes_values_fit_for_toml() -> None:
    raw = {
        "none": None,
        "tuple": (1, None, 2),
        1: "int key",
        "lone": "a\udc80b",
        "big": 2**70,
        "flag": True,
        "nested": {"api_key": "sk-x", "x-api-key": "sk-y", "client_secret": "s", "ok": 1},
    }
    assert clean(raw) == {
        "tuple": [1, 2],
        "1": "int key",
        "lone": "a?b",
        "big": str(2**70),
        "flag": True,
        "nested": {"ok": 1},
    }
    tomli_w.dumps(clean(raw))  # does not raise


def test_no_field_can_hold_an_api_key(reg: Registry, root: Path) -> None:
    names = [field.name for field in dataclasses.fields(Job)]
    for name in names:
        assert not re.search(r"key|secret|password|auth|credential", name, re.I), name
    job = Job(
        job_id="job_1",
        extra={"api_key": "sk-secret-1", "OPENAI_API_KEY": "sk-secret-2"},
        submission={"state": "intent", "client_token": "tok", "authorization": "Bearer sk-3"},
        snapshot=make_batch(metadata={"api_key": "sk-secret-4"}).to_dict(),
    )
    stored = reg.add(job)
    text = (root / "job_1.toml").read_text()
    assert "sk-secret" not in text and "sk-3" not in text
    assert stored.submission == {"state": "intent", "client_token": "tok"}  # tokens stay
    assert "sk-" not in repr(Registry(root).load())


def test_bad_values_are_refused_before_writing(reg: Registry, root: Path) -> None:
    reg.add(Job(job_id="job_1"))
    with pytest.raises(ValueError):
        reg.update("job_1", created_at="yesterday")
    with pytest.raises(ValueError):
        reg.update("job_1", submission={"state": "bogus"})
    with pytest.raises(ValueError):
        reg.add(Job(job_id=""))
    with pytest.raises(TypeError):
        reg.update("job_1", api_key="sk-1")
    with pytest.raises(ValueError):
        reg.update("job_1", job_id="job_2")
    with pytest.raises(KeyError):
        reg.update("job_missing", description="x")
    with pytest.raises(FileExistsError):
        reg.add(Job(job_id="job_1"))
    assert Registry(root).load()["job_1"] == reg.get("job_1")
    assert not Registry(root).problems


def test_a_missing_job_is_a_batchdeck_error_and_a_key_error(reg: Registry) -> None:
    """Screens catch BatchdeckError once; code that looks ids up still sees a KeyError."""
    with pytest.raises(JobNotFoundError) as caught:
        reg.modify("job_gone", lambda job: job)
    assert isinstance(caught.value, BatchdeckError) and isinstance(caught.value, KeyError)
    assert str(caught.value) == "no job 'job_gone' in the registry (removed meanwhile?)"
    with pytest.raises(JobNotFoundError):
        reg.update("job_gone", description="x")


# -- file names ------------------------------------------------------------------

STRANGE_IDS = [
    "../../x",
    "/etc/passwd",
    "..",
    ".",
    "",
    ".hidden",
    "a/b",
    "a_b",
    "a?b",
    "ABC",
    "abc",
    "batch_ÄÖÜ-東京",
    "batch_\u00e9",
    "batch_e\u0301",  # the same, decomposed: a different id
    "x" * 300,
    "x" * 300 + "y",
    "nul\x00byte",
    "new\nline",
    "back\\slash",
    "a..b",
    "con",
    "x.toml",
    "x.lock",
    "trailing.",
    "lone\udc80surrogate",
]


def test_record_names_are_safe_and_distinct() -> None:
    names = [record_name(job_id) for job_id in STRANGE_IDS]
    for job_id, name in zip(STRANGE_IDS, names, strict=True):
        assert re.fullmatch(r"[A-Za-z0-9_.-]+\.toml", name), (job_id, name)
        assert not name.startswith(".") and len(name) <= 100, name
        assert "/" not in name and "\\" not in name
    assert len({name.lower() for name in names}) == len(STRANGE_IDS)  # even ignoring case
    assert record_name("batch_abc123") == "batch_abc123.toml"


def test_strange_ids_round_trip_inside_the_registry(reg: Registry, root: Path) -> None:
    for job_id in STRANGE_IDS:
        if job_id:
            reg.add(Job(job_id=job_id, batch_id=job_id, description=job_id))
    assert {p.parent for p in root.rglob("*.toml")} == {root}
    loaded = Registry(root).load()
    expected = {j for j in STRANGE_IDS if j}
    expected = {j.encode("utf-8", "replace").decode() for j in expected}  # lone surrogate
    assert set(loaded) == expected
    for job in loaded.values():
        assert job.batch_id == job.job_id == job.description
    assert not (root.parent / "x.toml").exists() and not (root.parent / "x").exists()


def test_a_record_in_the_wrong_file_is_refused(reg: Registry, root: Path) -> None:
    reg.add(Job(job_id="job_1"))
    os.replace(root / "job_1.toml", root / "job_2.toml")
    fresh = Registry(root)
    assert fresh.load() == {}
    assert "does not belong" in fresh.problems[0]


# -- updates ---------------------------------------------------------------------


def test_update_rewrites_only_that_record(reg: Registry, root: Path) -> None:
    for i in range(5):
        reg.add(Job(job_id=f"job_{i}", batch_id=f"batch_{i}"))
    reg.load()
    reg.save_cache()
    before = {p.name: inode_and_mtime(p) for p in record_files(root)}
    updated = reg.update("job_2", description="new", tags=["a", "b"])
    assert updated.description == "new" and updated.tags == ("a", "b")
    after = {p.name: inode_and_mtime(p) for p in record_files(root)}
    assert set(after) == set(before)
    for name in before:
        if name == "job_2.toml":
            assert after[name][0] != before[name][0]  # replaced by a new file
        else:
            assert after[name] == before[name], name
    assert Registry(root).get("job_2") == updated


def test_record_snapshot(reg: Registry, root: Path) -> None:
    reg.add(Job(job_id="job_1", batch_id="batch_abc"))
    reg.load()
    batch = make_batch()
    job = reg.record_snapshot(batch)
    assert job is not None and job.snapshot == clean(batch.to_dict())
    assert Registry(root).find_by_batch("batch_abc") == job
    first = inode_and_mtime(root / "job_1.toml")
    assert reg.record_snapshot(batch) == job  # unchanged: nothing written
    assert Registry(root, durable=False).record_snapshot(batch) == job
    assert inode_and_mtime(root / "job_1.toml") == first
    done = reg.record_snapshot(make_batch(status="completed", completed_at=1_700_000_500))
    assert done is not None and done.status == "completed"
    assert inode_and_mtime(root / "job_1.toml") != first
    assert reg.record_snapshot(make_batch("batch_unknown")) is None
    assert not (root / "batch_unknown.toml").exists()


def test_record_snapshot_can_create_a_job(reg: Registry, root: Path) -> None:
    job = reg.record_snapshot(make_batch("Batch/Other"), create=True)
    assert job is not None and job.job_id == job.batch_id == "Batch/Other"
    assert job.created_at == 1_700_000_000
    assert Registry(root).load()["Batch/Other"] == job


def test_modify_and_forget(reg: Registry, root: Path) -> None:
    reg.add(Job(job_id="job_1", batch_id="batch_1", submission={"state": "intent"}))
    job = reg.modify("job_1", lambda j: j.with_submission(state="uploaded", file="f"))
    assert job.submission == {"state": "uploaded", "file": "f"}
    stamp = inode_and_mtime(root / "job_1.toml")
    assert reg.modify("job_1", lambda j: j) == job
    assert inode_and_mtime(root / "job_1.toml") == stamp  # equal job: nothing written
    assert reg.find_by_batch("batch_1") == job
    assert reg.forget("job_1") is True
    assert reg.forget("job_1") is False
    assert reg.get("job_1") is None and reg.find_by_batch("batch_1") is None
    assert Registry(root).load() == {}


def test_default_root_is_the_registry_dir() -> None:
    registry = Registry(durable=False)
    registry.add(Job(job_id="job_1"))
    assert (paths.registry_dir() / "job_1.toml").is_file()


def test_permissions(reg: Registry, root: Path) -> None:
    reg.add(Job(job_id="job_1"))
    (root / "job_2.toml").write_text("broken = [")
    reg.load()
    reg.save_cache()
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / CORRUPT_DIR).stat().st_mode) == 0o700
    assert stat.S_IMODE((root / CACHE_DIR).stat().st_mode) == 0o700
    for path in (root / "job_1.toml", root / LOCK_NAME, root / CACHE_DIR / CACHE_NAME):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# -- corrupt records -------------------------------------------------------------

CORRUPT = {
    "bad_toml": b"job_id = 'bad_toml'\nthis is not toml\n",
    "truncated": b'version = 1\njob_id = "truncated"\n[snapshot]\nid = "ba',
    "wrong_type": b'job_id = "wrong_type"\ntags = "not-a-list"\n',
    "wrong_snapshot": b'job_id = "wrong_snapshot"\nsnapshot = 3\n',
    "no_id": b'description = "who am I"\n',
    "empty": b"",
    "binary": b"\xff\xfe\x00garbage",
    "bool_time": b'job_id = "bool_time"\ncreated_at = true\n',
}


def test_corrupt_records_are_moved_aside_and_the_rest_loads(
    reg: Registry, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(3):
        reg.add(Job(job_id=f"good_{i}"))
    for name, data in CORRUPT.items():
        (root / f"{name}.toml").write_bytes(data)
    fresh = Registry(root)
    with caplog.at_level(logging.WARNING, logger="tui.core.registry"):
        jobs = fresh.load()
    assert set(jobs) == {"good_0", "good_1", "good_2"}
    assert len(fresh.problems) == len(CORRUPT)
    moved = sorted(p.name for p in (root / CORRUPT_DIR).iterdir())
    for name in CORRUPT:
        assert not (root / f"{name}.toml").exists()
        message = next(m for m in fresh.problems if f"{name}.toml" in m)
        assert str(root / f"{name}.toml") in message and "moved aside to" in message
        assert any(m.startswith(f"{name}.toml.") for m in moved)
        assert any(f"{name}.toml" in r.getMessage() for r in caplog.records)
    assert "tags has the wrong type" in next(m for m in fresh.problems if "wrong_type" in m)
    again = Registry(root)
    assert set(again.load()) == set(jobs) and not again.problems


def test_corrupt_record_met_by_get_or_update(reg: Registry, root: Path) -> None:
    reg.add(Job(job_id="job_1"))
    reg.add(Job(job_id="job_2"))
    reg.load()
    (root / "job_1.toml").write_bytes(b"job_id = ")
    (root / "job_2.toml").write_bytes(b"job_id = ")
    assert reg.get("job_1") is None
    with pytest.raises(KeyError):
        reg.update("job_2", description="x")
    assert len(reg.problems) == 2 and len(list((root / CORRUPT_DIR).iterdir())) == 2
    assert reg.load() == {}


def test_record_from_a_newer_version_is_left_alone(reg: Registry, root: Path) -> None:
    (root / "job_9.toml").parent.mkdir(parents=True)
    (root / "job_9.toml").write_text('version = 99\njob_id = "job_9"\n')
    reg.add(Job(job_id="job_1"))
    assert set(reg.load()) == {"job_1"}
    assert "format 99" in reg.problems[0] and (root / "job_9.toml").exists()
    with pytest.raises(RecordError):
        reg.update("job_9", description="x")


def test_leftover_temp_files_are_removed(reg: Registry, root: Path) -> None:
    reg.add(Job(job_id="job_1"))
    (root / ".job_1.toml.abc123.tmp").write_text("half a rec")
    (root / CACHE_DIR / ".index.marshal.x.tmp").write_bytes(b"half")
    assert set(Registry(root).load()) == {"job_1"}
    assert sorted(p.name for p in root.iterdir()) == [".cache", ".lock", "job_1.toml"]
    assert os.listdir(root / CACHE_DIR) == [CACHE_NAME]


# -- the start-up cache ------------------------------------------------------------


def test_warm_start_parses_nothing(
    reg: Registry, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(20):
        reg.add(full_job(f"job_{i}"))
    expected = Registry(root).load()
    parsed = count_parses(monkeypatch)

    def no_scan(path: Any) -> Any:
        raise AssertionError("the registry was scanned although nothing changed")

    monkeypatch.setattr(registry_module.os, "scandir", no_scan)
    fresh = Registry(root)
    assert fresh.load() == expected
    assert fresh.load() == expected  # again: still nothing to do
    assert parsed == []


def test_cache_sees_changes_adds_and_deletes_by_another_process(
    reg: Registry, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        reg.add(Job(job_id=f"job_{i}", description="old"))
    monkeypatch.setattr(registry_module, "RACY_NS", 0)  # exact counts: trust fresh stamps
    reg.load()
    reg.save_cache()
    code = (
        "import sys; from pathlib import Path; from tui.core.registry import Registry, Job\n"
        "r = Registry(Path(sys.argv[1]))\n"
        "r.update('job_1', description='changed')\n"
        "r.add(Job(job_id='job_new'))\n"
        "r.forget('job_3')\n"
    )
    subprocess.run([sys.executable, "-c", code, str(root)], check=True, cwd=REPO)
    parsed = count_parses(monkeypatch)
    for registry in (Registry(root), reg):  # a fresh start, and the process running
        parsed.clear()
        jobs = registry.load()
        assert set(jobs) == {"job_0", "job_1", "job_2", "job_4", "job_new"}
        assert jobs["job_1"].description == "changed"
        assert jobs["job_0"].description == "old"
        assert sorted(parsed) == ["job_1.toml", "job_new.toml"]


def test_rewrite_within_the_same_mtime_tick_is_seen(
    reg: Registry, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry_module, "RACY_NS", 0)  # trust stamps however recent
    reg.add(Job(job_id="job_1", description="aaaa"))
    reg.add(Job(job_id="job_2", description="same"))
    Registry(root).load()
    path = root / "job_1.toml"
    old = path.stat()
    # Another program replaces the record: same size, same mtime (one clock tick).
    tmp = root / "replacement"
    tmp.write_bytes(path.read_bytes().replace(b"aaaa", b"bbbb"))
    os.utime(tmp, ns=(old.st_atime_ns, old.st_mtime_ns))
    os.replace(tmp, path)
    new = path.stat()
    assert (new.st_size, new.st_mtime_ns) == (old.st_size, old.st_mtime_ns)
    assert new.st_ino != old.st_ino
    parsed = count_parses(monkeypatch)
    assert Registry(root).load()["job_1"].description == "bbbb"
    assert parsed == ["job_1.toml"]


def test_record_arriving_from_outside_is_seen_after_a_change_of_ours(
    reg: Registry, root: Path
) -> None:
    reg.add(Job(job_id="job_a"))
    assert set(reg.load()) == {"job_a"}
    # A record arrives without the registry (restored from a backup, moved back from
    # corrupt/, synced in): the change token stays, only the directory changes. Its
    # mtime is set apart so that a coarse clock tick cannot hide the change.
    (root / "job_b.toml").write_bytes(tomli_w.dumps({"version": 1, "job_id": "job_b"}).encode())
    os.utime(root, ns=(1_000_000_000, 1_000_000_000))
    reg.update("job_a", description="ours")  # then this process changes something
    assert set(reg.load()) == {"job_a", "job_b"}
    reg.save_cache()
    assert set(Registry(root).load()) == {"job_a", "job_b"}  # and a fresh process


def test_record_edited_in_place_is_seen_by_verify(reg: Registry, root: Path) -> None:
    reg.add(Job(job_id="job_1", description="aaaa"))
    registry = Registry(root)
    registry.load()
    path = root / "job_1.toml"
    old = path.stat()
    with open(path, "r+b") as handle:  # like an editor that writes in place
        data = handle.read()
        handle.seek(0)
        handle.write(data.replace(b"aaaa", b"bbbb"))
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert path.stat().st_ino == old.st_ino
    assert registry.load(verify=True)["job_1"].description == "bbbb"
    assert Registry(root).load(verify=True)["job_1"].description == "bbbb"


def test_stamps_are_trusted_only_once_settled() -> None:
    stamp = (1, 2, 10_000_000_000, 10_000_000_000)
    seen_late = (*stamp, 10_000_000_000 + registry_module.RACY_NS + 1)
    seen_soon = (*stamp, 10_000_000_000 + 1000)
    assert registry_module._unchanged(seen_late, stamp)
    assert not registry_module._unchanged(seen_soon, stamp)  # could change within a tick
    assert not registry_module._unchanged(seen_late, (9, 2, stamp[2], stamp[3]))


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: data[: len(data) // 2],
        lambda data: b"not marshal at all" * 10,
        lambda data: bytes(b ^ 0x5A for b in data[:64]) + data[64:],
    ],
)
def test_broken_cache_is_rebuilt(reg: Registry, root: Path, damage: Any) -> None:
    for i in range(5):
        reg.add(full_job(f"job_{i}"))
    expected = Registry(root).load()
    cache = root / CACHE_DIR / CACHE_NAME
    cache.write_bytes(damage(cache.read_bytes()))
    fresh = Registry(root)
    assert fresh.load() == expected and not fresh.problems
    assert Registry(root).load() == expected


def test_cache_for_another_layout_is_ignored(
    reg: Registry, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg.add(Job(job_id="job_1"))
    Registry(root).load()
    monkeypatch.setattr(registry_cache, "CACHE_MAGIC", ("batchdeck-registry", -1))
    parsed = count_parses(monkeypatch)
    assert set(Registry(root).load()) == {"job_1"} and parsed == ["job_1.toml"]


def test_toml_dates_in_a_record_do_not_break_the_cache(reg: Registry, root: Path) -> None:
    root.mkdir(parents=True)
    (root / "job_d.toml").write_text('job_id = "job_d"\nwhen = 2024-01-02T03:04:05Z\n')
    reg.add(Job(job_id="job_1"))
    first = Registry(root).load()
    assert first == Registry(root).load()
    assert str(first["job_d"].extra["when"]).startswith("2024-01-02")


def test_server_text_is_scrubbed_in_records_and_user_text_kept(tmp_path: Path) -> None:
    from tui.core.text import register_secret

    key = register_secret("registry-test-key-9a8b7c6d")
    registry = Registry(tmp_path / "jobs", durable=False)
    job = registry.add(
        Job(
            job_id="job_s",
            batch_id="batch_s",
            description="sk-learn-benchmarks-and-more-words-here-0123456789",
            input_path="/data/sk-learn-experiments-with-a-long-folder-name/in.jsonl",
            base_url="http://bob:hunter2hunter2@gateway:8000/v1",
            submission={"state": "abandoned", "note": f"refused: Authorization: Bearer {key}"},
        )
    )
    batch = Batch(
        id="batch_s",
        status="failed",
        endpoint="/v1/chat/completions",
        input_file_id="file_x",
        created_at=1,
        errors=(BatchErrorItem(code="auth", message=f"header was Bearer {key}", line=1),),
    )
    registry.record_snapshot(batch)
    text = (tmp_path / "jobs" / "job_s.toml").read_text()
    assert key not in text and "hunter2" not in text
    assert job.base_url == "http://gateway:8000/v1"
    assert job.description.startswith("sk-learn-") and "sk-learn-experiments" in text
    assert registry.record_snapshot(batch) == registry.get("job_s")  # stable: no rewrite
