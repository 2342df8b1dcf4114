"""Seniority and department from a job title, by tables of words and phrases.

A title is folded to lower-case ASCII words ("Sr. VP, Eng" -> senior vice president engineering)
with abbreviations expanded, then read left to right taking the longest known phrase at each
word, so "product owner" is a product role and not an owner, and "account manager" a sales
role rather than a manager. Reading stops at words that start someone else's title or a company
("assistant to the CEO", "CTO at Acme", "ex-Google"). The highest seniority found wins; the
department is the one named with the most senior phrase ("Co-founder & CTO" -> engineering), else
the first named, else executive for founders, owners and the C-suite.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from roster.enrich.providers.base import OfflineProvider, ProviderResult
from roster.enrich.providers.text import InputProblem, fold, read_text
from roster.profiles.fields import FieldType

#: Seniority levels, most senior first.
SENIORITIES = (
    "owner",
    "founder",
    "c_suite",
    "partner",
    "vp",
    "head",
    "director",
    "manager",
    "senior",
    "entry",
    "intern",
)

#: Abbreviations and run-together spellings, expanded before phrases are looked up.
_ABBREVIATIONS = {
    "sr": "senior",
    "snr": "senior",
    "jr": "junior",
    "vp": "vice president",
    "svp": "senior vice president",
    "evp": "executive vice president",
    "avp": "assistant vice president",
    "pres": "president",
    "dir": "director",
    "mgr": "manager",
    "mngr": "manager",
    "gm": "general manager",
    "asst": "assistant",
    "assoc": "associate",
    "exec": "executive",
    "eng": "engineering",
    "engr": "engineer",
    "dev": "developer",
    "mktg": "marketing",
    "ops": "operations",
    "hr": "human resources",
    "biz": "business",
    "bizdev": "business development",
    "acct": "account",
    "rep": "representative",
    "cofounder": "co founder",
    "sysadmin": "system administrator",
}

#: Words after which the title describes someone or something else.
_STOP_WORDS = frozenset({"to", "at", "ex", "former", "formerly", "previously", "retired"})

#: Seniority phrases; a phrase listed under a department and not here gives no seniority.
_SENIORITY_PHRASES = {
    "owner": "owner, business owner, co owner, proprietor, inhaber",
    "founder": "founder, co founder, founding partner, fondateur, fondatrice, fundador, fundadora, grunder",
    "c_suite": (
        "chief, chief executive, c level, c suite, ceo, cto, cfo, coo, cmo, cro, cio, ciso, cpo, cdo, chro, clo,"
        " cso, cco, president, presidente, chairman, chairwoman, chairperson, chair of the board, executive director,"
        " managing director, directeur general, director general, geschaftsfuhrer, vorstand"
    ),
    "partner": "partner, managing partner, senior partner, general partner, socio",
    "vp": "vice president, senior vice president, executive vice president, assistant vice president",
    "head": "head, leiter, leiterin, jefe, jefa",
    "director": "director, directora, directeur, directrice, senior director, associate director, general manager",
    "manager": (
        "manager, supervisor, team lead, team leader, gerente, responsable, partner manager, engineering manager"
    ),
    "senior": "senior, lead, principal, staff engineer, expert, tech lead",
    "entry": "junior, entry level, associate, assistant, trainee, apprentice, graduate, coordinator, representative",
    "intern": (
        "intern, internship, stagiaire, praktikant, praktikantin, becario, becaria, pasante, student, werkstudent"
    ),
}

#: Department phrases, English first, then common French, German and Spanish words.
_DEPARTMENT_PHRASES = {
    "executive": (
        "ceo, chief executive, president, presidente, chairman, chairwoman, chairperson, chair of the board,"
        " executive director, managing director, general manager, directeur general, director general,"
        " geschaftsfuhrer, vorstand, board member, board of directors, chief of staff, owner, business owner"
    ),
    "engineering": (
        "engineering, engineer, engineers, software, developer, programmer, devops, sre,"
        " site reliability, architect, frontend, front end, backend, back end, full stack, fullstack, firmware,"
        " embedded, infrastructure, platform, qa, quality assurance, cto, technology, technical, r and d,"
        " research and development, ingenieur, ingeniero, desarrollador, entwickler, staff engineer,"
        " tech lead, engineering manager"
    ),
    "product": "product, product manager, product owner, product management, cpo, pm",
    "design": (
        "design, designer, product designer, product design, ux, ui, user experience, creative, graphic,"
        " art director, illustrator"
    ),
    "data": (
        "data, analytics, data science, data scientist, machine learning, ml, ai, business intelligence, bi,"
        " analyst, cdo"
    ),
    "it": (
        "it, information technology, information systems, system administrator, systems administrator,"
        " database administrator, dba, help desk, helpdesk, desktop support, network, cio"
    ),
    "security": "security, information security, infosec, cybersecurity, cyber security, ciso",
    "sales": (
        "sales, account executive, ae, account manager, key account, business development, bd, bdr, sdr,"
        " sales development, revenue, cro, inside sales, sales engineer, solutions engineer, solutions architect,"
        " solution architect, presales, pre sales, channel, partner manager, partnerships, commercial, ventas,"
        " vendas, vertrieb, go to market, gtm"
    ),
    "marketing": (
        "marketing, product marketing, growth, brand, demand generation, demand gen, lead generation, content,"
        " seo, communications, comms, public relations, pr, social media, community, events, cmo, mercadotecnia"
    ),
    "customer_success": (
        "customer success, client success, csm, customer experience, cx, onboarding, implementation,"
        " account management, customer success manager, technical account manager"
    ),
    "support": "support, customer support, customer service, technical support, client services, service desk",
    "finance": (
        "finance, financial, accounting, accountant, controller, comptroller, treasury, treasurer, fp and a, cfo,"
        " audit, auditor, tax, payroll, bookkeeper, billing, accounts payable, accounts receivable,"
        " investor relations, finanzas, finances, finanzen, contabilidad, comptable"
    ),
    "hr": (
        "human resources, people, people operations, talent, talent acquisition, recruiting, recruiter,"
        " recruitment, chro, culture, learning and development, l and d, compensation, benefits, personnel,"
        " business partner, ressources humaines, recursos humanos, rh, personalwesen"
    ),
    "legal": (
        "legal, counsel, general counsel, attorney, lawyer, paralegal, compliance, clo, privacy, contracts,"
        " juridique, juridico, abogado, avocat, rechtsanwalt"
    ),
    "operations": (
        "operations, coo, supply chain, logistics, procurement, purchasing, facilities, office manager,"
        " administrative, administration, administrator, project manager, program manager, project management,"
        " business operations, revenue operations, revops, sales operations, executive assistant"
    ),
}

#: Department values, in the order the tables list them.
DEPARTMENTS = tuple(_DEPARTMENT_PHRASES)


def _phrase_table() -> dict[tuple[str, ...], tuple[str | None, str | None]]:
    """Every phrase as words -> (seniority, department), either side None when the phrase says nothing."""
    seniorities = {phrase: level for level, text in _SENIORITY_PHRASES.items() for phrase in _phrases(text)}
    departments = {phrase: dept for dept, text in _DEPARTMENT_PHRASES.items() for phrase in _phrases(text)}
    return {
        tuple(phrase.split()): (seniorities.get(phrase), departments.get(phrase))
        for phrase in seniorities.keys() | departments.keys()
    }


def _phrases(text: str) -> list[str]:
    return [phrase.strip() for phrase in text.split(",")]


_PHRASES = _phrase_table()
_LONGEST = max(len(words) for words in _PHRASES)


def title_words(title: str) -> list[str]:
    """The title as lower-case ASCII words with abbreviations expanded ("Sr. VP, Eng" -> senior vice ...)."""
    text = fold(title).replace("&", " and ").replace("@", " at ")
    return [word for token in re.findall(r"[a-z0-9]+", text) for word in _ABBREVIATIONS.get(token, token).split()]


def classify_title(title: str) -> tuple[str | None, str | None]:
    """(seniority, department) of a job title, each None when the title does not say."""
    words = title_words(title)
    found: list[tuple[str | None, str | None]] = []
    start = 0
    while start < len(words) and words[start] not in _STOP_WORDS:
        for length in range(min(_LONGEST, len(words) - start), 0, -1):
            meaning = _PHRASES.get(tuple(words[start : start + length]))
            if meaning is not None:
                found.append(meaning)
                start += length
                break
        else:
            start += 1
    ranked = sorted(found, key=lambda meaning: _rank(meaning[0]))  # stable: title order among equals
    seniority = ranked[0][0] if ranked else None
    department = next((dept for _, dept in ranked if dept is not None), None)
    if department is None and seniority in ("owner", "founder", "c_suite"):
        department = "executive"
    return seniority, department


def _rank(seniority: str | None) -> int:
    return SENIORITIES.index(seniority) if seniority is not None else len(SENIORITIES)


class JobTitleClassifier(OfflineProvider):
    name = "job_title_classification"
    inputs = ("job_title",)
    outputs = {"seniority": FieldType.STRING, "department": FieldType.STRING}

    def enrich_record(self, record: Mapping[str, Any]) -> ProviderResult:
        seniority, department = classify_title(read_text(record, "job_title"))
        values = {"seniority": seniority, "department": department}
        if seniority is None and department is None:
            raise InputProblem("job_title names no known seniority or department")
        return ProviderResult.found({field: value for field, value in values.items() if value is not None})
