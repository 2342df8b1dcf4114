"""Actions as the API and the handlers use them: destinations and actions saved, changes taken in, drains run.

Three triggers move deliveries: the intake (segment events, through an EventBridge rule and a queue) writes them;
the delivery queue (SQS FIFO, one message group per destination) runs drains and backfill pages; a sweep every
minute re-queues a drain for each destination with deliveries due (retries waiting out their backoff, a pause
ended). A "queue per destination" is thus a message group of one FIFO queue: destinations are created by users,
not by the template.
"""

from __future__ import annotations

import contextlib
import itertools
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

import requests
from pydantic import BaseModel, Field

from roster.actions.config import Action, ActionEdit, ActionSpec, Destination, DestinationStatus
from roster.actions.delivery import DRAIN_SECONDS, Drain, DrainReport, log_attempt, release, sendable
from roster.actions.destinations.base import Adapter, AudienceStatus, KeptSecret, Outcome, Transition
from roster.actions.destinations.registry import DestinationKind, destination_kind
from roster.actions.intake import SETTLED, Change, Context, DeliveryStatus, plan, skipped
from roster.connectors.core.secrets import SecretValues
from roster.connectors.core.trust import check_ca_bundle, local_stack
from roster.outbound import guard
from roster.profiles.fields import Kind
from roster.profiles.values import format_time
from roster.segments.compiler import CompiledFilter, compile_filter
from roster.segments.events import Change as SegmentChange
from roster.segments.events import MembershipChange
from roster.segments.filters import (
    COMPANY_PREFIX,
    FilterProblem,
    Group,
    catalog_for,
    check_filter,
    referenced_fields,
)
from roster.segments.manager import SegmentManager, SegmentNotFound
from roster.store.actions import ACTIONS, DESTINATIONS, ActionStore, State, StoredDelivery
from roster.store.profiles import ProfileStore
from roster.store.workspaces import WorkspaceStore, custom_fields

BACKFILL_PAGE = 200
T = TypeVar("T")
INTAKE_ATTEMPTS = 5
MAX_REPLAY = 500


class DrainDestination(BaseModel):
    type: Literal["drain"] = "drain"
    workspace: str
    destination_id: str


class BackfillPage(BaseModel):
    type: Literal["backfill"] = "backfill"
    workspace: str
    action_id: str
    destination_id: str
    cursor: str | None = None


DeliveryWork = Annotated[DrainDestination | BackfillPage, Field(discriminator="type")]


def secret_name(workspace: str, destination_id: str) -> str:
    return f"roster/{workspace}/destination-{destination_id}"


class DestinationSecrets(SecretValues):
    """A destination's secret in Secrets Manager, never DynamoDB."""

    def save(self, workspace: str, destination_id: str, secret: str) -> None:
        self._put(secret_name(workspace, destination_id), secret)

    def load(self, workspace: str, destination_id: str) -> str | None:
        return self._get(secret_name(workspace, destination_id))

    def renew(self, workspace: str, destination_id: str, secret: str) -> None:
        """Save the secret as an adapter renewed it (a new access token, a rotated refresh token); nothing when the
        destination was deleted meanwhile."""
        with contextlib.suppress(self.secrets.exceptions.ResourceNotFoundException):
            self.secrets.put_secret_value(SecretId=secret_name(workspace, destination_id), SecretString=secret)

    def delete(self, workspace: str, destination_id: str) -> None:
        self._delete(secret_name(workspace, destination_id))

    def kept(self, workspace: str, destination_id: str) -> KeptSecret:
        """The destination's secret as its adapter reads it again and saves it anew (never logged)."""
        return KeptDestinationSecret(self, workspace, destination_id)


@dataclass(frozen=True)
class KeptDestinationSecret:
    secrets: DestinationSecrets
    workspace: str
    destination_id: str

    def load(self) -> str | None:
        return self.secrets.load(self.workspace, self.destination_id)

    def save(self, secret: str) -> None:
        self.secrets.renew(self.workspace, self.destination_id, secret)


class Refused(ValueError):
    """A configuration that cannot be saved, or an operation that cannot run now (the message says why)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Actions:
    store: ActionStore
    profiles: ProfileStore
    segments: SegmentManager
    workspaces: WorkspaceStore
    secrets: DestinationSecrets
    queue: Callable[[BaseModel, str], None]  # (message, group): the delivery queue, one group per destination
    clock: Callable[[], datetime] = _now
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic  # paces requests within the rate budget
    _gates: dict[tuple[str, str, str, str], CompiledFilter] = field(default_factory=dict)  # per action, day, gate

    # --- destinations -----------------------------------------------------------------------

    def destination(self, workspace: str, destination_id: str) -> Destination | None:
        data = self.store.get_config(workspace, DESTINATIONS + destination_id)
        return None if data is None else Destination.model_validate(data)

    def destinations(self, workspace: str) -> list[Destination]:
        return [Destination.model_validate(data) for data in self.store.configs(workspace, DESTINATIONS)]

    def save_destination(self, workspace: str, destination: Destination) -> None:
        self.store.put_config(workspace, DESTINATIONS + destination.destination_id, destination.model_dump(mode="json"))

    def create_destination(
        self,
        workspace: str,
        name: str,
        kind: str,
        settings: Mapping[str, Any],
        secret: str | None,
        requests_per_second: float | None = None,
        ca_bundle: str | None = None,
    ) -> tuple[Destination, str | None]:
        """Check and save a destination; returns it and the secret Roster made for it, if it made one."""
        entry = self._kind(kind)
        checked = entry.settings.model_validate(dict(settings))
        if entry.check is not None:
            try:
                entry.check(checked)
            except (ValueError, requests.RequestException) as refused:
                raise Refused(f"settings: {refused}") from None
        made = None
        if secret is None:
            if entry.new_secret is None:
                raise Refused(f"a {kind} destination needs its secret (credentials)")
            secret = made = entry.new_secret()
        self._check_secret(entry, secret)
        if ca_bundle is not None:
            try:
                ca_bundle = check_ca_bundle(ca_bundle)
            except ValueError as refused:
                raise Refused(f"ca_bundle: {refused}") from None
        rate = requests_per_second or entry.requests_per_second
        destination = Destination(
            destination_id=f"dst_{uuid.uuid4().hex[:16]}",
            name=name,
            kind=kind,
            settings=checked.model_dump(mode="json"),
            requests_per_second=rate,
            ca_bundle=ca_bundle,
            created_at=format_time(self.clock()),
        )
        self.secrets.save(workspace, destination.destination_id, secret)
        self.save_destination(workspace, destination)
        return destination, made

    def rotate_secret(self, workspace: str, destination_id: str, secret: str | None, keep_previous: bool) -> str | None:
        """A new secret (made by Roster when none is given); the previous one kept beside it while receivers
        switch (webhooks sign with both). Returns the secret Roster made, if it made one."""
        destination = self.require_destination(workspace, destination_id)
        entry = self._kind(destination.kind)
        made = None
        if secret is None:
            if entry.new_secret is None:
                raise Refused(f"send the new {destination.kind} secret")
            secret = made = entry.new_secret()
        previous = self.secrets.load(workspace, destination_id) or ""
        combined = f"{secret} {previous.split()[0]}" if keep_previous and previous else secret
        combined = combined if entry.new_secret else secret  # only kinds whose secrets Roster makes sign with two
        self._check_secret(entry, combined)
        self.secrets.save(workspace, destination_id, combined)
        return made

    def delete_destination(self, workspace: str, destination_id: str) -> None:
        self.require_destination(workspace, destination_id)
        users = [action.action_id for action in self.actions(workspace) if action.destination_id == destination_id]
        if users:
            raise Refused(f"actions send to this destination; delete them first: {', '.join(users)}", 409)
        self.store.delete_config(workspace, DESTINATIONS + destination_id)
        self.secrets.delete(workspace, destination_id)

    def enable_destination(self, workspace: str, destination_id: str) -> Destination:
        destination = self.require_destination(workspace, destination_id).model_copy(
            update={"status": DestinationStatus.ACTIVE, "disabled_reason": None, "paused_until": None}
        )
        self.save_destination(workspace, destination)
        self.nudge(workspace, destination_id)
        return destination

    def test_destination(self, workspace: str, destination_id: str) -> Outcome:
        destination = self.require_destination(workspace, destination_id)
        entry = self._kind(destination.kind)
        if entry.probe is None:
            raise Refused(f"{destination.kind} destinations have no test call", 409)
        settings = entry.settings.model_validate(destination.settings)
        secret = self._secret(workspace, destination)
        kept = self.secrets.kept(workspace, destination_id)
        return entry.probe(settings, secret, self.session(destination), kept)

    def pending(self, workspace: str, destination_id: str) -> int:
        return self.store.count_due(workspace, destination_id)

    def session(self, destination: Destination) -> requests.Session:
        """An HTTP session to public addresses only, trusting the local emulator's CA on a local stack."""
        session = guard(requests.Session())
        if destination.ca_bundle and local_stack():
            session.verify = destination.ca_bundle
        return session

    def require_destination(self, workspace: str, destination_id: str) -> Destination:
        destination = self.destination(workspace, destination_id)
        if destination is None:
            raise Refused(f"no destination {destination_id!r}", 404)
        return destination

    def _secret(self, workspace: str, destination: Destination) -> str:
        secret = self.secrets.load(workspace, destination.destination_id)
        if secret is None:
            raise Refused(f"destination {destination.destination_id} has lost its secret: create it again", 409)
        return secret

    @staticmethod
    def _check_secret(entry: DestinationKind, secret: str) -> None:
        if entry.check_secret is not None:
            try:
                entry.check_secret(secret)
            except ValueError as refused:
                raise Refused(f"secret: {refused}") from None

    @staticmethod
    def _kind(kind: str) -> DestinationKind:
        try:
            return destination_kind(kind)
        except ValueError as unknown:
            raise Refused(str(unknown)) from None

    # --- actions ----------------------------------------------------------------------------

    def action(self, workspace: str, action_id: str) -> Action | None:
        data = self.store.get_config(workspace, ACTIONS + action_id)
        return None if data is None else Action.model_validate(data)

    def actions(self, workspace: str) -> list[Action]:
        return [Action.model_validate(data) for data in self.store.configs(workspace, ACTIONS)]

    def create_action(self, workspace: str, spec: ActionSpec, created_by: str = "roster") -> Action:
        """Check and save an action. With a quality gate, it follows a kept segment of its segment's members
        that pass the gate; that segment's first build is the members at creation, not sent (see `backfill`)."""
        segment = self.segments.segments.get(workspace, spec.segment_id)
        if segment is None:
            raise Refused(f"no segment {spec.segment_id!r}", 404)
        destination = self.require_destination(workspace, spec.destination_id)
        entry = self._kind(destination.kind)
        try:
            options = entry.options.model_validate(spec.options)
        except ValueError as refused:
            raise Refused(f"options: {refused}") from None
        if entry.audience is not None and (spec.trigger != "both" or spec.entry != "every"):
            raise Refused("an ad audience follows its segment: trigger must be both and entry every")
        gate = None if spec.quality_gate is None else self._checked_gate(workspace, segment.kind, spec.quality_gate)
        action = Action(
            **spec.model_dump(exclude={"quality_gate", "options"}),
            quality_gate=gate,
            options=options.model_dump(mode="json"),
            action_id=f"act_{uuid.uuid4().hex[:16]}",
            kind=segment.kind,
            created_at=format_time(self.clock()),
        )
        try:
            self.adapter(workspace, action)
        except ValueError as refused:
            raise Refused(f"destination: {refused}") from None
        if gate is not None:
            try:
                kept = self.segments.create_kept(
                    workspace,
                    segment.segment_id,
                    gate,
                    name=f"{segment.name} · passes the quality gate of {action.name}",
                    kept_by=f"action {action.action_id} ({action.name})",
                    created_by=created_by,
                )
            except FilterProblem as problem:
                raise Refused(f"quality_gate: {problem}") from None
            action.gate_segment_id, action.gate_first_run = kept.segment_id, kept.rebuild_run
        self.store.put_config(workspace, ACTIONS + action.action_id, action.model_dump(mode="json"))
        return action

    def _checked_gate(self, workspace: str, kind: Kind, gate: Group) -> Group:
        if any(name.startswith(COMPANY_PREFIX) for name in referenced_fields(gate)):
            raise Refused("a quality gate reads the record's own fields, not its company's")
        try:
            return check_filter(gate, catalog_for(kind, custom_fields(self.workspaces, workspace)))
        except FilterProblem as problem:
            raise Refused(f"quality_gate: {problem}") from None

    def edit_action(self, workspace: str, action_id: str, edit: ActionEdit) -> Action:
        """Rename, turn off (its deliveries are held) or on (they are sent), change what is sent, the cooldown, or
        the quality gate (its kept segment is recomputed: who passes now enters, who fails now exits)."""
        action = self.require_action(workspace, action_id)
        changes = edit.model_dump(exclude_unset=True)
        if "quality_gate" in changes and (edit.quality_gate is None) != (action.quality_gate is None):
            raise Refused("a quality gate is set when an action is made: make a new action to add or remove one", 409)
        try:
            spec = ActionSpec.model_validate(action.model_dump(include=set(ActionSpec.model_fields)) | changes)
        except ValueError as refused:
            raise Refused(str(refused)) from None
        edited = action.model_copy(update=spec.model_dump(exclude={"quality_gate"}))
        if edit.quality_gate is not None:
            edited.quality_gate = self._checked_gate(workspace, action.kind, edit.quality_gate)
            try:
                if action.gate_segment_id:  # (an action saved before gates were kept checks it on entry only)
                    self.segments.change_kept(workspace, action.gate_segment_id, edited.quality_gate)
            except FilterProblem as problem:
                raise Refused(f"quality_gate: {problem}") from None
        self.store.put_config(workspace, ACTIONS + action_id, edited.model_dump(mode="json"))
        if edited.enabled and not action.enabled:
            self._release_held(workspace, edited)
        return edited

    def _release_held(self, workspace: str, action: Action) -> None:
        """Make the deliveries held while the action was off due again (each record's in its order)."""
        for delivery in self.store.every_delivery(workspace, action.action_id):
            if delivery.status == DeliveryStatus.HELD:
                release(self.store, delivery, format_time(self.clock()))
        self.nudge(workspace, action.destination_id)

    def delete_action(self, workspace: str, action_id: str) -> None:
        """Delete the action and the segment its quality gate kept; deliveries stay listed on the records."""
        action = self.require_action(workspace, action_id)
        self.store.delete_config(workspace, ACTIONS + action_id)
        if action.gate_segment_id:
            with contextlib.suppress(SegmentNotFound):  # gone with the segment it was kept on
                self.segments.delete(workspace, action.gate_segment_id, by_keeper=True)

    def audience(self, workspace: str, action_id: str) -> AudienceStatus | None:
        """The ad audience's size as the platform reports it and its minimum; None for other kinds."""
        action = self.require_action(workspace, action_id)
        destination = self.require_destination(workspace, action.destination_id)
        entry = self._kind(destination.kind)
        return None if entry.audience is None else self._call(workspace, action, destination, entry, entry.audience)

    def adapter(self, workspace: str, action: Action) -> Adapter:
        destination = self.require_destination(workspace, action.destination_id)
        entry = self._kind(destination.kind)
        return self._call(workspace, action, destination, entry, entry.build)

    def _call(
        self,
        workspace: str,
        action: Action,
        destination: Destination,
        entry: DestinationKind,
        hook: Callable[[Any, Any, str, requests.Session, KeptSecret], T],
    ) -> T:
        """A kind's hook on an action's destination: its settings, the action's options, the secret, a session
        trusting the destination's CA, and where the secret is kept."""
        return hook(
            entry.settings.model_validate(destination.settings),
            entry.options.model_validate(action.options),
            self._secret(workspace, destination),
            self.session(destination),
            self.secrets.kept(workspace, destination.destination_id),
        )

    def require_action(self, workspace: str, action_id: str) -> Action:
        action = self.action(workspace, action_id)
        if action is None:
            raise Refused(f"no action {action_id!r}", 404)
        return action

    # --- intake -----------------------------------------------------------------------------

    def intake(self, changes: Iterable[MembershipChange]) -> int:
        """Turn membership changes into deliveries of the actions on their segments; returns how many were
        written. Queues a drain of each destination that got work."""
        written = 0
        keyed = sorted(changes, key=lambda change: change.event.workspace)
        for workspace, group in itertools.groupby(keyed, key=lambda change: change.event.workspace):
            by_segment: dict[str, list[Change]] = {}
            for change in group:
                by_segment.setdefault(change.event.segment_id, []).append(self._change(change))
            nudged: set[str] = set()
            for action in self.actions(workspace):  # an action that is off takes changes in too: they are held
                failing: set[str] = set()
                if action.quality_gate is not None and action.segment_id in by_segment:
                    failing = self._log_skips(workspace, action, by_segment[action.segment_id])
                    written += len(failing)
                followed = self._news(workspace, action, by_segment.get(action.followed_segment_id, []))
                if action.gate_segment_id is None:  # made before gates were kept: checked on entry only
                    followed = [
                        each
                        for each in followed
                        if each.transition is not Transition.ENTERED or each.profile_id not in failing
                    ]
                created = self._take_all(workspace, action, followed) if followed else 0
                written += created
                if created:
                    nudged.add(action.destination_id)
            for destination_id in sorted(nudged):
                self.nudge(workspace, destination_id)
        return written

    def _news(self, workspace: str, action: Action, changes: list[Change]) -> list[Change]:
        """The changes without the entries of a gate's first build by records that were in the action's segment
        before the action was created: members at creation, which only a backfill sends. One who entered the
        segment since (or whose entry is not written yet) is news, whichever of the build and its own change put it
        in the gate's segment first."""

        def at_first_build(change: Change) -> bool:
            return change.run is not None and change.run == action.gate_first_run

        first_build = {each.profile_id for each in changes if at_first_build(each)}
        if not first_build:
            return changes
        since = self.segments.segments.entered_at(workspace, action.segment_id, first_build)
        return [
            each for each in changes if not at_first_build(each) or since.get(each.profile_id, "~") > action.created_at
        ]

    @staticmethod
    def _change(change: MembershipChange) -> Change:
        event = change.event
        if change.change is SegmentChange.ENTERED:
            return Change(event.profile_id, Transition.ENTERED, event.time, event.time, event.run)
        return Change(event.profile_id, Transition.EXITED, event.entered_at or "", event.time)

    def _take_all(self, workspace: str, action: Action, changes: list[Change]) -> int:
        """Apply a batch of changes to one action, reading what they need a batch at a time (states, profiles,
        the segment), each record's changes in the order they happened."""
        ids = [change.profile_id for change in changes]
        states = self.store.states(workspace, action.action_id, ids)
        profiles = self.profiles.get_many(workspace, action.kind, ids)
        written = 0
        for change in sorted(changes, key=lambda each: (each.stint, each.transition is Transition.EXITED)):
            profile = profiles.get(change.profile_id)
            fields = dict(profile.fields) if profile else {}
            merged = list(profile.merged_from) if profile else []
            history = tuple(self.store.states(workspace, action.action_id, merged).values()) if merged else ()
            context = Context(fields, history)
            written += self._take(workspace, action, change, context, states)
        return written

    def _take(self, workspace: str, action: Action, change: Change, context: Context, states: dict[str, State]) -> int:
        """Apply one change to one record's state (read before, in `states`, and kept up to date there); returns
        the deliveries written (0 when stale)."""
        state = states.get(change.profile_id, State())
        for _ in range(INTAKE_ATTEMPTS):
            if not change.stint:  # an exit from before exits named their stay: it ends the current one
                change = Change(change.profile_id, change.transition, state.stint, change.at)
                if not state.stint:
                    return 0
            now = format_time(self.clock())
            result = plan(workspace, action, state, change, context, now)
            if result is None:
                return 0
            if self.store.commit(workspace, action.action_id, change.profile_id, result.state, new=result.new):
                result.state.version = (state.version or 0) + 1
                states[change.profile_id] = result.state
                return len(result.new)
            state = self.store.state(workspace, action.action_id, change.profile_id)  # another writer was first
        raise RuntimeError(f"record {change.profile_id} of action {action.action_id} kept changing under the intake")

    def _log_skips(self, workspace: str, action: Action, changes: list[Change]) -> set[str]:
        """Log each entry into the action's segment by a record failing its quality gate as a `skipped` delivery
        (the kept segment it follows never lets it in); returns those records."""
        assert action.quality_gate is not None
        entries = [change for change in changes if change.transition is Transition.ENTERED]
        if not entries:
            return set()
        key = (workspace, action.action_id, self.clock().date().isoformat(), action.quality_gate.model_dump_json())
        if key not in self._gates:
            catalog = catalog_for(action.kind, custom_fields(self.workspaces, workspace))
            self._gates[key] = compile_filter(action.quality_gate, catalog, self.clock().date())
        gate = self._gates[key]
        profiles = self.profiles.get_many(workspace, action.kind, [change.profile_id for change in entries])
        failing = set()
        for change in entries:
            profile = profiles.get(change.profile_id)
            if profile is not None and not gate.matches(profile.fields, {}):
                self.store.save_delivery(skipped(workspace, action, change, profile.fields, format_time(self.clock())))
                failing.add(change.profile_id)
        return failing

    # --- delivery ---------------------------------------------------------------------------

    def nudge(self, workspace: str, destination_id: str) -> None:
        """Queue a drain of the destination (after whatever of it is queued already)."""
        self.queue(
            DrainDestination(workspace=workspace, destination_id=destination_id), f"{workspace}#{destination_id}"
        )

    def handle(self, work: DrainDestination | BackfillPage) -> DrainReport | int:
        if isinstance(work, BackfillPage):
            return self.backfill_page(work)
        return self.drain(work.workspace, work.destination_id)

    def drain(self, workspace: str, destination_id: str, seconds: float | None = None) -> DrainReport:
        destination = self.destination(workspace, destination_id)
        if destination is None or not sendable(destination, self.clock()):
            return DrainReport(stopped="disabled" if destination else "deleted")
        drain = Drain(
            store=self.store,
            workspace=workspace,
            destination=destination,
            actions=lambda action_id: self.action(workspace, action_id),
            adapter_for=lambda action: self.adapter(workspace, action),
            save_destination=lambda changed: self.save_destination(workspace, changed),
            clock=self.clock,
            sleep=self.sleep,
            monotonic=self.monotonic,
        )
        mine = [each.action_id for each in self.actions(workspace) if each.destination_id == destination_id]
        report = drain.run(DRAIN_SECONDS if seconds is None else seconds, mine)
        if report.more:
            self.nudge(workspace, destination_id)
        return report

    def sweep(self) -> int:
        """Queue a drain for each destination with deliveries due now; returns how many were queued."""
        now = self.clock()
        queued = 0
        for workspace, destination_id in self.store.all_destinations():
            destination = self.destination(workspace, destination_id)
            if destination is None or not sendable(destination, now):
                continue
            if self.store.due(workspace, destination_id, format_time(now), 1):
                self.nudge(workspace, destination_id)
                queued += 1
        return queued

    # --- backfill and replay ----------------------------------------------------------------

    def backfill(self, workspace: str, action_id: str, dry_run: bool) -> int:
        """How many records are in the action's segment now; unless a dry run, queue them as entries."""
        action = self.require_action(workspace, action_id)
        members = self.segments.segments.count_members(workspace, action.followed_segment_id)
        if not dry_run:
            self.queue(
                BackfillPage(workspace=workspace, action_id=action_id, destination_id=action.destination_id),
                f"{workspace}#{action.destination_id}",
            )
        return members

    def backfill_page(self, work: BackfillPage) -> int:
        """Take one page of the segment's current members in as entries, then queue the next page."""
        action = self.action(work.workspace, work.action_id)
        if action is None:
            return 0
        entries, cursor = self.segments.segments.member_entries(
            work.workspace, action.followed_segment_id, work.cursor, BACKFILL_PAGE
        )
        changes = [Change(profile_id, Transition.ENTERED, at, at) for profile_id, at in entries]
        written = self._take_all(work.workspace, action, changes)
        if cursor is not None:
            self.queue(work.model_copy(update={"cursor": cursor}), f"{work.workspace}#{work.destination_id}")
        if written:
            self.nudge(work.workspace, action.destination_id)
        return written

    def replay(self, workspace: str, action_id: str, delivery_id: str) -> StoredDelivery:
        """Send a settled delivery again, after whatever its record still has queued."""
        action = self.require_action(workspace, action_id)
        delivery = self.store.delivery(workspace, action_id, delivery_id)
        if delivery is None:
            raise Refused(f"no delivery {delivery_id!r} of action {action_id}", 404)
        if delivery.status not in SETTLED:
            raise Refused(f"delivery {delivery_id} is {delivery.status}: it is still to be sent", 409)
        for _ in range(INTAKE_ATTEMPTS):
            state = self.store.state(workspace, action_id, delivery.profile_id)
            now = format_time(self.clock())
            delivery.status = DeliveryStatus.BLOCKED if state.backlog else DeliveryStatus.PENDING
            delivery.due_at = None if state.backlog else now
            delivery.attempts, delivery.updated_at = 0, now
            log_attempt(delivery, now, "replay", "replayed by hand")
            state.backlog = [*state.backlog, delivery_id]
            if self.store.commit(workspace, action_id, delivery.profile_id, state, [delivery]):
                self.nudge(workspace, action.destination_id)
                return delivery
            fresh = self.store.delivery(workspace, action_id, delivery_id)
            if fresh is None:
                break
            delivery = fresh
        raise Refused(f"delivery {delivery_id} is changing; try again", 409)

    def replay_all(self, workspace: str, action_id: str, status: str) -> int:
        """Replay up to MAX_REPLAY settled deliveries of one status (`dead`: the dead letters)."""
        chosen = (each for each in self.store.every_delivery(workspace, action_id) if each.status == status)
        replayed = 0
        for delivery in itertools.islice(chosen, MAX_REPLAY):
            self.replay(workspace, action_id, delivery.delivery_id)
            replayed += 1
        return replayed

    def deliveries(
        self, workspace: str, action_id: str, status: str | None, cursor: str | None, limit: int
    ) -> tuple[list[StoredDelivery], str | None]:
        self.require_action(workspace, action_id)
        page, following = self.store.action_deliveries(workspace, action_id, cursor, limit)
        return [each for each in page if status is None or each.status == status], following

    def record_deliveries(self, workspace: str, kind: Kind, profile_id: str, limit: int) -> list[StoredDelivery]:
        return self.store.record_deliveries(workspace, str(kind), profile_id, limit)
