"""Field values keep provenance; survivorship picks the winner; merges lose nothing."""

import pytest

from roster.profiles.fields import Kind
from roster.profiles.limits import MAX_FIELDS, MAX_TEXT
from roster.profiles.model import IncomingRecord, Profile, Status, absorb, apply_record, resolve_fields
from roster.profiles.values import ValueProblem, coerce_fields, record_problem


def record(source: str, rid: str, when: str, **fields: object) -> IncomingRecord:
    return IncomingRecord(source, "people", rid, f"2024-01-0{when}T00:00:00.000000Z", dict(fields))


def profile_with(*records: IncomingRecord) -> Profile:
    profile = Profile("ws", Kind.PEOPLE, "01P", created_at="2024-01-01T00:00:00.000000Z")
    for each in records:
        apply_record(profile, each)
    return profile


def test_most_recent_non_empty_value_wins_with_provenance() -> None:
    profile = profile_with(
        record("crm", "1", "1", job_title="Engineer", city="Paris"),
        record("csv", "a", "3", job_title="CTO"),
    )
    profile.refresh()
    assert profile.fields == {"city": "Paris", "job_title": "CTO"}
    assert profile.provenance["job_title"].source == "csv"
    assert profile.provenance["job_title"].observed_at == "2024-01-03T00:00:00.000000Z"
    assert profile.provenance["city"].record == "crm:people:1"


def test_source_priority_overrides_recency_per_field() -> None:
    profile = profile_with(
        record("crm", "1", "1", job_title="Engineer", city="Paris"),
        record("csv", "a", "3", job_title="CTO", city="Lyon"),
    )
    profile.refresh({"job_title": ["crm"]})
    assert profile.fields["job_title"] == "Engineer"
    assert profile.fields["city"] == "Lyon"


def test_unchanged_record_changes_nothing_and_changed_values_are_kept_as_history() -> None:
    profile = profile_with(record("crm", "1", "1", job_title="Engineer"))
    assert not apply_record(profile, record("crm", "1", "2", job_title="Engineer"))
    assert apply_record(profile, record("crm", "1", "3", job_title="CTO"))
    snapshot = profile.records["crm:people:1"]
    assert snapshot.values == {"job_title": "CTO"}
    assert snapshot.previous == [
        {
            "field": "job_title",
            "value": "Engineer",
            "observed_at": "2024-01-01T00:00:00.000000Z",
            "replaced_at": "2024-01-03T00:00:00.000000Z",
        }
    ]


def test_a_record_touches_only_the_fields_it_carries_and_none_clears() -> None:
    profile = profile_with(record("api", "1", "1", job_title="Engineer", city="Paris"))
    assert apply_record(profile, record("api", "1", "2", phone="+1 555"))
    assert profile.records["api:people:1"].values == {"job_title": "Engineer", "city": "Paris", "phone": "+1 555"}
    assert apply_record(profile, record("api", "1", "3", city=None))
    assert profile.records["api:people:1"].values == {"job_title": "Engineer", "phone": "+1 555"}
    assert profile.records["api:people:1"].previous[-1]["value"] == "Paris"
    assert not apply_record(profile, record("api", "1", "4", city=None))


def test_merge_keeps_both_sides_and_leaves_a_redirect() -> None:
    survivor = profile_with(record("crm", "1", "1", email="a@x.com"))
    other = Profile("ws", Kind.PEOPLE, "01Q", created_at="x", status=Status.ARCHIVED)
    apply_record(other, record("csv", "2", "2", phone="+33 1"))
    absorb(survivor, other)
    assert set(survivor.records) == {"crm:people:1", "csv:people:2"}
    assert other.status is Status.MERGED and other.merged_into == "01P"
    assert survivor.merged_from == ["01Q"]
    survivor.refresh()
    assert survivor.fields == {"email": "a@x.com", "phone": "+33 1"}


def test_resolution_does_not_depend_on_record_order() -> None:
    a = record("crm", "1", "2", title="A")
    b = record("csv", "2", "2", title="B")  # same time: the record key breaks the tie
    assert resolve_fields(profile_with(a, b).records) == resolve_fields(profile_with(b, a).records)


def test_values_are_typed_and_canonical() -> None:
    fields = coerce_fields(
        Kind.COMPANIES,
        {"employee_count": "1,200", "website": " https://Acme.com ", "technologies": "aws; python;aws", "x": " "},
    )
    assert fields == {
        "employee_count": 1200,
        "website": "https://Acme.com",
        "technologies": ["aws", "python"],
        "x": None,  # an empty value clears the field
    }
    assert coerce_fields(Kind.PEOPLE, {"linkedin_url": "linkedin.com/in/Ann/"}) == {
        "linkedin_url": "https://www.linkedin.com/in/ann"
    }


@pytest.mark.parametrize(
    ("kind", "fields", "field"),
    [
        (Kind.PEOPLE, {"email": "nope"}, "email"),
        (Kind.COMPANIES, {"employee_count": "many"}, "employee_count"),
        (Kind.COMPANIES, {"employee_count": "nan"}, "employee_count"),
        (Kind.PEOPLE, {"created_date": "yesterday"}, "created_date"),
        (Kind.PEOPLE, {"linkedin_url": "https://linkedin.com/company/acme"}, "linkedin_url"),
        (Kind.PEOPLE, {"Bad Name": "x"}, "Bad Name"),
        (Kind.PEOPLE, {"notes": {"nested": 1}}, "notes"),
        (Kind.PEOPLE, {"notes": "x" * (MAX_TEXT + 1)}, "notes"),
        (Kind.PEOPLE, {"notes": "😀" * MAX_TEXT}, "notes"),  # 10,000 characters, but 120 KB as stored
        (Kind.PEOPLE, {"tags": [f"{n}" + "t" * 9_000 for n in range(8)]}, "tags"),  # each item fits, the list not
        (Kind.PEOPLE, {f"f{n}": "x" for n in range(MAX_FIELDS + 1)}, "fields"),
        (Kind.COMPANIES, {"domain": "a" * 5_000 + ".com"}, "domain"),
        (Kind.PEOPLE, {"linkedin_url": "linkedin.com/in/" + "a" * 5_000}, "linkedin_url"),
    ],
)
def test_bad_values_name_their_field(kind: Kind, fields: dict[str, object], field: str) -> None:
    with pytest.raises(ValueProblem) as problem:
        coerce_fields(kind, fields)
    assert problem.value.field == field
    assert len(str(problem.value)) < 300  # a report of many bad rows stays small: values are quoted short


def test_a_record_over_the_record_limit_names_its_largest_field() -> None:
    fields = coerce_fields(Kind.PEOPLE, {f"note_{n}": chr(97 + n) * 9_999 for n in range(11)})
    problem = record_problem(fields)
    assert problem is not None and problem.field == "fields"
    assert "largest field: note_" in problem.reason and "limit for one record is 100 KB" in problem.reason
    assert record_problem({"note": "x" * 9_999}) is None
