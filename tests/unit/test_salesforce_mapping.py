"""The pure parts of the Salesforce connector: auto-map, override checks, value reading, API math, secrets."""

from __future__ import annotations

from typing import Any

import pytest

from roster.connectors.core.links import most_recent_that_fit
from roster.connectors.core.mapping import ExportRule, FieldMapping, MappingError
from roster.connectors.salesforce.connection import CREDENTIALS, PasswordCredentials, SessionCredentials
from roster.connectors.salesforce.describe import (
    ObjectMapping,
    apply_mapping,
    auto_map,
    read_value,
    validate_mapping,
)
from roster.connectors.salesforce.importer import api_math
from roster.connectors.salesforce.objects import query_fields
from roster.profiles.fields import Kind
from roster.profiles.limits import MAX_RELATED_RECORDS, MAX_VALUE_BYTES, stored_size
from roster.profiles.values import coerce_value
from roster_dev.emulators.salesforce import generate_org

ORG = generate_org(3, accounts=2, contacts=2, leads=2, roster_fields=True)


def describe(obj: str) -> dict[str, Any]:
    return ORG.describe(obj)


def test_auto_map_takes_standard_pairs_and_similar_names() -> None:
    contact = auto_map("Contact", describe("Contact")).fields
    assert {name: mapping.field for name, mapping in contact.items()}.items() >= {
        "Email": "email",
        "FirstName": "first_name",
        "Title": "job_title",
        "MailingCountry": "country",
        "LinkedIn_URL__c": "linkedin_url",
        "OwnerId": "owner",
        "LeadSource": "lead_source",
        "Department": "department",
    }.items()
    assert all(mapping.export is ExportRule.NEVER for mapping in contact.values())
    assert "Roster_Id__c" not in contact and "AccountId" not in contact and "SystemModstamp" not in contact
    lead = {name: m.field for name, m in auto_map("Lead", describe("Lead")).fields.items()}
    assert lead["Status"] == "lead_status" and lead["Company"] == "company_name" and lead["Website"] == "company_domain"
    account = {name: m.field for name, m in auto_map("Account", describe("Account")).fields.items()}
    assert account["Website"] == "domain" and account["NumberOfEmployees"] == "employee_count"
    assert account["AnnualRevenue"] == "annual_revenue" and account["BillingCountry"] == "country"
    opportunity = {name: m.field for name, m in auto_map("Opportunity", describe("Opportunity")).fields.items()}
    assert opportunity["StageName"] == "stage" and opportunity["CloseDate"] == "close_date"


def test_similarity_maps_custom_fields_by_name_or_label() -> None:
    custom = {"fields": [{"name": "Seniority_Level__c", "label": "Seniority", "type": "picklist"}]}
    assert auto_map("Contact", custom).fields["Seniority_Level__c"].field == "seniority"
    unrelated = {"fields": [{"name": "Shoe_Size__c", "label": "Shoe size", "type": "double"}]}
    assert auto_map("Contact", unrelated).fields == {}


def test_overrides_are_checked_against_describe() -> None:
    with pytest.raises(MappingError, match=r"Contact has no field 'Emial' \(did you mean 'Email'\?\)"):
        validate_mapping("Contact", {"Emial": "email"}, describe("Contact"))
    with pytest.raises(MappingError, match="more than one Salesforce field maps to email"):
        validate_mapping("Contact", {"Email": "email", "Title": "email"}, describe("Contact"))
    with pytest.raises(MappingError, match="computed by the sync"):
        validate_mapping("Account", {"AnnualRevenue": "open_pipeline"}, describe("Account"))
    with pytest.raises(MappingError, match="not one of the Opportunity fields"):
        validate_mapping("Opportunity", {"Probability": "probability"}, describe("Opportunity"))
    with pytest.raises(MappingError, match="not a valid field name"):
        validate_mapping("Contact", {"Department": "Team Name"}, describe("Contact"))
    mapping = validate_mapping(
        "Contact",
        {"Email": FieldMapping(field="email", export=ExportRule.FILL_BLANK), "HasOptedOutOfEmail": "email_opt_out"},
        describe("Contact"),
    )
    assert mapping.fields["Email"].export is ExportRule.FILL_BLANK
    assert mapping.fields["HasOptedOutOfEmail"].sf_type == "boolean"  # recorded from describe, whatever was sent


def test_apply_mapping_reads_types_and_drops_only_bad_values() -> None:
    mapping = validate_mapping(
        "Contact",
        {"Email": "email", "HasOptedOutOfEmail": "email_opt_out", "Title": "job_title", "Phone": "phone"},
        describe("Contact"),
    )
    row = {"Email": "not an email", "HasOptedOutOfEmail": "true", "Title": " CTO ", "Phone": "", "Other": "x"}
    values, problems = apply_mapping(mapping, row)
    assert values == {"email_opt_out": True, "job_title": "CTO", "phone": None}
    assert len(problems) == 1 and problems[0].startswith("Contact.Email:")
    assert read_value("int", "12") == 12 and read_value("currency", "12.5") == 12.5 and read_value("double", "3") == 3.0
    assert read_value("boolean", False) is False and read_value("string", "") is None


def test_compound_fields_are_refused_with_their_components_and_never_auto_mapped() -> None:
    with pytest.raises(MappingError) as refused:
        validate_mapping("Contact", {"MailingAddress": "city"}, describe("Contact"))
    message = str(refused.value)
    assert "Contact.MailingAddress is a compound address field" in message and "Bulk API" in message
    assert "MailingStreet, MailingCity, MailingState, MailingPostalCode, MailingCountry" in message
    with pytest.raises(MappingError, match=r"Headquarters__Latitude__s, Headquarters__Longitude__s"):
        validate_mapping("Account", {"Headquarters__c": "headquarters"}, describe("Account"))
    for obj in ("Account", "Contact", "Lead"):
        mapped = auto_map(obj, describe(obj)).fields
        assert not {name for name, field in mapped.items() if field.sf_type in ("address", "location")}
    contact = {name: m.field for name, m in auto_map("Contact", describe("Contact")).fields.items()}
    assert contact.items() >= {"MailingCity": "city", "MailingState": "state", "MailingCountry": "country"}.items()
    lead = {name: m.field for name, m in auto_map("Lead", describe("Lead")).fields.items()}
    assert lead.items() >= {"City": "city", "State": "state", "Country": "country"}.items()
    account = {name: m.field for name, m in auto_map("Account", describe("Account")).fields.items()}
    assert account.items() >= {"BillingCity": "city", "BillingState": "state", "BillingCountry": "country"}.items()


def test_a_compound_field_never_reaches_a_bulk_query() -> None:
    saved = ObjectMapping(
        object="Contact",
        fields={
            "MailingAddress": FieldMapping(field="address", sf_type="address"),
            "MailingCity": FieldMapping(field="city"),
        },
    )
    fields = query_fields(saved)
    assert "MailingAddress" not in fields and "MailingCity" in fields


def test_multipicklists_map_to_lists() -> None:
    assert read_value("multipicklist", "API;Platform;Services") == ["API", "Platform", "Services"]
    assert read_value("multipicklist", "API") == ["API"] and read_value("multipicklist", "") is None
    mapping = validate_mapping("Contact", {"Product_Interest__c": "tags"}, describe("Contact"))
    assert mapping.fields["Product_Interest__c"].sf_type == "multipicklist"
    values, problems = apply_mapping(mapping, {"Product_Interest__c": "API;Platform"})
    assert values == {"tags": ["API", "Platform"]} and problems == []
    custom = validate_mapping("Contact", {"Product_Interest__c": "product_interest"}, describe("Contact"))
    assert apply_mapping(custom, {"Product_Interest__c": "Training"})[0] == {"product_interest": ["Training"]}
    with pytest.raises(MappingError, match=r"Contact.Product_Interest__c is a multi-select picklist.*'job_title'"):
        validate_mapping("Contact", {"Product_Interest__c": "job_title"}, describe("Contact"))
    auto = auto_map(
        "Contact", {"fields": [{"name": "Department_List__c", "label": "Department", "type": "multipicklist"}]}
    )
    assert auto.fields == {}  # `department` holds text, so the similar name is not taken


def test_export_rules_are_refused_on_formula_and_read_only_fields() -> None:
    def export(obj: str, name: str, target: str) -> None:
        always = {name: FieldMapping(field=target, export=ExportRule.ALWAYS)}
        validate_mapping(obj, always, describe(obj))  # type: ignore[arg-type]

    with pytest.raises(MappingError) as refused:
        export("Contact", "Email_Domain__c", "email_domain")
    assert str(refused.value) == (
        'Contact.Email_Domain__c is a formula field: Salesforce computes it (MID(Email, FIND("@", Email) + 1, 255)) '
        "and refuses writes to it, so its export rule must be never"
    )
    with pytest.raises(MappingError, match=r"Account.Revenue_Per_Employee__c is a formula field"):
        export("Account", "Revenue_Per_Employee__c", "revenue_per_employee")
    with pytest.raises(MappingError, match=r"Contact.CreatedDate is read-only in Salesforce.*must be never"):
        export("Contact", "CreatedDate", "created_date")
    createable_only = {"fields": [{"name": "Code__c", "type": "string", "createable": True, "updateable": False}]}
    with pytest.raises(MappingError, match=r"Contact.Code__c can only be set when Salesforce creates the record"):
        validate_mapping(
            "Contact", {"Code__c": FieldMapping(field="code", export=ExportRule.FILL_BLANK)}, createable_only
        )
    imported = validate_mapping("Contact", {"Email_Domain__c": "email_domain"}, describe("Contact"))
    assert imported.fields["Email_Domain__c"].export is ExportRule.NEVER  # reading a formula is fine


def test_api_math() -> None:
    # 100 result pages; login, count, job, two polls, deleted list; 10 windows of 500,000: 9 more jobs of 3
    # calls each and one call for the oldest record's stamp
    assert api_math(5_000_000).import_calls == 100 + 6 + 9 * 3 + 1
    assert api_math(500_000).import_calls == 10 + 6  # one window
    assert api_math(5_000_000).export_batches == 500
    assert api_math(5_000_000).export_calls == 500 * 6 + 1
    assert api_math(0).export_calls == 0
    assert api_math(0).import_calls == 6


def test_credentials_never_show_secrets() -> None:
    credentials = PasswordCredentials(
        username="a@b.test", password="hunter2", security_token="TOKEN", client_id="id", client_secret="shh"
    )
    shown = str(credentials.redacted()) + repr(credentials) + str(credentials)
    assert "hunter2" not in shown and "TOKEN" not in shown and "shh" not in shown
    parsed = CREDENTIALS.validate_python({"method": "session", "instance_url": "https://x.test", "session_id": "abc"})
    assert isinstance(parsed, SessionCredentials) and parsed.session_id.get_secret_value() == "abc"


def test_a_company_with_many_opportunities_keeps_the_most_recent_that_fit_one_field() -> None:
    deals = [
        {"id": f"006{n:015d}", "name": f"Renewal {n} " + "x" * 200, "stage": "Prospecting", "amount": 1000.0}
        for n in range(MAX_RELATED_RECORDS)
    ]  # newest first, as the sync lists them; together about 250 KB
    kept = most_recent_that_fit(deals)
    assert kept == deals[: len(kept)] and 0 < len(kept) < len(deals)
    assert stored_size(kept) <= MAX_VALUE_BYTES
    assert coerce_value(Kind.COMPANIES, "opportunities", kept)  # storable as it is
    assert most_recent_that_fit(deals[:3]) == deals[:3]
