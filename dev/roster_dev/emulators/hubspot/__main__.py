"""`python -m roster_dev.emulators.hubspot`: serve a generated portal for the demo or for poking with curl."""

from __future__ import annotations

import argparse
import contextlib
import threading

from roster_dev.emulators.hubspot.generate import generate_portal
from roster_dev.emulators.hubspot.server import TIERS, HubSpotEmulator


def main(argv: list[str] | None = None) -> None:
    """Generate a portal, serve it until interrupted, and print what a client needs to connect."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--companies", type=int, default=500)
    parser.add_argument("--deals", type=int, default=None)
    parser.add_argument("--tier", choices=sorted(TIERS), default="professional")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    portal = generate_portal(args.seed, contacts=args.contacts, companies=args.companies, deals=args.deals)
    with HubSpotEmulator(portal, port=args.port, tier=args.tier) as emulator:
        app = emulator.auth.app
        print(f"host          {emulator.url}")
        print(f"ca_path       {emulator.ca_path}")
        print(f"token         {emulator.token}")
        print(f"oauth client  {app.client_id} / {app.client_secret}")
        print(f"redirect_uri  {app.redirect_uri}")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
