"""Salesforce emulator: an in-memory org, a seeded generator and an HTTPS server speaking REST + Bulk API 2.0.

org = generate_org(seed=7, accounts=200, contacts=5000, leads=800, roster_fields=True)
with SalesforceEmulator(org) as emulator:
    sf = emulator.client()  # simple-salesforce, direct mode, trusting emulator.ca_path
"""

from roster_dev.emulators.salesforce.bulk import QUERY_TIMEOUT, Chunking
from roster_dev.emulators.salesforce.errors import SalesforceError
from roster_dev.emulators.salesforce.generate import add_roster_fields, generate_org
from roster_dev.emulators.salesforce.oauth import Credentials, OAuth, self_signed_certificate
from roster_dev.emulators.salesforce.org import Clock, LeadConversion, ManualClock, SalesforceOrg, ValidationRule
from roster_dev.emulators.salesforce.schema import FieldDef, FieldType, ObjectDef
from roster_dev.emulators.salesforce.server import FailureKind, SalesforceEmulator

__all__ = [
    "QUERY_TIMEOUT",
    "Chunking",
    "Clock",
    "Credentials",
    "FailureKind",
    "FieldDef",
    "FieldType",
    "LeadConversion",
    "ManualClock",
    "OAuth",
    "ObjectDef",
    "SalesforceEmulator",
    "SalesforceError",
    "SalesforceOrg",
    "ValidationRule",
    "add_roster_fields",
    "generate_org",
    "self_signed_certificate",
]
