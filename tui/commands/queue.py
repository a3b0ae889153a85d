"""``batchdeck queue``: the local queue of parts waiting for room under a model's
enqueued-token limit (``tui.core.queue``).

- ``queue ls [--json]``: per profile and model, the tokens in flight against the
  limit (configured or learned) and the parts waiting, with why each waits; then
  every job group's progress. ``--json`` prints one object (``lanes``, ``groups``),
  what the app's Queue screen shows (``u``).
- ``queue run [--once | --until-done] [--timeout D] [--interval D]``: run the
  scheduler for the active profile. ``--once`` (the default) is one pass, for cron;
  ``--until-done`` passes every interval until every part of the groups it carries
  is final: exit 0 when all completed, 1 when any failed for another reason than the
  limit, 124 on ``--timeout``. While another runner holds the lock a pass does nothing
  (``--until-done`` tries again after the interval). With ``[hooks]`` set, the parts
  seen ending fire the notifications.
- ``queue pause|resume|drop JOB``: JOB is a job group id or one of its parts' job ids.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from tui.commands import _shared
from tui.core.text import plural

if TYPE_CHECKING:
    from tui.core.client import BatchClient
    from tui.core.config import Profile
    from tui.core.queue import PassReport
    from tui.core.queue_view import QueueView

DEFAULT_INTERVAL = 15.0


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "queue",
        help="the local queue: parts waiting for room under the token limit",
        description="Big jobs queued with `submit --queue` are sent part by part as the "
        "model's enqueued-token limit leaves room. `queue run --once` from cron, or "
        "`queue run --until-done` to carry them to the end.",
    )
    actions = parser.add_subparsers(dest="queue_action", metavar="ACTION", required=True)
    ls = actions.add_parser("ls", help="tokens in flight, limits, waiting parts, groups")
    _shared.add_common(ls)
    run_parser = actions.add_parser("run", help="send the parts that fit (one pass or until done)")
    how = run_parser.add_mutually_exclusive_group()
    how.add_argument("--once", action="store_true", help="one pass, then exit (the default)")
    how.add_argument(
        "--until-done",
        action="store_true",
        help="pass again every interval until every part is final "
        "(exit 0 all completed, 1 any failed, 124 timeout)",
    )
    run_parser.add_argument(
        "--interval",
        type=_shared.parse_duration,
        default=DEFAULT_INTERVAL,
        metavar="DURATION",
        help="time between passes with --until-done (default 15s)",
    )
    run_parser.add_argument(
        "--timeout",
        type=_shared.parse_duration,
        metavar="DURATION",
        help="with --until-done: give up (exit 124) after this long",
    )
    _shared.add_common(run_parser)
    for name, text in (
        ("pause", "send nothing more of a job group until resumed"),
        ("resume", "let a paused job group be sent again"),
        ("drop", "remove a job group's unsent parts from the queue"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("job", metavar="JOB", help="a job group id or a part's job id")
        _shared.add_common(action, json=False)


def run(args: argparse.Namespace) -> int:
    action = args.queue_action
    if action == "ls":
        return _shared.guarded(lambda: _ls(args))
    if action == "run":
        return _shared.run_with_client(args, lambda profile, client: _run(args, profile, client))
    return _shared.guarded(lambda: _change(args))


def _ls(args: argparse.Namespace) -> int:
    from tui.core.config import ConfigError, load_config
    from tui.core.queue import queue_view

    try:
        config = load_config()
    except ConfigError as exc:
        raise _shared.CommandError(str(exc), _shared.EXIT_USAGE) from exc
    view = queue_view(_shared.open_registry(), config)
    if args.json:
        _shared.emit_json(view.to_dict())
    else:
        _shared.write(_view_text(view))
    return _shared.EXIT_OK


def _view_text(view: QueueView) -> str:
    from tui.core.text import one_line

    if not view.groups:
        return "The queue is empty.\n"
    lines: list[str] = []
    for lane in view.lanes:
        limit = lane.limit
        shown = "unknown" if limit.tokens is None else f"{limit.tokens:,} ({limit.source})"
        lines.append(
            f"{one_line(lane.profile)} / {one_line(lane.model)}: {lane.in_flight:,} {lane.unit} in "
            f"flight, limit {shown}, {plural(len(lane.waiting), 'part')} waiting"
        )
        for wait in lane.waiting:
            lines.append(
                f"  {wait.job_id}  part {wait.order + 1}/{wait.parts}  {wait.tokens:,} tokens"
                f"  {one_line(wait.reason)}"
            )
    rows = [
        (
            one_line(g["group_id"]),
            g["status"],
            f"{g['completed']}/{g['parts']}",
            str(g["in_flight"]),
            str(g["waiting"]),
            str(g["failed"]),
            one_line(g["description"]),
        )
        for g in (group.to_dict() for group in view.groups)
    ]
    headers = ("GROUP", "STATUS", "DONE", "IN FLIGHT", "WAITING", "FAILED", "DESCRIPTION")
    lines.append("")
    lines.append(_shared.table(headers, rows).rstrip("\n"))
    return "\n".join(lines) + "\n"


async def _run(args: argparse.Namespace, profile: Profile, client: BatchClient) -> int:
    import asyncio

    from tui.commands.watch import hook_settings, terminal_writer
    from tui.core.queue import run_queue_pass

    hooks, terminal = hook_settings(), terminal_writer(prefer_stderr=args.json)
    registry = _shared.open_registry()
    hooks, terminal = hook_settings(), terminal_writer(prefer_stderr=args.json)
    started = time.monotonic()
    interval = max(float(args.interval), 0.01)
    carried: set[str] = set()
    while True:
        if args.until_done:
            carried |= _open_groups(registry, profile)
        report = await run_queue_pass(registry, client, profile, hooks=hooks, terminal=terminal)
        _say(report, as_json=args.json)
        if not args.until_done:
            return _shared.EXIT_OK
        carried |= _open_groups(registry, profile)
        if report.done:
            failed = carried & set(report.failed)
            if report.held:
                _shared.info(
                    f"batchdeck: {plural(len(report.held), 'job group')} paused or incomplete"
                )
            return _shared.EXIT_FAILURE if failed else _shared.EXIT_OK
        if args.timeout is not None and time.monotonic() - started >= args.timeout:
            _shared.error(f"queue not done after {args.timeout:g} s")
            return _shared.EXIT_TIMEOUT
        await asyncio.sleep(interval)


def _open_groups(registry: Any, profile: Profile) -> set[str]:
    """Groups of ``profile`` with something left to do: the ones this run carries."""
    from tui.core.queue_view import groups_of

    base = profile.public_base_url()
    jobs = [j for j in registry.load().values() if j.profile == profile.name and j.base_url == base]
    return {g.group_id for g in groups_of(jobs).values() if not g.final}


def _say(report: PassReport, *, as_json: bool) -> None:
    if as_json:
        _shared.emit_json(report.to_dict())
        return
    if report.busy:
        _shared.info("batchdeck: another queue runner is busy; nothing done")
        return
    from tui.core.text import one_line

    for model, tokens in report.learned:
        limit = f"the {one_line(model)} limit is at most {tokens:,} in flight"
        _shared.info(f"batchdeck: learned: {limit}")
    for problem in report.problems:
        _shared.error(problem)
    if report.sent or report.requeued:
        _shared.write(
            f"sent {plural(len(report.sent), 'part')}, queued {len(report.requeued)} again; "
            f"{report.active} in flight, {report.waiting} waiting\n"
        )
    else:
        _shared.tty_info(f"{report.active} in flight, {report.waiting} waiting")


def _change(args: argparse.Namespace) -> int:
    from tui.core.queue import drop, pause, resume

    registry = _shared.open_registry()
    if args.queue_action == "drop":
        group_id, removed = drop(registry, args.job)
        _shared.write(f"dropped {group_id}: {plural(removed, 'unsent part')} removed\n")
    elif args.queue_action == "pause":
        _shared.write(f"paused {pause(registry, args.job)}\n")
    else:
        _shared.write(f"resumed {resume(registry, args.job)}\n")
    return _shared.EXIT_OK
