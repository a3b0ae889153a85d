"""State on disk: a restarted server keeps its files and batches and resumes the ones
in flight where the last written line left off (no line lost, none run twice)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.conftest import MakeServer, chat_lines, make_client, read_lines, submit, upload
from tui.localapi.clock import ManualClock


def test_restart_keeps_files_and_batches(make_server: MakeServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    clock = ManualClock()
    first = make_server(data, clock=clock, durable=True)
    with make_client(first) as client:
        done = submit(client, chat_lines(3))
        first.advance(100)
        done = client.batches.retrieve(done.id)
        spare = upload(client, chat_lines(1), name="spare.jsonl")
        files_before = sorted(f.id for f in client.files.list())
    first.stop()
    second = make_server(data, clock=clock)
    with make_client(second) as client:
        assert client.batches.retrieve(done.id) == done
        assert sorted(f.id for f in client.files.list()) == files_before
        assert client.files.retrieve(spare).filename == "spare.jsonl"
        assert done.output_file_id
        assert len(read_lines(client, done.output_file_id)) == 3


def test_restart_resumes_batches_in_flight(make_server: MakeServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    clock = ManualClock()
    first = make_server(data, clock=clock, durable=True)
    with make_client(first) as client:
        batch = submit(client, chat_lines(10, fail_every=4))
        first.advance(2 + 4 * 0.5)
        before = client.batches.retrieve(batch.id)
        assert before.status == "in_progress" and before.request_counts
        assert before.request_counts.completed + before.request_counts.failed == 4
    first.stop()
    second = make_server(data, clock=clock)
    with make_client(second) as client:
        again = client.batches.retrieve(batch.id)
        assert again.status == "in_progress" and again.request_counts == before.request_counts
        assert again.usage == before.usage
        second.advance(100)
        after = client.batches.retrieve(batch.id)
        assert after.status == "completed" and after.output_file_id and after.error_file_id
        lines = read_lines(client, after.output_file_id) + read_lines(client, after.error_file_id)
        assert sorted(x["custom_id"] for x in lines) == sorted(f"req-{i}" for i in range(10))
        assert after.request_counts and after.request_counts.failed == 2


def test_a_crash_mid_write_is_cut_back_and_redone(make_server: MakeServer, tmp_path: Path) -> None:
    """A torn last line is dropped and run again; the part file is never extended."""
    data = tmp_path / "data"
    clock = ManualClock()
    first = make_server(data, clock=clock)
    with make_client(first) as client:
        batch = submit(client, chat_lines(6))
        first.advance(2 + 2 * 0.5)
    first.stop()
    part = data / "batches" / batch.id / "output.part"
    whole = part.stat().st_size
    with part.open("ab") as handle:
        handle.write(b'{"id":"batch_req_x","custom_id":"req-0","response":{"status_')
    second = make_server(data, clock=clock)
    assert part.stat().st_size == whole
    with make_client(second) as client:
        assert client.batches.retrieve(batch.id).request_counts.completed == 2  # type: ignore[union-attr]
        second.advance(100)
        after = client.batches.retrieve(batch.id)
        assert after.status == "completed" and after.output_file_id
        lines = read_lines(client, after.output_file_id)
        assert sorted(x["custom_id"] for x in lines) == sorted(f"req-{i}" for i in range(6))


def test_zeros_and_repeats_in_a_part_are_cut_and_redone(
    make_server: MakeServer, tmp_path: Path
) -> None:
    """What a crash can leave in a part file (a run of NULs, a line twice) is cut off,
    and the lines after it run again: every custom_id exactly once, no NUL byte."""
    data = tmp_path / "data"
    clock = ManualClock()
    first = make_server(data, clock=clock)
    with make_client(first) as client:
        batch = submit(client, chat_lines(8, fail_every=3))
        first.advance(2 + 5 * 0.5)
    first.stop()
    part = data / "batches" / batch.id / "output.part"
    lines = part.read_bytes().splitlines(keepends=True)
    part.write_bytes(lines[0] + b"\0" * 300 + b"".join(lines[1:]) + lines[0])
    second = make_server(data, clock=clock)
    with make_client(second) as client:
        second.advance(100)
        after = client.batches.retrieve(batch.id)
        assert after.status == "completed" and after.output_file_id and after.error_file_id
        out = client.files.content(after.output_file_id).content
        out += client.files.content(after.error_file_id).content
    assert b"\0" not in out
    ids = sorted(json.loads(x)["custom_id"] for x in out.splitlines())
    assert ids == sorted(f"req-{i}" for i in range(8))


def test_a_record_cut_short_or_nested_deep_is_moved_aside(
    make_server: MakeServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = make_server(data, clock=ManualClock())
    with make_client(first) as client:
        kept = submit(client, chat_lines(1))
        deep = submit(client, chat_lines(1))
        odd = submit(client, chat_lines(1))
    first.stop()
    (data / "batches" / f"{deep.id}.json").write_text("[" * 100_000)
    record = json.loads((data / "batches" / f"{odd.id}.json").read_text())
    (data / "batches" / f"{odd.id}.json").write_text(json.dumps({**record, "created_at": "x"}))
    (data / "server.json").write_text("{" * 100_000)
    second = make_server(data, clock=ManualClock())
    assert any(deep.id in w for w in second.warnings)
    assert any(odd.id in w for w in second.warnings)
    with make_client(second) as client:
        assert [b.id for b in client.batches.list()] == [kept.id]


def test_a_corrupt_record_is_moved_aside(make_server: MakeServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = make_server(data, clock=ManualClock())
    with make_client(first) as client:
        keep = upload(client, chat_lines(1))
        broken = upload(client, chat_lines(1))
    first.stop()
    (data / "files" / f"{broken}.json").write_text("{half")
    second = make_server(data, clock=ManualClock())
    assert any(broken in w for w in second.warnings)
    assert (data / "files" / f"{broken}.corrupt").exists()
    with make_client(second) as client:
        assert [f.id for f in client.files.list()] == [keep]


def test_time_never_goes_back_across_restarts(make_server: MakeServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    fast = make_server(data, time_scale=1_000_000)
    with make_client(fast) as client:
        ahead = client.files.create(file=("a.jsonl", b"{}\n"), purpose="batch").created_at
    fast.stop()
    slow = make_server(data, time_scale=1)
    with make_client(slow) as client:
        later = client.files.create(file=("b.jsonl", b"{}\n"), purpose="batch").created_at
    assert later >= ahead


def test_one_server_per_data_dir(make_server: MakeServer, tmp_path: Path) -> None:
    import pytest

    data = tmp_path / "data"
    first = make_server(data, clock=ManualClock())
    with pytest.raises(RuntimeError, match="in use"):
        make_server(data, clock=ManualClock())
    first.stop()
    make_server(data, clock=ManualClock())  # free again once the first has stopped


def test_a_batch_record_with_broken_innards_fails_alone(
    make_server: MakeServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    clock = ManualClock()
    first = make_server(data, clock=clock)
    with make_client(first) as client:
        fine = submit(client, chat_lines(2))
        broken = submit(client, chat_lines(2))
        first.advance(2.5)
    first.stop()
    path = data / "batches" / f"{broken.id}.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "_timing": "soon"}))
    (data / "server.json").write_text('{"clock": "late"}')
    second = make_server(data, clock=clock)
    with make_client(second) as client:
        second.advance(100)
        statuses = {b.id: b.status for b in client.batches.list()}
        assert statuses == {fine.id: "completed", broken.id: "failed"}
        errors = client.batches.retrieve(broken.id).errors
        assert errors and errors.data
        assert "unexpected server error" in (errors.data[0].message or "")


def test_a_checkpoint_that_does_not_match_the_parts_is_not_trusted(
    make_server: MakeServer, tmp_path: Path
) -> None:
    """The record's checkpoint (part sizes, counts, usage at its last save) only saves
    rereading lines it covers whole; mid-line or past the end, every line is read."""
    data = tmp_path / "data"
    clock = ManualClock()
    batches = []
    first = make_server(data, clock=clock)
    with make_client(first) as client:
        for _ in range(3):
            batches.append(submit(client, chat_lines(6, fail_every=3)))
        first.advance(2 + 3 * 0.5)
        before = {b.id: client.batches.retrieve(b.id) for b in batches}
    first.stop()
    for batch, parts in zip(batches, ([5, 0], [10**9, 0], "x"), strict=True):
        path = data / "batches" / f"{batch.id}.json"
        record = json.loads(path.read_text())
        assert record["_parts"][0] > 0
        path.write_text(json.dumps({**record, "_parts": parts}))
    second = make_server(data, clock=clock)
    with make_client(second) as client:
        for batch in batches:
            again = client.batches.retrieve(batch.id)
            assert again.request_counts == before[batch.id].request_counts
            assert again.usage == before[batch.id].usage
        second.advance(100)
        for batch in batches:
            after = client.batches.retrieve(batch.id)
            assert after.status == "completed" and after.output_file_id and after.error_file_id
            lines = read_lines(client, after.output_file_id)
            lines += read_lines(client, after.error_file_id)
            assert sorted(x["custom_id"] for x in lines) == sorted(f"req-{i}" for i in range(6))
