"""`roster salesforce ...`: connect an org, turn syncs on, map fields, sync now, and read status and API usage.

Every command talks to the Roster API (`ROSTER_URL`, `ROSTER_API_KEY`); `api-math` also works offline.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

import typer

from roster_dev.cli.common import DEFAULT_URL, ApiKey, Url, call, console
from roster_dev.cli.crm import (
    ExportWords,
    MappingWords,
    env_option,
    export_commands,
    import_commands,
    mapping_command,
    show_status,
)

salesforce = typer.Typer(
    help="Salesforce import: connection, sync toggles, field mapping, status.", no_args_is_help=True
)

OBJECTS = "Account, Contact, Lead, Opportunity, Task or Event"


@salesforce.command("connect")
def connect(
    method: Annotated[
        str | None,
        typer.Option(help="jwt (recommended), password, client_credentials or session (default: from what is given)"),
    ] = None,
    login_url: Annotated[str | None, env_option("SALESFORCE_LOGIN_URL", "Login host or My Domain URL")] = None,
    username: Annotated[str | None, env_option("SALESFORCE_USERNAME", "User name (jwt and password methods)")] = None,
    password: Annotated[str | None, env_option("SALESFORCE_PASSWORD", "Password", secret=True)] = None,
    security_token: Annotated[
        str | None, env_option("SALESFORCE_SECURITY_TOKEN", "Security token", secret=True)
    ] = None,
    client_id: Annotated[str | None, env_option("SALESFORCE_CLIENT_ID", "Connected app consumer key")] = None,
    client_secret: Annotated[str | None, env_option("SALESFORCE_CLIENT_SECRET", "Consumer secret", secret=True)] = None,
    instance_url: Annotated[str | None, env_option("SALESFORCE_INSTANCE_URL", "Instance URL (session method)")] = None,
    session_id: Annotated[str | None, env_option("SALESFORCE_SESSION_ID", "Session id", secret=True)] = None,
    private_key_file: Annotated[
        Path | None, env_option("SALESFORCE_PRIVATE_KEY_FILE", "PEM key of the connected app's certificate (jwt)")
    ] = None,
    audience: Annotated[
        str | None, env_option("SALESFORCE_AUDIENCE", "JWT audience (default: from the login URL)")
    ] = None,
    ca_bundle: Annotated[str | None, env_option("SALESFORCE_CA_BUNDLE", "Local stacks only: the emulator's CA")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Save the workspace's Salesforce credentials (in Secrets Manager) and test them."""
    given = {
        "login_url": login_url,
        "username": username,
        "password": password,
        "security_token": security_token,
        "client_id": client_id,
        "client_secret": client_secret,
        "instance_url": instance_url,
        "session_id": session_id,
        "private_key": private_key_file.read_text() if private_key_file else None,
        "audience": audience,
    }
    method = method or (
        "session" if session_id else "jwt" if private_key_file else "password" if username else "client_credentials"
    )
    allowed = {
        "jwt": ("login_url", "client_id", "username", "private_key", "audience"),
        "password": ("login_url", "username", "password", "security_token", "client_id", "client_secret"),
        "client_credentials": ("login_url", "client_id", "client_secret"),
        "session": ("instance_url", "session_id"),
    }
    if method not in allowed:
        raise typer.BadParameter("jwt, password, client_credentials or session", param_hint="--method")
    body: dict[str, Any] = {"method": method, **{k: v for k, v in given.items() if k in allowed[method] and v}}
    if ca_bundle:
        body["ca_bundle"] = ca_bundle
    view = call(url, api_key, "PUT", "/v1/salesforce/connection", body)
    console.print_json(data=view["credentials"])
    _show_check(view["test"])


@salesforce.command("authorize")
def authorize(
    client_id: Annotated[str, env_option("SALESFORCE_CLIENT_ID", "Connected app consumer key")],
    client_secret: Annotated[str, env_option("SALESFORCE_CLIENT_SECRET", "Consumer secret", secret=True)],
    redirect_uri: Annotated[str, env_option("SALESFORCE_REDIRECT_URI", "The connected app's callback URL")],
    login_url: Annotated[str, env_option("SALESFORCE_LOGIN_URL", "Login host or My Domain URL")] = (
        "https://login.salesforce.com"
    ),
    ca_bundle: Annotated[str | None, env_option("SALESFORCE_CA_BUNDLE", "Local stacks only: the emulator's CA")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Start the web server flow: prints the URL to open; after approving, run `roster salesforce callback URL`."""
    body: dict[str, Any] = {
        "login_url": login_url,
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": redirect_uri,
    }
    if ca_bundle:
        body["ca_bundle"] = ca_bundle
    started = call(url, api_key, "POST", "/v1/salesforce/connection/authorize", body)
    console.print(f"Open this URL, log in and approve (within {started['expires_in'] // 60} minutes):")
    console.print(started["authorize_url"], soft_wrap=True)
    console.print("then run: roster salesforce callback '<the URL Salesforce redirected to>'")


@salesforce.command("callback")
def callback(
    redirected: Annotated[str, typer.Argument(help="The URL Salesforce redirected to (with code and state)")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Finish the web server flow: Roster exchanges the code for a refresh token (kept in Secrets Manager)."""
    query = {key: values[0] for key, values in parse_qs(urlsplit(redirected.strip()).query).items()}
    if "code" not in query:
        reason = query.get("error_description") or query.get("error") or "no code"
        raise typer.BadParameter(f"Salesforce did not authorize: {reason}", param_hint="REDIRECTED")
    body = {"code": query["code"], "state": query.get("state", "")}
    view = call(url, api_key, "POST", "/v1/salesforce/connection/callback", body)
    console.print_json(data=view["credentials"])
    _show_check(view["test"])


@salesforce.command("test")
def test(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Log in with the saved credentials and read the org's limits."""
    _show_check(call(url, api_key, "POST", "/v1/salesforce/connection/test"))


def _show_check(check: dict[str, Any] | None) -> None:
    if check is None:
        return
    if not check["ok"]:
        console.print(f"[red]connection failed[/] ({check['code']}): {check['reason']}")
        raise typer.Exit(1)
    remaining = check.get("api_requests_remaining")
    console.print(f"[green]connected[/] to {check['instance_url']}; API requests left today: {remaining}")


@salesforce.command("status")
def status(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Each object's toggle, sync state, high-water mark and latest run."""
    found = call(url, api_key, "GET", "/v1/salesforce/status")
    show_status(found, "sync", "high-water mark", lambda mark: (mark or {}).get("stamp", ""))


import_commands(salesforce, "salesforce", OBJECTS, toggle="import sync")


def _roster_name(sf_field: str) -> str:
    """A Roster field name for a Salesforce field (ICP_Member__c → icp_member)."""
    return re.sub(r"[^a-z0-9]+", "_", sf_field.removesuffix("__c").lower()).strip("_")


mapping_command(
    salesforce,
    OBJECTS,
    MappingWords(
        system="salesforce",
        column="Salesforce field",
        field="field",
        placeholder="SfField",
        rule_of="the field's",
        member_fields="text/picklist field",
        checked="fields",
        roster_name=_roster_name,
    ),
)


@salesforce.command("api-math")
def api_math(
    records: Annotated[int, typer.Argument(min=0, help="Records in the org")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Estimate the Salesforce API calls to import and to export N records (offline without an API key)."""
    if api_key:
        found = call(url, api_key, "GET", "/v1/salesforce/api-math", records=str(records))
    else:
        from roster.connectors.salesforce.importer import api_math as estimate

        found = estimate(records).model_dump()
    console.print(f"{found['records']:,} records")
    console.print(f"  import (Bulk API 2.0 query, 50,000 a page): about {found['import_calls']:,} API calls per sync")
    console.print(
        f"  export (Bulk API 2.0 ingest, 10,000 a batch): {found['export_batches']:,} batches, "
        f"about {found['export_calls']:,} API calls"
    )


export_commands(
    salesforce,
    ExportWords(
        system="salesforce",
        label="Salesforce",
        objects_help="Account or Contact",
        record_key="salesforce_id",
        field_key="salesforce_field",
        batches_key="jobs",
        batches_word="ingest jobs",
        key_option="external_id_field",
        key_help="External-id field holding the Roster id",
        key_default="Roster_Id__c",
    ),
)
