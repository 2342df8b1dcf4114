"""`python -m roster_dev.emulators.salesforce`: serve a generated org for the demo or for poking with curl."""

from __future__ import annotations

import argparse
import contextlib
import threading

from roster_dev.emulators.salesforce.generate import generate_org
from roster_dev.emulators.salesforce.server import SalesforceEmulator


def main(argv: list[str] | None = None) -> None:
    """Generate an org, serve it until interrupted, and print what a client needs to connect."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--leads", type=int, default=1500)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    org = generate_org(args.seed, args.accounts, args.contacts, args.leads, roster_fields=True)
    with SalesforceEmulator(org, port=args.port) as emulator:
        creds = emulator.credentials
        print(f"instance_url  {emulator.instance_url}")
        print(f"session_id    {emulator.session_id}")
        print(f"ca_path       {emulator.ca_path}")
        print(f"login         {creds.username} / {creds.password}{creds.security_token}")
        print(f"client        {creds.client_id} / {creds.client_secret}")
        print(f"callback      {creds.callback_url}")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
