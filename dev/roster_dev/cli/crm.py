"""What `roster salesforce` and `roster hubspot` share: the import commands every CRM has (history, enable, sync),
the status and mapping output, mapping edits (fields, export rules, segments) and the export commands, one piece
of code for both systems."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.table import Table

from roster_dev.cli.common import DEFAULT_URL, ApiKey, Url, call, console, split_pair

Limit = Annotated[int, typer.Option(min=1, max=100)]


def env_option(envvar: str, text: str, secret: bool = False) -> Any:
    """An option also read from an environment variable (a secret's variable stays out of --help)."""
    return typer.Option(envvar=envvar, help=text, show_default=False, show_envvar=not secret)


def import_commands(app: typer.Typer, system: str, object_help: str, toggle: str) -> None:
    """Add a CRM's `history`, `enable` and `sync` commands; `toggle` is what the system calls its import switch."""
    prefix = f"/v1/{system}/objects"
    obj_type = Annotated[str, typer.Argument(help=object_help)]

    def history(obj: str, limit: Limit = 20, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
        """An object's sync runs, newest first, with their counts and API calls."""
        found = call(url, api_key, "GET", f"{prefix}/{obj}/history", limit=str(limit))
        table = Table(
            "run", "mode", "status", "started", "read", "created", "updated", "merged", "deleted", "API calls"
        )
        for run in found["runs"]:
            counts = run["counts"]
            table.add_row(
                run["run_id"],
                run["mode"],
                run["status"],
                run["started_at"],
                *(str(counts[name]) for name in ("read", "created", "updated", "merged", "deleted")),
                str(run["api_calls"]),
            )
        console.print(table)

    def enable(obj: str, off: bool = False, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
        found = call(url, api_key, "PUT", f"{prefix}/{obj}", {"enabled": not off})
        console.print(f"{found['object']}: {toggle} {'on' if found['enabled'] else 'off'}")

    enable.__doc__ = f"Turn {toggle} on (or --off) for an object; the scheduler starts with a full sync."
    off_type = Annotated[bool, typer.Option("--off", help=f"Turn {toggle} off instead")]

    def sync(
        obj: str,
        full: Annotated[bool, typer.Option("--full", help="Read every record, not only what changed")] = False,
        url: Url = DEFAULT_URL,
        api_key: ApiKey = "",
    ) -> None:
        """Sync an object now (incremental after the first full sync, or --full)."""
        started = call(url, api_key, "POST", f"{prefix}/{obj}/sync", {"mode": "full" if full else None})
        console.print(f"{started['object']} {started['mode']} sync {started['run_id']} {started['status']}")

    for command, types in ((history, {}), (enable, {"off": off_type}), (sync, {})):
        # Typer reads options from annotations: each command takes this system's object argument
        command.__annotations__.update(obj=obj_type, **types)
        app.command(command.__name__)(command)


def show_status(found: dict[str, Any], toggle: str, mark: str, mark_of: Callable[[Any], str]) -> None:
    """`status`: the connection, then each object's toggle, sync state, mark and latest run."""
    console.print("connected" if found["connected"] else "[yellow]not connected[/]")
    table = Table("object", toggle, "state", mark, "last run", "read", "API calls", "error")
    for row in found["objects"]:
        run = row.get("last_run") or {}
        table.add_row(
            row["object"],
            "on" if row["enabled"] else "off",
            row["status"],
            mark_of(row.get("watermark")),
            f"{run.get('mode', '')} {run.get('status', '')}".strip(),
            str((run.get("counts") or {}).get("read", "")),
            str(run.get("api_calls", "")),
            row.get("error") or "",
        )
    console.print(table)


def show_mapping(table: Table, current: dict[str, Any], preview: Callable[[], Any] | None) -> None:
    """`mapping`: the fields table, whether it is saved, and ten records as it stores them when asked."""
    console.print(table)
    console.print("saved" if current["saved"] else "automatic (not saved yet; the first sync saves it)")
    if preview is not None:
        for record in preview()["records"]:
            console.print(record["id"], json.dumps(record["fields"], ensure_ascii=False, default=str)[:150])


def edited_mapping(
    current: dict[str, Any],
    set_: list[str] | None,
    rule: list[str] | None,
    segment: list[str] | None,
    roster_name: Callable[[str], str],
    word: str,
) -> dict[str, Any]:
    """`mapping --set/--rule/--segment`: the mapping to save, from the current one (`word` names a CRM field)."""
    keep = ("field", "export", "segment", "member_value")
    fields: dict[str, Any] = {name: {key: each.get(key) for key in keep} for name, each in current["fields"].items()}
    for change in set_ or []:
        name, roster_field = split_pair(change, "--set", f"{word}=roster_field")
        if roster_field:
            fields[name] = {**fields.get(name, {"export": "never"}), "field": roster_field}
        else:
            fields.pop(name, None)
    for change in rule or []:
        name, export = split_pair(change, "--rule", f"{word}=never|always|fill_blank")
        if name not in fields:
            raise typer.BadParameter(f"{name} is not mapped; map it with --set first", param_hint="--rule")
        fields[name]["export"] = export
    for change in segment or []:
        name, rest = split_pair(change, "--segment", f"{word}=segment_id[=value]")
        segment_id, _, value = rest.partition("=")
        fields[name] = {
            "field": fields.get(name, {}).get("field") or roster_name(name),
            "export": "always",
            "segment": segment_id,
            "member_value": value or None,
        }
    return fields


def mapping_table(current: dict[str, Any], label: str) -> Table:
    table = Table(label, "Roster field", "type", "export")
    for name, each in sorted(current["fields"].items()):
        export = each["export"] if not each.get("segment") else f"segment {each['segment']}"
        table.add_row(name, each["field"], each["sf_type"], export)
    return table


@dataclass(frozen=True)
class MappingWords:
    """How a CRM's `mapping` command reads: what it calls a field, and how its fields are checked."""

    system: str  # "hubspot"
    column: str  # the mapping table's first column: "HubSpot property"
    field: str  # "property", "field"
    placeholder: str  # a field in the options' help: "property", "SfField"
    rule_of: str  # whose export rule --rule sets: "its", "the field's"
    member_fields: str  # the other fields a segment's membership can go to: "text/picklist field"
    checked: str  # what a saved mapping is checked against: "fields"
    roster_name: Callable[[str], str]  # a Roster field name for a CRM field --segment maps


def mapping_command(app: typer.Typer, object_help: str, words: MappingWords) -> None:
    """Add a CRM's `mapping` command: show an object's mapping, edit it (fields, export rules, segments), preview it."""
    prefix, word = f"/v1/{words.system}/objects", words.placeholder

    def mapping(
        obj: str,
        set_: list[str] | None = None,
        rule: list[str] | None = None,
        segment: list[str] | None = None,
        preview: Annotated[bool, typer.Option("--preview", help="Show 10 records as the mapping stores them")] = False,
        url: Url = DEFAULT_URL,
        api_key: ApiKey = "",
    ) -> None:
        current = call(url, api_key, "GET", f"{prefix}/{obj}/mapping")
        if set_ or rule or segment:
            fields = edited_mapping(current, set_, rule, segment, words.roster_name, word)
            current = call(url, api_key, "PUT", f"{prefix}/{obj}/mapping", {"fields": fields})
        preview_path = f"{prefix}/{obj}/mapping/preview"
        show_mapping(
            mapping_table(current, words.column),
            current,
            (lambda: call(url, api_key, "POST", preview_path, {})) if preview else None,
        )

    mapping.__doc__ = (
        f"Show an object's {words.field} mapping; --set, --rule and --segment change it (checked against the "
        f"object's {words.checked}) and save it."
    )
    mapping.__annotations__.update(
        obj=Annotated[str, typer.Argument(help=object_help)],
        set_=Annotated[
            list[str] | None,
            typer.Option("--set", help=f"{word}=roster_field (repeatable); {word}= unmaps it"),
        ],
        rule=Annotated[
            list[str] | None,
            typer.Option(
                "--rule", help=f"{word}=never|always|fill_blank: {words.rule_of} scheduled export rule (repeatable)"
            ),
        ],
        segment=Annotated[
            list[str] | None,
            typer.Option(
                "--segment",
                help=f"{word}=segment_id[=value]: write the segment's membership to this checkbox (or "
                f"{words.member_fields}, with the value written while a member); set on entry, cleared on exit "
                "(repeatable)",
            ),
        ],
    )
    app.command("mapping")(mapping)


@dataclass(frozen=True)
class ExportWords:
    """How a CRM's export reads in the CLI: its objects, record and field keys, and what it writes with."""

    system: str  # "salesforce"
    label: str  # "Salesforce"
    objects_help: str  # "Account or Contact"
    record_key: str  # the preview's and rejections' record id key
    field_key: str  # the preview change's CRM field key
    batches_key: str  # the run's count of write jobs or calls
    batches_word: str  # "ingest jobs"
    key_option: str  # the setting naming what creates are upserted on
    key_help: str
    key_default: str | None


def export_commands(parent: typer.Typer, words: ExportWords) -> None:
    """Add `<system> export status|enable|preview|run|history`."""
    app = typer.Typer(
        help=f"Export to {words.label}: settings, dry-run preview, export now, history ({words.objects_help}).",
        no_args_is_help=True,
    )
    parent.add_typer(app, name="export")
    prefix = f"/v1/{words.system}/export"
    obj_type = Annotated[str, typer.Argument(help=words.objects_help)]

    def status(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
        """Each object's export settings, state and latest run."""
        table = Table(
            "object", "export", "create new", "state", "last export", "updated", "created", "rejected", "error"
        )
        for row in call(url, api_key, "GET", prefix):
            settings, run = row["settings"], row.get("last_run") or {}
            counts = run.get("counts") or {}
            table.add_row(
                row["object"],
                f"on, every {settings['every_hours']} h" if settings["enabled"] else "off",
                "on" if settings["create_new"] else "off",
                row["status"],
                row.get("mark") or "",
                *(str(counts.get(name, "")) for name in ("updated", "created", "rejected")),
                row.get("error") or "",
            )
        console.print(table)

    def enable(
        obj: str,
        off: bool = False,
        create_new: bool = False,
        key: str | None = words.key_default,
        create_segment: str | None = None,
        every_hours: int = 24,
        url: Url = DEFAULT_URL,
        api_key: ApiKey = "",
    ) -> None:
        body = {
            "enabled": not off,
            "create_new": create_new,
            words.key_option: key,
            "create_segment": create_segment,
            "every_hours": every_hours,
        }
        found = call(url, api_key, "PUT", f"{prefix}/{obj}", body)
        settings = found["settings"]
        console.print(
            f"{found['object']}: export sync {'on' if settings['enabled'] else 'off'}, "
            f"create new records {'on' if settings['create_new'] else 'off'}"
        )

    enable.__doc__ = f"Turn export sync on (or --off) for {words.objects_help}; it runs every 24 hours by default."
    enable_types = {
        "off": Annotated[bool, typer.Option("--off", help="Turn export sync off instead")],
        "create_new": Annotated[
            bool, typer.Option("--create-new", help=f"Also create records for profiles {words.label} does not have")
        ],
        "key": Annotated[str | None, typer.Option(f"--{words.key_option.replace('_', '-')}", help=words.key_help)],
        "create_segment": Annotated[str | None, typer.Option(help="Create records only for this segment's members")],
        "every_hours": Annotated[int, typer.Option(min=1, max=168, help="Hours between scheduled exports")],
    }

    def preview(
        obj: str,
        limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
        url: Url = DEFAULT_URL,
        api_key: ApiKey = "",
    ) -> None:
        """Dry run: the records and fields the next export would write, old → new, and the rule that allows it."""
        found = call(url, api_key, "POST", f"{prefix}/{obj}/preview", limit=str(limit))
        table = Table("record", "field", "old", "new", "rule")
        for write in found["writes"]:
            record = write[words.record_key] or f"new ({write['profile_id']})"
            for change in write["changes"]:
                rule = change["rule"] if not change.get("segment") else f"segment {change['segment']}"
                table.add_row(record, change[words.field_key], _shown(change["old"]), _shown(change["new"]), rule)
                record = ""
        console.print(table)
        more = " (and more)" if found["more"] else ""
        considered = found["considered"]
        console.print(f"{len(found['writes'])} records would be written{more}; {considered} profiles considered")

    def run(
        obj: str,
        full: Annotated[
            bool, typer.Option("--full", help="Consider every linked record, not only what changed")
        ] = False,
        wait: Annotated[bool, typer.Option("--wait", help="Follow the run until it ends")] = False,
        url: Url = DEFAULT_URL,
        api_key: ApiKey = "",
    ) -> None:
        """Export an object now (--wait: show its progress until it ends)."""
        started = call(url, api_key, "POST", f"{prefix}/{obj}/run", {"full": True if full else None})
        console.print(f"{started['object']} export {started['run_id']} {started['status']}")
        if not wait:
            return
        with console.status("exporting…") as shown:
            while True:
                runs = call(url, api_key, "GET", f"{prefix}/{obj}/history", limit="5")["runs"]
                found = next(each for each in runs if each["run_id"] == started["run_id"])
                counts = found["counts"]
                shown.update(
                    f"{found['phase']}: {counts['considered']:,} profiles considered, {counts['updated']:,} updated, "
                    f"{counts['created']:,} created, {counts['rejected']:,} refused, "
                    f"{found[words.batches_key]} {words.batches_word}"
                )
                if found["status"] != "running":
                    break
                time.sleep(1)
        console.print(
            f"{found['status']}: {counts['updated']:,} updated, {counts['created']:,} created, "
            f"{counts['unchanged']:,} unchanged, {counts['rejected']:,} refused; "
            f"{found[words.batches_key]} {words.batches_word}, {found['api_calls']} API calls"
            + (f" ({found['error']})" if found.get("error") else "")
        )
        if found["status"] != "succeeded":
            raise typer.Exit(1)

    def history(obj: str, limit: Limit = 20, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
        found = call(url, api_key, "GET", f"{prefix}/{obj}/history", limit=str(limit))
        table = Table(
            "run", "status", "started", "updated", "created", "unchanged", "rejected", words.batches_word, "API calls"
        )
        for each in found["runs"]:
            counts = each["counts"]
            table.add_row(
                each["run_id"],
                each["status"],
                each["started_at"],
                *(str(counts[name]) for name in ("updated", "created", "unchanged", "rejected")),
                str(each[words.batches_key]),
                str(each["api_calls"]),
            )
        console.print(table)
        for each in found["runs"][:1]:
            for rejection in each["rejections"]:
                fields = ", ".join(rejection["fields"])
                record = rejection[words.record_key] or f"new ({rejection['profile_id']})"
                console.print(f"[yellow]refused[/] {record} [{fields}] {rejection['code']}: {rejection['message']}")

    history.__doc__ = f"An object's export runs, newest first, and the records {words.label} refused."
    for command, name, types in (
        (status, "status", {}),
        (enable, "enable", {"obj": obj_type, **enable_types}),
        (preview, "preview", {"obj": obj_type}),
        (run, "run", {"obj": obj_type}),
        (history, "history", {"obj": obj_type}),
    ):
        command.__annotations__.update(types)
        app.command(name)(command)


def _shown(value: Any) -> str:
    return "" if value is None else str(value)
