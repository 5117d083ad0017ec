"""The automatic check of evidence, as pure functions over text and the shipped rules (bot/data/evidence-rules.toml).

Each check looks for what an assessor looks for (the kind and number of a document, its enactment and signature,
its year, its issuer, what a screenshot shows) and answers with findings: a check name, a sentence code
(`templates/pemeriksaan/temuan.txt.j2`) and the sentence's values. A finding is a hint for the liaison and the
reviewer, never a verdict; it never blocks filing.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from bot.services.evidence_reading import similarity

MONTHS = (
    "januari|februari|pebruari|maret|april|mei|juni|juli|agustus|september|oktober|november|nopember|desember"
    "|january|february|march|may|june|july|august|october|december"
)
_DATE = rf"(\d{{1,2}})\s+({MONTHS})\s+((?:19|20)\d\d)"
_ENACTED = re.compile(rf"ditetapkan\s+di\s+[a-z]+.{{0,40}}?(?:tanggal\s+)?{_DATE}")
_PLACE_DATE = re.compile(rf"\b[a-z]+(?: [a-z]+)?\s*,\s*{_DATE}")
_NIP = re.compile(r"\bnip\s*[.,:;]?\s*:?\s*\d{8}\s*\d{6}\s*\d\s*\d{3}\b")
_DRAFT = re.compile(r"\b(rancangan|draf|draft|konsep)\b")
_ELECTED = re.compile(r"\b(wali\s?kota|walikota|bupati|gubernur)\b")
_OFFICIAL = re.compile(r"\b(wali\s?kota|walikota|bupati|kepala|sekretaris|camat|direktur|ketua|lurah|plt|pj)\b")
_YEAR_IN_HEADING = re.compile(r"\btahun\s+((?:19|20)\d\d)\b")
_ADDRESS = re.compile(
    r"(https?://|www\.|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:go\.id|co\.id|ac\.id|or\.id|web\.id|id|com|net|org)\b)"
)
_NUMERIC_DATE = re.compile(r"\b(\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2})\b")
_SHORT_MONTHS = "jan|feb|mar|apr|jun|jul|agu|agt|aug|sep|okt|oct|nov|des|dec"
_WORD_DATE = re.compile(rf"\b\d{{1,2}}\s+({MONTHS}|{_SHORT_MONTHS})\s+\d{{4}}\b")
HEADING_CHARS = 700
NEAR_COPY = 0.8  # share of equal MinHash positions from which two texts count as one copied from the other


@dataclass(frozen=True)
class Profile:
    name: str
    kinds: tuple[str, ...] = ()
    number: bool = False
    enacted: bool = False
    city: bool = False
    years_back: int = 5


@dataclass(frozen=True)
class Rules:
    profiles: Mapping[str, Profile]
    generic: tuple[tuple[str, tuple[str, ...]], ...]  # (profile, words) in order
    items: Mapping[str, Mapping[str, str]]  # framework -> item code -> profile
    applications: tuple[str, ...]
    other_regions: tuple[str, ...]

    def profile_for(self, framework: str | None, code: str, title: str, description: str) -> Profile:
        """The item's own profile, or for an imported item the first whose words its title or description has."""
        named = self.items.get(framework or "", {}).get(code)
        if named is not None:
            return self.profiles[named]
        wording = f" {title} {description} ".lower()
        for profile, words in self.generic:
            if any(word in wording for word in words):
                return self.profiles[profile]
        return self.profiles["dokumen"]


@dataclass(frozen=True)
class Finding:
    check: str  # jenis_nomor, ditetapkan, tahun, kota, tangkapan_layar, duplikat, terbaca
    code: str  # the sentence: templates/pemeriksaan/temuan.txt.j2
    details: Mapping[str, Any] = field(default_factory=dict)
    sha256: str | None = None


@functools.cache
def shipped_rules() -> Rules:
    """The rules file that ships with the bot (read once)."""
    text = resources.files("bot.data").joinpath("evidence-rules.toml").read_text(encoding="utf-8")
    return parse_rules(tomllib.loads(text))


def parse_rules(data: Mapping[str, Any]) -> Rules:
    profiles = {
        name: Profile(
            name,
            tuple(p.get("jenis", ())),
            bool(p.get("nomor_tahun", False)),
            bool(p.get("ditetapkan", False)),
            bool(p.get("kota", False)),
            int(p.get("tahun_mundur", 5)),
        )
        for name, p in data["profil"].items()
    }
    generic = tuple((name, tuple(w.lower() for w in words)) for name, words in data.get("umum", {}).items())
    items = {framework: dict(codes) for framework, codes in data.get("butir", {}).items()}
    for framework, codes in items.items():
        unknown = set(codes.values()) - set(profiles)
        if unknown:
            raise ValueError(f"evidence rules: {framework} names unknown profiles {sorted(unknown)}")
    return Rules(
        profiles,
        generic,
        items,
        tuple(data.get("tangkapan_layar", {}).get("aplikasi", ())),
        tuple(data.get("kota", {}).get("daerah_lain", ())),
    )


def normalized(text: str) -> str:
    """Lower case, one space between words: OCR and PDF line breaks then compare alike."""
    return re.sub(r"\s+", " ", text.lower()).strip()


# --- documents -------------------------------------------------------------------------------------------------


def check_document(text: str, profile: Profile, campaign_year: int, rules: Rules) -> list[Finding]:
    """What one version's documents (their text joined) miss, by the item's profile."""
    flat = normalized(text)
    heading = flat[:HEADING_CHARS]
    findings: list[Finding] = []
    if profile.kinds:
        findings += _kind_and_number(heading, profile)
    if profile.enacted:
        findings += _enactment(text, flat, heading)
    findings += _year(flat, heading, profile, campaign_year)
    if profile.city:
        findings += _city(flat, heading, rules)
    return findings


def _kind_and_number(heading: str, profile: Profile) -> list[Finding]:
    kinds = [k.lower() for k in profile.kinds]
    found = [(heading.find(k), k) for k in kinds if k in heading]
    if not found:
        return [Finding("jenis_nomor", "tanpa_jenis", {"jenis": list(profile.kinds[:3])})]
    if not profile.number:
        return []
    start = min(position for position, _ in found)
    after = heading[start : start + 220]
    numbered = re.search(r"\bnomor\s*:?\s*\d[\w.-]*\s+tahun\s+(?:19|20)\d\d\b", after) or re.search(
        r"\bnomor\s*:?\s*[\w.-]*\d[\w.-]*(?:/[\w.-]+)*/(?:19|20)\d\d\b", after
    )
    return [] if numbered else [Finding("jenis_nomor", "tanpa_nomor")]


def _enactment(text: str, flat: str, heading: str) -> list[Finding]:
    findings = []
    lines = [normalized(line) for line in text.splitlines() if line.strip()]
    draft_line = any(_DRAFT.fullmatch(line) for line in lines)  # a watermark read as a line of its own
    if _DRAFT.search(heading[:300]) or draft_line:
        findings.append(Finding("ditetapkan", "rancangan"))
    if not (_ENACTED.search(flat) or _PLACE_DATE.search(flat[-1500:])):
        findings.append(Finding("ditetapkan", "tanpa_penetapan"))
    if not _signed(text, flat):
        findings.append(Finding("ditetapkan", "tanpa_tanda_tangan"))
    return findings


def _signed(text: str, flat: str) -> bool:
    """A signature block: a NIP after an official's title, or an elected head's title above a name in capitals."""
    tail = flat[-1200:]
    if _NIP.search(tail) and _OFFICIAL.search(tail):
        return True
    lines = [line.strip() for line in text.splitlines() if line.strip()][-15:]
    for n, line in enumerate(lines):
        if _ELECTED.search(line.lower()):
            for name in lines[n + 1 : n + 4]:
                letters = re.sub(r"[^A-Za-z ]", "", name).strip()
                if len(letters.split()) >= 2 and letters.isupper() and not _ELECTED.search(name.lower()):
                    return True
    return False


def document_year(flat: str, heading: str) -> int | None:
    """The document's year: its date of enactment or signing, else its number's year, else its heading's."""
    for pattern in (_ENACTED, _PLACE_DATE):
        dated = pattern.search(flat) if pattern is _ENACTED else pattern.search(flat[-1500:])
        if dated:
            return int(dated.group(3))
    numbered = re.search(r"\bnomor\s*:?\s*\S+\s+tahun\s+((?:19|20)\d\d)\b", heading) or re.search(
        r"\bnomor\s*:?\s*\S*/((?:19|20)\d\d)\b", heading
    )
    if numbered:
        return int(numbered.group(1))
    titled = _YEAR_IN_HEADING.search(heading[:400])
    return int(titled.group(1)) if titled else None


def _year(flat: str, heading: str, profile: Profile, campaign_year: int) -> list[Finding]:
    year = document_year(flat, heading)
    first = campaign_year - profile.years_back
    if year is None or first <= year <= campaign_year:
        return []
    return [Finding("tahun", "tahun_di_luar", {"tahun": year, "dari": first, "sampai": campaign_year})]


def _city(flat: str, heading: str, rules: Rules) -> list[Finding]:
    for region in rules.other_regions:
        name = region.lower()
        if re.search(rf"\b(kota|kabupaten|wali\s?kota|walikota|bupati)\s+{re.escape(name)}\b", heading):
            return [Finding("kota", "daerah_lain", {"daerah": region})]
    if "pontianak" not in flat:
        return [Finding("kota", "tanpa_pontianak")]
    return []


# --- screenshots and copies ------------------------------------------------------------------------------------


def check_screenshot(text: str, rules: Rules, sha256: str | None = None) -> list[Finding]:
    """A screenshot should show where it was taken (a web address or the application's name) and when."""
    flat = normalized(text)
    findings = []
    named = any(app.lower() in flat for app in rules.applications)
    if not (_ADDRESS.search(flat) or named):
        findings.append(Finding("tangkapan_layar", "layar_tanpa_alamat", sha256=sha256))
    if not (_NUMERIC_DATE.search(flat) or _WORD_DATE.search(flat)):
        findings.append(Finding("tangkapan_layar", "layar_tanpa_tanggal", sha256=sha256))
    return findings


@dataclass(frozen=True)
class Filed:
    """Another file already filed in the campaign, as the copy check compares with it."""

    signature: str
    opd_name: str
    item_code: str
    number: int


def near_copy(signature: str | None, others: Sequence[Filed], sha256: str) -> list[Finding]:
    """The file most like this one among another OPD's or another item's files, when it is nearly the same."""
    if signature is None:
        return []
    best = max(others, key=lambda other: similarity(signature, other.signature), default=None)
    if best is None:
        return []
    share = similarity(signature, best.signature)
    if share < NEAR_COPY:
        return []
    details = {"opd": best.opd_name, "item": best.item_code, "versi": best.number, "persen": round(share * 100)}
    return [Finding("duplikat", "mirip_berkas_lain", details, sha256)]
