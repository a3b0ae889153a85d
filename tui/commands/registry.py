"""``batchdeck registry ls|describe|note|tag|forget``: the local job registry.

A job is named by its job id or its batch id. ``describe``, ``note`` and ``tag`` on
a batch the registry does not know yet look it up on the active profile's server
and start a job for it (an unknown batch there is exit 1); ``ls`` and ``forget``
stay local.

- ``ls [--json]``: every job, newest first; a table, or JSON lines (one job each,
  with its ``notes``).
- ``describe JOB_OR_BATCH TEXT``: set the description; a description it replaces
  is printed on stderr.
- ``note JOB_OR_BATCH TEXT``: add a dated note (:mod:`tui.core.notes`); the
  description and earlier notes stay. (Before, ``note`` set the description: it
  says on stderr what it did, so a script that relied on that is told.)
- ``tag JOB_OR_BATCH +add -remove ...``: change tags (a bare word adds).
- ``forget JOB_OR_BATCH [--yes]``: drop the job from the registry (the batch stays
  on the server); asks at a terminal, refuses without one unless ``--yes``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tui.commands import _shared

if TYPE_CHECKING:
    from tui.core.registry import Job, Registry

HEADERS = ("JOB", "BATCH", "STATUS", "CREATED (UTC)", "DESCRIPTION", "NOTES", "TAGS")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "registry",
        help="the local job registry: ls, describe, note, tag, forget",
        description="What batchdeck keeps that the API does not: descriptions, notes, "
        "tags, input paths, downloads.",
    )
    actions = parser.add_subparsers(dest="registry_action", metavar="ACTION", required=True)
    ls = actions.add_parser("ls", help="list jobs", description="List jobs, newest first.")
    _shared.add_common(ls)
    describe = actions.add_parser(
        "describe",
        help="set a job's description",
        description="Set a job's one description; the one it replaces is printed on stderr.",
    )
    describe.add_argument("job", metavar="JOB_OR_BATCH")
    describe.add_argument("text", metavar="TEXT")
    _shared.add_common(describe, json=False)
    note = actions.add_parser(
        "note",
        help="add a dated note to a job",
        description="Add a dated note to a job; its description and earlier notes stay. "
        "'registry describe' sets the description.",
    )
    note.add_argument("job", metavar="JOB_OR_BATCH")
    note.add_argument("text", metavar="TEXT")
    _shared.add_common(note, json=False)
    tag = actions.add_parser(
        "tag",
        help="add or remove tags",
        description="Change a job's tags: +name adds, -name removes, a bare name adds. "
        "Options (--profile) go before JOB_OR_BATCH.",
    )
    _shared.add_common(tag, json=False)
    tag.add_argument("job", metavar="JOB_OR_BATCH")
    tag.add_argument("changes", nargs=argparse.REMAINDER, metavar="+TAG|-TAG")
    forget = actions.add_parser(
        "forget",
        help="drop a job from the registry",
        description="Drop a job from the local registry; the batch stays on the server.",
    )
    forget.add_argument("job", metavar="JOB_OR_BATCH")
    forget.add_argument("--yes", "-y", action="store_true", help="do not ask")
    _shared.add_common(forget, json=False)


def run(args: argparse.Namespace) -> int:
    action = {"ls": _ls, "describe": _describe, "note": _note, "tag": _tag, "forget": _forget}[
        args.registry_action
    ]
    return _shared.guarded(lambda: action(args))


def _ls(args: argparse.Namespace) -> int:
    registry = _shared.open_registry()
    jobs = sorted(registry.load().values(), key=lambda job: job.created_at, reverse=True)
    for problem in registry.problems:
        _shared.error(problem)
    if args.json:
        import msgspec

        _shared.emit_json_lines(_record(job, msgspec.to_builtins(job)) for job in jobs)
    elif jobs:
        _shared.write(_shared.table(HEADERS, (_row(job) for job in jobs)))
    else:
        _shared.info("The registry is empty.")
    return _shared.EXIT_OK


def _record(job: Job, record: dict[str, Any]) -> dict[str, Any]:
    """A job's JSON line: its fields, ``status``, and ``notes`` (out of ``extra``)."""
    from tui.core.notes import NOTES_KEY, notes_of

    extra = {key: value for key, value in record.get("extra", {}).items() if key != NOTES_KEY}
    notes = [{"at": note.at, "text": note.text} for note in notes_of(job)]
    return {**record, "extra": extra, "status": job.status, "notes": notes}


def _row(job: Job) -> tuple[str, ...]:
    from tui.core.notes import notes_of
    from tui.core.text import one_line
    from tui.core.timefmt import exact

    state = (job.submission or {}).get("state")
    status = job.status or (f"submit: {state}" if state and state != "created" else "")
    return (
        one_line(job.job_id),
        one_line(job.batch_id or ""),
        one_line(status),
        exact(job.created_at).removesuffix(" UTC"),
        one_line(job.description, 48),
        str(len(notes_of(job)) or ""),
        one_line(",".join(job.tags)),
    )


def _describe(args: argparse.Namespace) -> int:
    from tui.core.text import one_line

    registry = _shared.open_registry()
    job = _job_or_adopt(registry, args)
    before: list[str] = []

    def describe(current: Job) -> Job:
        before.append(current.description)  # read under the lock, as replaced
        return replace(current, description=args.text)

    registry.modify(job.job_id, describe)
    name = one_line(job.job_id)
    if before and before[-1] and before[-1] != args.text:
        _shared.info(f"Replaced the description of {name} (was: {one_line(before[-1])})")
    else:
        _shared.tty_info(f"Described {name}.")
    return _shared.EXIT_OK


def _note(args: argparse.Namespace) -> int:
    from tui.core.notes import add_note, notes_of
    from tui.core.text import one_line

    if not args.text.strip():
        raise _shared.CommandError("a note needs some text", _shared.EXIT_USAGE)
    registry = _shared.open_registry()
    job = _job_or_adopt(registry, args)
    try:
        saved = add_note(registry, job.job_id, args.text)
    except ValueError as exc:
        raise _shared.CommandError(str(exc), _shared.EXIT_USAGE) from exc
    _shared.info(
        f"Added note {len(notes_of(saved))} to {one_line(saved.job_id)}; its description is "
        "unchanged ('registry describe' sets it)."
    )
    return _shared.EXIT_OK


def _tag(args: argparse.Namespace) -> int:
    add, remove = _parse_tag_changes(args.changes)
    registry = _shared.open_registry()
    job = _job_or_adopt(registry, args)

    def change(current: Job) -> Job:
        kept = [tag for tag in current.tags if tag not in remove]
        return replace(current, tags=tuple(dict.fromkeys(kept + add)))

    changed = registry.modify(job.job_id, change)
    _shared.write(",".join(changed.tags) + "\n")
    return _shared.EXIT_OK


def _parse_tag_changes(changes: list[str]) -> tuple[list[str], set[str]]:
    """``+a -b c`` as (tags to add, tags to remove); exit 2 for an empty or bad tag."""
    if not changes:
        raise _shared.CommandError("name tags to change: +tag adds, -tag removes", 2)
    add: list[str] = []
    remove: set[str] = set()
    for change in changes:
        if change.startswith("--"):
            raise _shared.CommandError(f"{change}: options go before JOB_OR_BATCH", 2)
        sign, name = (change[0], change[1:]) if change[:1] in "+-" else ("+", change)
        name = name.strip()
        if not name or "," in name or not name.isprintable():
            raise _shared.CommandError(f"{change!r} is not a tag (+name or -name)", 2)
        if sign == "+":
            add.append(name)
        else:
            remove.add(name)
    return add, remove


def _forget(args: argparse.Namespace) -> int:
    from tui.core.text import one_line

    registry = _shared.open_registry()
    job = _shared.find_job(registry, args.job)
    if job is None:
        raise _shared.CommandError(f"no job or batch {args.job!r} in the registry")
    what = f"job {one_line(job.job_id)}" + (
        f" (batch {one_line(job.batch_id)})" if job.batch_id and job.batch_id != job.job_id else ""
    )
    _shared.confirm(f"Forget {what}? The batch stays on the server.", yes=args.yes)
    registry.forget(job.job_id)
    _shared.write(f"forgot {what}\n")
    return _shared.EXIT_OK


def _job_or_adopt(registry: Registry, args: argparse.Namespace) -> Job:
    """The named job; for a batch the registry does not know, a new job made from the
    batch on the active profile's server (exit 1 if the server does not know it)."""
    import asyncio

    job = _shared.find_job(registry, args.job)
    if job is not None:
        return job
    _, profile = _shared.resolve_profile(getattr(args, "profile", None))
    client = _shared.make_client(profile)

    async def fetch() -> Any:
        from tui.commands.show import retrieve_known

        try:
            return await retrieve_known(client, args.job)
        finally:
            await client.close()

    batch = asyncio.run(fetch())
    adopted = registry.record_snapshot(batch, create=True)
    assert adopted is not None  # create=True always gives a job
    return registry.update(adopted.job_id, profile=profile.name, base_url=profile.public_base_url())
