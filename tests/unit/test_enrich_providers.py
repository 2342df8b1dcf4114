"""Built-in enrichment providers on real-world and hostile records, and the provider registry.

Every provider answers exactly one result per record, and a bad value yields a result with a reason
for that record only, never an exception for the batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from roster.enrich.providers import (
    BUILT_IN,
    DEPARTMENTS,
    SENIORITIES,
    HttpProviderConfig,
    OfflineProvider,
    OutputMapping,
    Provider,
    ProviderResult,
    ResultStatus,
    UnknownProvider,
    built_in_provider,
    http_provider,
)
from roster.enrich.providers.http import coerce, retry_after_seconds
from roster.enrich.providers.titles import classify_title
from roster.profiles.fields import STANDARD_FIELDS, FieldType, Kind

FOUND, NOT_FOUND, ERROR = ResultStatus.FOUND, ResultStatus.NOT_FOUND, ResultStatus.ERROR

HOSTILE_VALUES: list[Any] = [
    None,
    "",
    "   \t\n ",
    0,
    -1.5,
    float("nan"),
    True,
    [],
    ["a", "b"],
    {"nested": "object"},
    b"bytes",
    "x" * 10_000_000,
    10**5000,
    "\x00\x01\x1b[31m\u202e\ufeff",
    "😀🔥👨‍👩‍👧",
    "'; DROP TABLE profiles; --",
    "<script>alert(document.cookie)</script>",
    "{{secret:API_KEY}}",
    "\ud800 lone surrogate",
]


def only(provider: Provider, record: Mapping[str, Any]) -> ProviderResult:
    results = provider.enrich([record])
    assert len(results) == 1
    return results[0]


def assert_well_formed(provider: Provider, result: ProviderResult) -> None:
    """Found values are declared outputs of the declared types; other answers say why."""
    assert isinstance(result, ProviderResult)
    if result.status is FOUND:
        assert result.values
        for field, value in result.values.items():
            assert field in provider.outputs
            expected = {FieldType.STRING: str, FieldType.BOOLEAN: bool}[provider.outputs[field]]
            assert isinstance(value, expected)
            if isinstance(value, str):
                assert value == value.strip() and value
    else:
        assert result.values == {}
        assert result.reason


# --- e-mail validation ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        (
            " Jane.Doe@Acme.IO ",
            {
                "email_status": "valid",
                "email_is_free": False,
                "email_is_role": False,
                "email_is_disposable": False,
                "work_email": "jane.doe@acme.io",
            },
        ),
        (
            "jane@mail.acme.co.uk",
            {
                "email_status": "valid",
                "email_is_free": False,
                "email_is_role": False,
                "email_is_disposable": False,
                "work_email": "jane@mail.acme.co.uk",
            },
        ),
        (
            "jane.doe+crm@gmail.com",
            {"email_status": "valid", "email_is_free": True, "email_is_role": False, "email_is_disposable": False},
        ),
        (
            "Sales+EMEA@acme.io",
            {"email_status": "risky", "email_is_free": False, "email_is_role": True, "email_is_disposable": False},
        ),
        (
            "bob@mailinator.com",
            {"email_status": "risky", "email_is_free": False, "email_is_role": False, "email_is_disposable": True},
        ),
    ],
)
def test_email_validation_classifies_addresses(email: str, expected: dict[str, Any]) -> None:
    result = only(built_in_provider("email_validation"), {"email": email})
    assert result.status is FOUND
    assert result.values == expected


@pytest.mark.parametrize("email", ["not-an-email", "jane@", "jane@@acme.io", "jane doe@acme.io", "x@localhost"])
def test_invalid_email_is_an_answer_with_its_reason(email: str) -> None:
    result = only(built_in_provider("email_validation"), {"email": email})
    assert result.status is FOUND
    assert result.values == {"email_status": "invalid"}
    assert result.reason


# --- phone normalization -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            {"phone": "+44 20 7946 0958"},
            {"phone_e164": "+442079460958", "phone_type": "fixed_line", "phone_country": "GB"},
        ),
        (
            {"phone": "(415) 555-2671", "country": "US"},
            {"phone_e164": "+14155552671", "phone_type": "fixed_line_or_mobile", "phone_country": "US"},
        ),
        (
            {"phone": "(415) 555-2671 ext. 12", "country": "United States"},
            {
                "phone_e164": "+14155552671",
                "phone_type": "fixed_line_or_mobile",
                "phone_country": "US",
                "phone_extension": "12",
            },
        ),
        (
            {"phone": "06 12 34 56 78", "country": "France"},
            {"phone_e164": "+33612345678", "phone_type": "mobile", "phone_country": "FR"},
        ),
        (
            {"phone": "030 123456", "country": "Deutschland"},
            {"phone_e164": "+4930123456", "phone_type": "fixed_line", "phone_country": "DE"},
        ),
        (
            {"phone": "020 7946 0958", "country": "uk"},
            {"phone_e164": "+442079460958", "phone_type": "fixed_line", "phone_country": "GB"},
        ),
        (
            {"phone": "1-800-FLOWERS", "country": "U.S.A."},
            {"phone_e164": "+18003569377", "phone_type": "toll_free", "phone_country": "US"},
        ),
        (  # a number column read from a spreadsheet
            {"phone": 4155552671.0, "country": "us"},
            {"phone_e164": "+14155552671", "phone_type": "fixed_line_or_mobile", "phone_country": "US"},
        ),
        ({"phone": "+800 1234 5678"}, {"phone_e164": "+80012345678", "phone_type": "toll_free"}),
        (  # the number's own country code wins over the record's country
            {"phone": "+44 20 7946 0958", "country": "US"},
            {"phone_e164": "+442079460958", "phone_type": "fixed_line", "phone_country": "GB"},
        ),
    ],
)
def test_phone_normalization(record: dict[str, Any], expected: dict[str, str]) -> None:
    result = only(built_in_provider("phone_normalization"), record)
    assert result.status is FOUND
    assert result.values == expected


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"phone": "(415) 555-2671"}, "no country code"),
        ({"phone": "(415) 555-2671", "country": "Narnia"}, "not a known country"),
        ({"phone": "ext. 12", "country": "US"}, "not a valid number"),
        ({"phone": "07700 900123", "country": "GB"}, "not a valid number"),
        ({"phone": "call me maybe", "country": "US"}, "not a phone number"),
        ({"phone": "1" * 300, "country": "US"}, "too long"),
        ({"phone": "+44 1"}, "too short"),
        ({"country": "US"}, "no phone"),
    ],
)
def test_unusable_phones_say_why(record: dict[str, Any], reason: str) -> None:
    result = only(built_in_provider("phone_normalization"), record)
    assert result.status is NOT_FOUND
    assert result.reason is not None and reason in result.reason


def test_phone_default_region_reads_national_numbers() -> None:
    from roster.enrich.providers.phones import PhoneNormalization

    result = only(PhoneNormalization(default_region="US"), {"phone": "(415) 555-2671"})
    assert result.values["phone_e164"] == "+14155552671"
    with pytest.raises(ValueError, match="unknown default region"):
        PhoneNormalization(default_region="Atlantis")


# --- name parsing --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"full_name": "José Ñúñez"}, {"first_name": "José", "last_name": "Ñúñez", "full_name": "José Ñúñez"}),
        ({"full_name": "JOSÉ ÑÚÑEZ"}, {"first_name": "José", "last_name": "Ñúñez", "full_name": "José Ñúñez"}),
        (
            {"full_name": "o'brien, conan"},
            {"first_name": "Conan", "last_name": "O'Brien", "full_name": "Conan O'Brien"},
        ),
        (
            {"full_name": "anna van der berg"},
            {"first_name": "Anna", "last_name": "van der Berg", "full_name": "Anna van der Berg"},
        ),
        (
            {"full_name": "Dr. Martin Luther King Jr."},
            {
                "first_name": "Martin",
                "middle_name": "Luther",
                "last_name": "King",
                "full_name": "Martin Luther King Jr.",
                "name_title": "Dr.",
                "name_suffix": "Jr.",
            },
        ),
        (
            {"full_name": 'John "Johnny" Smith, PhD'},
            {
                "first_name": "John",
                "last_name": "Smith",
                "full_name": "John Smith PhD",
                "name_suffix": "PhD",
                "nickname": "Johnny",
            },
        ),
        (
            {"full_name": "  Jean-Luc\u00a0\u200bPicard "},
            {"first_name": "Jean-Luc", "last_name": "Picard", "full_name": "Jean-Luc Picard"},
        ),
        (  # separate fields stay as given, each with its own case repaired
            {"first_name": "Mary Ann", "last_name": "SMITH"},
            {"first_name": "Mary Ann", "last_name": "Smith", "full_name": "Mary Ann Smith"},
        ),
        (
            {"first_name": "anna", "last_name": "van der berg"},
            {"first_name": "Anna", "last_name": "van der Berg", "full_name": "Anna van der Berg"},
        ),
        ({"last_name": "McDonald"}, {"last_name": "McDonald", "full_name": "McDonald"}),
    ],
)
def test_name_parsing(record: dict[str, Any], expected: dict[str, str]) -> None:
    result = only(built_in_provider("name_parsing"), record)
    assert result.status is FOUND
    assert result.values == expected
    assert result.reason is None


def test_a_bad_full_name_falls_back_to_first_and_last_names_and_says_so() -> None:
    result = only(
        built_in_provider("name_parsing"), {"full_name": "bob@acme.io", "first_name": "Bob", "last_name": "Ng"}
    )
    assert result.status is FOUND
    assert result.values == {"first_name": "Bob", "last_name": "Ng", "full_name": "Bob Ng"}
    assert result.reason is not None and "commercial at" in result.reason


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"full_name": "'; DROP TABLE users; --"}, "full_name is not a name (it has the character semicolon)"),
        ({"full_name": "<script>alert(1)</script>"}, "less-than sign"),
        ({"full_name": "😀 Smile"}, "grinning face"),
        ({"full_name": "Agent 007"}, "digit zero"),
        ({"full_name": "-- ..."}, "it has no letters"),
        ({"full_name": "a" * 500}, "longer than 200 characters"),
        ({"full_name": "Dr."}, "no given or family name"),
        ({"first_name": "Bob", "last_name": 42}, "last_name is not a name"),
        ({"full_name": ["Bob"]}, "full_name is not text (got list)"),
        ({}, "no full_name, first_name or last_name"),
    ],
)
def test_names_that_are_not_names_say_why(record: dict[str, Any], reason: str) -> None:
    result = only(built_in_provider("name_parsing"), record)
    assert result.status is NOT_FOUND
    assert result.reason is not None and reason in result.reason


# --- job titles ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "seniority", "department"),
    [
        ("Sr. VP, Eng", "vp", "engineering"),
        ("Chief Revenue Officer", "c_suite", "sales"),
        ("Chief Executive Officer", "c_suite", "executive"),
        ("CTO", "c_suite", "engineering"),
        ("cfo", "c_suite", "finance"),
        ("CEO & Founder", "founder", "executive"),
        ("Co-Founder & CTO", "founder", "engineering"),
        ("Founder | ex-Google PM", "founder", "executive"),
        ("Owner", "owner", "executive"),
        ("Managing Partner", "partner", None),
        ("SVP, Global Sales & Marketing", "vp", "sales"),
        ("VP of Engineering", "vp", "engineering"),
        ("Head of People", "head", "hr"),
        ("Senior Director, Product Marketing", "director", "marketing"),
        ("Director of IT", "director", "it"),
        ("IT MANAGER", "manager", "it"),
        ("Engineering Manager", "manager", "engineering"),
        ("Channel Partner Manager", "manager", "sales"),
        ("Senior Software Engineer", "senior", "engineering"),
        ("Lead Product Designer", "senior", "design"),
        ("Jr. Data Analyst", "entry", "data"),
        ("Intern, Marketing", "intern", "marketing"),
        ("Product Owner", None, "product"),
        ("Account Executive", None, "sales"),
        ("Customer Success Manager", None, "customer_success"),
        ("Technical Support Engineer", None, "support"),
        ("General Counsel", None, "legal"),
        ("HR Business Partner", None, "hr"),
        ("Executive Assistant to the CEO", None, "operations"),
        ("Assistant to the CEO", "entry", None),
        ("Chief of Staff", None, "executive"),
        ("Directeur Général", "c_suite", "executive"),
        ("Gerente de Ventas", "manager", "sales"),
        ("Leiter Vertrieb", "head", "sales"),
        ("Geschäftsführer", "c_suite", "executive"),
        ("🚀 Growth Hacker 🚀", None, "marketing"),
        ("<b>VP</b> Sales", "vp", "sales"),
        ("CTO @ Sales Hacker Inc.", "c_suite", "engineering"),
        ("VP, FP&A", "vp", "finance"),
        ("R&D Engineer", None, "engineering"),
    ],
)
def test_job_title_classification(title: str, seniority: str | None, department: str | None) -> None:
    assert classify_title(title) == (seniority, department)
    result = only(built_in_provider("job_title_classification"), {"job_title": title})
    expected = {"seniority": seniority, "department": department}
    assert result.values == {field: value for field, value in expected.items() if value is not None}


@pytest.mark.parametrize("title", ["'; DROP TABLE users; --", "asdfgh", "Former CEO", "!!!"])
def test_titles_naming_nothing_known_are_not_found(title: str) -> None:
    result = only(built_in_provider("job_title_classification"), {"job_title": title})
    assert result.status is NOT_FOUND
    assert result.reason == "job_title names no known seniority or department"


def test_title_tables_are_consistent() -> None:
    """Each phrase means one level and one department, and every value is a declared one."""
    from roster.enrich.providers import titles

    for table in (titles._SENIORITY_PHRASES, titles._DEPARTMENT_PHRASES):
        phrases = [phrase for text in table.values() for phrase in titles._phrases(text)]
        assert len(phrases) == len(set(phrases))
    for seniority, department in titles._PHRASES.values():
        assert seniority is None or seniority in SENIORITIES
        assert department is None or department in DEPARTMENTS


# --- company domain ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "domain"),
    [
        ({"email": "jane@mail.acme.co.uk"}, "acme.co.uk"),
        ({"email": "jane@gmail.com", "website": "https://www.Acme.io/about?x=1"}, "acme.io"),
        ({"work_email": "jane@acme.io", "email": "jane@globex.com"}, "acme.io"),
        ({"website": "shop.example.com.au"}, "example.com.au"),
    ],
)
def test_company_domain(record: dict[str, Any], domain: str) -> None:
    result = only(built_in_provider("company_domain"), record)
    assert result.status is FOUND
    assert result.values == {"company_domain": domain}


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"email": "jane@gmail.com"}, "email is at gmail.com, a mailbox provider"),
        ({"email": "x@mailinator.com", "website": "http://["}, "website has no domain name"),
        ({"website": "http://localhost:8080"}, "website has no domain name"),
        ({"email": None, "website": ["acme.io"]}, "no work_email, email or website"),
    ],
)
def test_company_domain_not_found_says_why(record: dict[str, Any], reason: str) -> None:
    result = only(built_in_provider("company_domain"), record)
    assert result.status is NOT_FOUND
    assert result.reason is not None and reason in result.reason


# --- every built-in on hostile values ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILT_IN))
@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=lambda value: type(value).__name__)
def test_hostile_values_never_fail_the_batch(name: str, value: Any) -> None:
    provider = built_in_provider(name)
    good = {"email": "jane@acme.io", "phone": "+1 415 555 2671", "full_name": "Jane Doe", "job_title": "CTO"}
    records = [good, *({**good, field: value} for field in provider.inputs), good]
    results = provider.enrich(records)
    assert len(results) == len(records)
    assert results[0] == results[-1]
    assert results[0].status is FOUND
    for result in results:
        assert result.status is not ERROR
        assert_well_formed(provider, result)


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_missing_inputs_are_not_found_with_a_reason(name: str) -> None:
    result = only(built_in_provider(name), {})
    assert result.status is NOT_FOUND
    assert result.reason is not None and result.reason.startswith("no ")


def test_an_unexpected_failure_is_an_error_for_that_record_only(caplog: pytest.LogCaptureFixture) -> None:
    class Fragile(OfflineProvider):
        name = "fragile"
        inputs = ("x",)
        outputs = {"y": FieldType.STRING}

        def enrich_record(self, record: Mapping[str, Any]) -> ProviderResult:
            if record["x"] == "boom":
                raise RuntimeError("secret-value-in-message")
            return ProviderResult.found({"y": record["x"]})

    results = Fragile().enrich([{"x": "a"}, {"x": "boom"}, {"x": "b"}])
    assert [result.status for result in results] == [FOUND, ERROR, FOUND]
    assert results[1].reason == "fragile failed on this record (RuntimeError)"
    assert "secret-value-in-message" not in caplog.text


RECORD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=50).map(lambda text: f"+1 {text}"),
    st.emails(),
    st.sampled_from(["+44 20 7946 0958", "Sr. VP, Eng", "José Ñúñez", "acme.io", "GB", "https://acme.io"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)
INPUT_FIELDS = sorted({field for provider in BUILT_IN.values() for field in provider.inputs} | {"other"})


@pytest.mark.parametrize("name", sorted(BUILT_IN))
@settings(max_examples=150, deadline=None)
@given(records=st.lists(st.dictionaries(st.sampled_from(INPUT_FIELDS), RECORD_VALUES), max_size=8))
def test_any_records_get_exactly_one_well_formed_result_each(name: str, records: list[dict[str, Any]]) -> None:
    provider = built_in_provider(name)
    results = provider.enrich(records)
    assert len(results) == len(records)
    for result in results:
        assert result.status is not ERROR
        assert_well_formed(provider, result)


# --- registry ------------------------------------------------------------------------------------------------------


def test_built_in_providers_declare_what_they_read_write_and_cost() -> None:
    assert set(BUILT_IN) == {
        "email_validation",
        "phone_normalization",
        "name_parsing",
        "job_title_classification",
        "company_domain",
    }
    people = STANDARD_FIELDS[Kind.PEOPLE]
    for name in BUILT_IN:
        provider = built_in_provider(name)
        assert provider.name == name and provider.inputs and provider.outputs
        assert provider.credits_per_record == 0.0
        assert provider.rate_limit_per_second is None
        for field, kind in provider.outputs.items():
            assert people.get(field, kind) == kind  # standard fields keep their catalog type
    assert built_in_provider("phone_normalization", credits_per_record=0.1).credits_per_record == 0.1
    with pytest.raises(UnknownProvider):
        built_in_provider("crystal_ball")


HTTP_CONFIG: dict[str, Any] = {
    "name": "acme_people",
    "method": "POST",
    "url": "https://api.acme.test/v1/people/{{email}}?fields=title",
    "headers": {"Authorization": "Bearer {{secret:ACME_KEY}}"},
    "body": {"email": "{{email}}", "name": "{{full_name}}", "filters": [{"domain": "{{company_domain}}"}]},
    "inputs": ["email"],
    "optional_inputs": ["full_name", "company_domain"],
    "outputs": {
        "job_title": {"path": "data.person.title"},
        "employee_count": {"path": "data.company.size", "type": "number"},
        "personal_email": {"path": "emails[0].address"},
    },
}


def test_http_provider_from_stored_configuration() -> None:
    provider = http_provider(HTTP_CONFIG, lambda name: "k")
    assert provider.name == "acme_people"
    assert provider.inputs == ("email", "full_name", "company_domain")
    assert provider.outputs == {
        "job_title": FieldType.STRING,
        "employee_count": FieldType.NUMBER,
        "personal_email": FieldType.STRING,
    }
    assert (provider.credits_per_record, provider.batch_size, provider.rate_limit_per_second) == (1.0, 50, 5.0)
    assert provider.config.secret_names == {"ACME_KEY"}
    assert OutputMapping(path="emails[0].address").steps() == ["emails", 0, "address"]
    assert OutputMapping(path="[2].id").steps() == [2, "id"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"url": "https://{{email}}.acme.test/"}, "fixed host"),
        ({"url": "file:///etc/passwd"}, "fixed host"),
        ({"url": "https://api.acme.test/?key={{secret:ACME_KEY}}"}, "secrets may not go in the url"),
        ({"url": "https://api.acme.test/{{phone}}"}, "not an input"),
        ({"url": "https://api.acme.test/{{ email"}, "malformed placeholder"),
        ({"headers": {"X-Email": "{{email}}"}}, "headers may use secrets only"),
        ({"body": {"q": "{{linkedin_url}}"}}, "not an input"),
        ({"outputs": {"job_title": {"path": "data..title"}}}, "path must look like"),
        ({"outputs": {"Job Title": {"path": "title"}}}, "is not a field name"),
        ({"outputs": {}}, "at least 1"),
        ({"name": "Acme People"}, "should match pattern"),
        ({"rate_limit_per_second": 0}, "greater than 0"),
        ({"surprise": True}, "Extra inputs are not permitted"),
    ],
)
def test_bad_http_configurations_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        http_provider({**HTTP_CONFIG, **change}, lambda name: "k")


def test_http_provider_may_not_take_a_built_in_name() -> None:
    with pytest.raises(ValueError, match="built-in"):
        http_provider(HttpProviderConfig.model_validate({**HTTP_CONFIG, "name": "company_domain"}), lambda name: "k")


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("CTO", FieldType.STRING, "CTO"),
        (12, FieldType.STRING, "12"),
        ("120", FieldType.NUMBER, 120),
        (" 1.5 ", FieldType.NUMBER, 1.5),
        (3.0, FieldType.NUMBER, 3),
        (10**400, FieldType.NUMBER, 10**400),
        ("TRUE", FieldType.BOOLEAN, True),
        (False, FieldType.BOOLEAN, False),
        ("2024-02-29", FieldType.DATE, "2024-02-29"),
        ("2024-02-29T10:00:00Z", FieldType.DATE, "2024-02-29T10:00:00Z"),
        (["python", 3, None, ""], FieldType.LIST, ["python", "3"]),
        ("solo", FieldType.LIST, ["solo"]),
    ],
)
def test_response_values_are_coerced_to_the_output_type(value: Any, kind: FieldType, expected: Any) -> None:
    assert coerce(value, kind) == expected


@pytest.mark.parametrize(
    ("value", "kind", "message"),
    [
        ({"a": 1}, FieldType.STRING, "expected text, got an object"),
        (True, FieldType.STRING, "expected text, got a boolean"),
        ("x" * 10_001, FieldType.STRING, "longer than"),
        ("many", FieldType.NUMBER, "expected a number"),
        ("nan", FieldType.NUMBER, "infinity or NaN"),
        (float("inf"), FieldType.NUMBER, "infinity or NaN"),
        (True, FieldType.NUMBER, "expected a number, got a boolean"),
        ("yes", FieldType.BOOLEAN, "expected true or false"),
        ("last tuesday", FieldType.DATE, "ISO 8601"),
        ([{"a": 1}], FieldType.LIST, "expected text, got an object"),
    ],
)
def test_response_values_of_the_wrong_type_say_why(value: Any, kind: FieldType, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        coerce(value, kind)


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("3", 3.0), (" 0 ", 0.0), ("soon", None), ("-5", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_header(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header) == expected


def test_a_workspace_reads_only_its_own_enrichment_secrets() -> None:
    from roster.enrich.definitions import workspace_secrets

    read = workspace_secrets("acme", lambda name: f"value of {name}")
    assert read("roster/acme/enrich-clearbit") == "value of roster/acme/enrich-clearbit"
    for name in ("roster/other/enrich-clearbit", "roster/acme-evil/enrich", "AdminKeySecret"):
        with pytest.raises(PermissionError, match="cannot read secret"):
            read(name)


def test_enrichments_read_only_secrets_named_for_enrichment() -> None:
    from roster.enrich.definitions import enrichment_secrets

    read = enrichment_secrets(lambda name: f"value of {name}")
    assert read("roster/acme/enrich-clearbit") == "value of roster/acme/enrich-clearbit"
    for name in ("roster/acme/salesforce", "roster/acme/enrich/nested", "AdminKeySecret"):
        with pytest.raises(PermissionError, match="enrichment secrets are named"):
            read(name)
