"""Replace personal data and secrets with typed placeholders before any model sees the text.

The paper names leaking private data as the method's own risk: raw text goes into
generation prompts and LoRA weights. Numbers are judged by maintained validators, not by
their shape alone: `phonenumbers` for phones, `python-stdnum` for IBANs, card numbers
(Luhn) and national IDs, `ipaddress` for IPs. Secrets are matched by their known formats.
Names and street addresses are not detected; this is no guarantee.
"""

import ipaddress
import re
from collections import Counter

import phonenumbers
from stdnum import iban, luhn
from stdnum.br import cpf
from stdnum.it import codicefiscale
from stdnum.us import ssn


def _keep(m, tag):
    """Mask the part after the `keep` group: the key name or URL scheme stays readable."""
    return m["keep"] + tag


def _checked(is_valid):
    """Mask the match only where the validator accepts its letters and digits."""
    return lambda m, tag: tag if is_valid(re.sub(r"[^0-9A-Za-z]", "", m[0])) else None


_CODE_VALUE = re.compile(
    r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|str|int|bytes|bool|float|string|number|boolean"
    r"|Optional|Union|None|Any|SecretStr|true|false|null"
)


def _assigned_secret(m, tag):
    """`password = hunter2` is masked; code and prose that only name a secret are not:
    `token = os.environ[...]`, `password: str`, `Secret: Ingredients`, `Password: choose one`."""
    value, after = m["value"], m.string[m.end() : m.end() + 1]
    prose = ":" in m["keep"] and not m["q"] and re.fullmatch(r"[A-Z]?[a-z]+", value)  # a plain word after "Secret:"
    if after in ("(", "[") or _CODE_VALUE.fullmatch(value) or prose:
        return None
    return m["keep"] + tag


def _random_key(m, tag):
    """AWS secret keys are 40 random base64 characters. Hex hashes (git's SHA-1 is 40 too) lack a
    case; CamelCase words and paths switch between upper, lower, digit and / less often."""
    s = m[0]
    if not (re.search("[A-Z]", s) and re.search("[a-z]", s) and re.search(r"\d", s)):
        return None
    switches = len(re.findall(r"[A-Z]+|[a-z]+|\d+|[/+]+", s)) - 1
    return tag if switches >= (15 if re.search("[/+]", s) else 18) else None


def _iban(m, tag):
    """The longest run of groups that is a valid IBAN; a word after it (a BIC, say) stays."""
    groups = m[0].split(" ")
    for n in range(len(groups), 0, -1):
        if iban.is_valid("".join(groups[:n])):
            return tag + m[0][len(" ".join(groups[:n])) :]
    return None


# issuer prefixes and lengths: Visa, Mastercard, Amex, Diners/JCB, Discover/UnionPay/Maestro
_CARD = re.compile(r"4\d{12}(?:\d{3}){0,2}|(?:5[1-5]|2[2-7])\d{14}|3[47]\d{13}|3[05689]\d{12,17}|6\d{15,18}")


def _card(m, tag):
    digits = re.sub(r"\D", "", m[0])
    return tag if _CARD.fullmatch(digits) and luhn.is_valid(digits) else None


def _ipv6(m, tag):
    """Valid addresses with a group of 3+ hex digits: `fe80::1` is one, the slice `a[10::20]` is not."""
    try:
        ipaddress.IPv6Address(m[0].split("%")[0])
    except ValueError:
        return None
    return tag if re.search(r"[0-9A-Fa-f]{3}", m[0]) else None


_VERSION_BEFORE = re.compile(
    r"(?i)(?:\b(?:version|ver|v|release|build|rev|revision|update|patch|python|java|node|ubuntu|debian|macos|ios"
    r"|android|windows|kernel|linux|chrome|firefox|gcc|cuda|openssl|go|ruby|php|perl)\.?\s*"
    r"|[\w.-]\s*(?:==|>=|<=|~=|!=)\s*|[A-Za-z]\w*-)$"
)
_VERSION_AFTER = re.compile(r"(?i)[-+~]?(?:a|b|rc|alpha|beta|dev|post|pre|final|lts)\d*\b")
_SECTION_BEFORE = re.compile(
    r"(?i)(?:§|\b(?:sections?|sec|chapters?|ch|clauses?|articles?|art|paragraphs?|para|steps?|figures?|fig|tables?"
    r"|eq|equations?|rules?|items?|parts?|appendix|annex|exercises?|lemma|theorem|definition|example|listing))\.?\s*$"
)
_HEADING = re.compile(r"[.)]\s|\s+[A-Z][a-z]")  # `12.2.1.1. What is …` or `1.2.3.4 Scope` at a line start
_IP_BEFORE = re.compile(
    r"(?i)(?:\b(?:ip|ipv4|address|addr|host|server|client|connect\w*|ping|ssh|gateway|dns|proxy|router|subnet"
    r"|netmask|inet|src|dst|peer|remote|listen\w*|bind|firewall|curl|wget|nameserver)\b|://|@)[^\n]{0,30}$"
)


def _ipv4(m, tag):
    """Dotted quads are often not addresses: versions (`Python 3.10.12.1`), sections (`§ 1.2.3.4`),
    headings (`12.2.1.1. What is …`). Words such as server/host/IP before, or a port or prefix
    length after, make it an address; without either, all parts below 32 reads as an outline number."""
    try:
        ipaddress.IPv4Address(m[0])
    except ValueError:
        return None
    text, start, end = m.string, m.start(), m.end()
    before = text[max(0, start - 40) : start]
    line_start = text.rfind("\n", 0, start) + 1
    if (
        _VERSION_BEFORE.search(before)
        or _VERSION_AFTER.match(text, end)
        or _SECTION_BEFORE.search(before)
        or re.fullmatch(r"\s*(?:#+|[-*])?\s*", text[line_start:start])
        and _HEADING.match(text, end)
    ):
        return None
    if _IP_BEFORE.search(before) or re.match(r":\d{1,5}\b|/\d{1,2}\b", text[end : end + 6]):
        return tag
    return None if all(int(part) < 32 for part in m[0].split(".")) else tag


DIGITS = tuple("0123456789")

# (kind, hint, pattern, fix). The pattern only runs where one of the hint strings occurs in the
# lowercased text: a cheap test, as most paragraphs hold no secret. fix(match, "<KIND>") gives the
# replacement, or None to keep the match; no fix masks the whole match. Order matters: secrets
# before the looser patterns that could eat their pieces, IBAN, card and ID before IP and phone.
DETECTORS = [
    (
        "SECRET",
        ("private key",),
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
        None,
    ),
    ("SECRET", ("eyj",), re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), None),  # JWT
    (
        "SECRET",
        ("https://",),
        re.compile(r"https://(?:hooks\.slack\.com/(?:services|workflows|triggers)|discord(?:app)?\.com/api/webhooks)/[\w/-]+"),
        None,
    ),
    ("SECRET", ("://",), re.compile(r"(?P<keep>\b[A-Za-z][\w+.-]*://)[^\s:/@]*:[^\s/@]+(?=@)"), _keep),  # user:password@ in a URL
    (
        "SECRET",
        ("=",),
        re.compile(
            r"(?i)(?P<keep>[?&](?:[\w-]*token|api[_-]?key|key|secret|client_secret|password|passwd|pwd"
            r"|sig|signature|x-amz-signature|x-amz-credential)=)[^&\s#\"'<>]{6,}"
        ),
        _keep,
    ),  # URL query
    ("SECRET", ("sk-ant-",), re.compile(r"\bsk-ant-[a-z]+\d*-[A-Za-z0-9_-]{20,}"), None),  # Anthropic
    ("SECRET", ("k-",), re.compile(r"\b(?:sk|pk|rk)-(?:[A-Za-z0-9]+-)*[A-Za-z0-9]{20,}[A-Za-z0-9_-]*"), None),  # OpenAI style
    (
        "SECRET",
        ("_live_", "_test_", "whsec_"),
        re.compile(r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|\bwhsec_[A-Za-z0-9]{20,}"),
        None,
    ),
    (
        "SECRET",
        ("_", "glpat-"),
        re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}|\bglpat-[A-Za-z0-9_-]{20,}|\bnpm_[A-Za-z0-9]{36}\b"),
        None,
    ),
    ("SECRET", ("xox",), re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), None),  # Slack
    ("SECRET", ("akia", "asia"), re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), None),  # AWS access key id
    ("SECRET", DIGITS, re.compile(r"(?<![\w/+=.-])[A-Za-z0-9/+]{40}(?![\w/+=-])"), _random_key),  # AWS secret access key
    ("SECRET", ("aiza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), None),  # Google API key
    ("SECRET", ("hf_",), re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"), None),  # Hugging Face
    ("SECRET", ("bearer",), re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{20,}=*"), None),
    (
        "SECRET",
        ("key", "secret", "token", "passw"),
        re.compile(
            r"(?i)(?P<keep>(?<![\w-])(?:[A-Za-z0-9]+[_-])*(?:api[_-]?key|secret(?:[_-]?access)?[_-]?key|access[_-]?key|secret|token"
            r"|password|passwd)[\"']?\s*[:=]\s*(?P<q>[\"']?))(?P<value>[^\s\"'<>()\[\]{},;]{5,}[^\s\"'<>()\[\]{},;.!?:])"
        ),
        _assigned_secret,
    ),
    ("EMAIL", ("@",), re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), None),
    ("IBAN", DIGITS, re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), _iban),
    (
        "CARD_NUMBER",
        DIGITS,
        re.compile(r"(?<![\w.,-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{4,5})(?![\w-]|[.,]\d)"),
        _card,
    ),
    # US SSN: dashed or spaced 3-2-4 is a distinctive shape and stdnum rejects impossible ones
    # (000, 666, 9xx areas, published examples); nine bare digits are any number, so they count
    # only right after "SSN" or "social security"
    ("NATIONAL_ID", DIGITS, re.compile(r"(?<![\w-])\d{3}(?P<sep>[- ])\d{2}(?P=sep)\d{4}(?![\w-])"), _checked(ssn.is_valid)),
    (
        "NATIONAL_ID",
        ("ssn", "ss#", "social"),
        re.compile(r"(?i)(?P<keep>\b(?:ssn|ss#|social security(?: number| no\.?)?)[\s:#.]*(?:(?:is|was)\s+)?)\d{9}(?!\d)"),
        lambda m, tag: _keep(m, tag) if ssn.is_valid(m[0][len(m["keep"]) :]) else None,
    ),
    ("NATIONAL_ID", DIGITS, re.compile(r"(?<![\w.])\d{3}\.\d{3}\.\d{3}-\d{2}(?!\w)"), _checked(cpf.is_valid)),  # Brazil's CPF
    (
        "NATIONAL_ID",
        DIGITS,
        re.compile(r"\b[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z]\b"),
        _checked(codicefiscale.is_valid),
    ),  # Italy
    (
        "MAC_ADDRESS",
        (":", "-"),
        re.compile(r"(?<![\w:-])[0-9A-Fa-f]{2}(?P<sep>[:-])[0-9A-Fa-f]{2}(?:(?P=sep)[0-9A-Fa-f]{2}){4}(?![\w:-])"),
        None,
    ),
    (
        "IP_ADDRESS",
        (":",),
        re.compile(r"(?<![\w:.])(?=[0-9A-Fa-f:]*\d)[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%\w+)?(?![\w:])"),
        _ipv6,
    ),
    ("IP_ADDRESS", DIGITS, re.compile(r"(?<![\w.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d)"), _ipv4),
]

# National formats (no +) are tried for these regions; a number with + is judged in any region.
REGIONS = ("US", "GB", "DE", "FR", "IN")
_PHONE_HINT = re.compile(r"\+\d(?:[\s().-]{0,3}\d){6}|\d(?:[\s().-]{0,3}\d){8}")  # the matcher is slow
_NOT_PHONE_BEFORE = re.compile(
    r"(?i)(?:\b(?:isbn(?:-1[03])?|issn|doi|order|invoice|ref|tracking|serial|sku|id|ticket)|#)\W{0,3}$"
)
_DATE = re.compile(
    r"\b(?:0?[1-9]|[12]\d|3[01])([./-])(?:0?[1-9]|1[0-2])\1(?:19|20)\d\d\b"
    r"|\b(?:19|20)\d\d([./-])(?:0?[1-9]|1[0-2])\2(?:0?[1-9]|[12]\d|3[01])\b"
)
_THOUSANDS = re.compile(r"\d{1,3}(?P<sep>[ .,])\d{3}(?:(?P=sep)\d{3})*")
_MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _is_phone(text: str, m) -> bool:
    """A number with + is a phone when phonenumbers says it is valid. Without +, ordinary numbers
    can look valid in some region, so it also needs 9+ digits, no date or 1,000,000 grouping, no
    ISBN/order/ID word before; and unless it is written with a trunk 0 and separators, a type that
    can be a mobile (every US number is): `9876543210` is a phone, `1234567890` is not."""
    raw = m.raw_string
    if raw.lstrip("(").startswith("+"):
        return True
    if (
        sum(c.isdigit() for c in raw) < 9
        or _DATE.search(raw)
        or _THOUSANDS.fullmatch(raw)
        or _NOT_PHONE_BEFORE.search(text, max(0, m.start - 20), m.start)
        or re.match(r":\d", text[m.end : m.end + 2])
    ):
        return False
    if raw[0] == "1" and raw[1].isdigit() and not raw.isdigit():
        return False  # a leading 1 is the US country code and stands alone: 1-800-…, not 123.456.789-00
    trunk = raw.lstrip("(").startswith("0") and not raw.isdigit()
    return trunk or phonenumbers.number_type(m.number) in _MOBILE_TYPES


def _scrub_phones(text: str, counts: Counter) -> str:
    if not _PHONE_HINT.search(text):
        return text
    spans = sorted(
        {
            (m.start, m.end)
            for region in REGIONS
            for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
            if _is_phone(text, m)
        },
        key=lambda s: (s[0], -s[1]),
    )
    out, pos = [], 0
    for start, end in spans:
        if start >= pos:  # the longest of overlapping matches
            out += [text[pos:start], "<PHONE>"]
            pos = end
            counts["phone"] += 1
    return "".join(out) + text[pos:]


def scrub(text: str, counts: Counter) -> str:
    """`text` with each match replaced by <KIND>; `counts` gains one per replacement."""
    low = text.lower()
    for kind, hint, pattern, fix in DETECTORS:
        if not any(h in low for h in hint):
            continue
        tag = f"<{kind}>"
        if fix is None:
            text, n = pattern.subn(tag, text)
            if n:
                counts[kind.lower()] += n
            continue

        def replace(m, fix=fix, tag=tag, kind=kind):  # used at once, inside this iteration
            out = fix(m, tag)
            if out is None:
                return m[0]
            counts[kind.lower()] += 1
            return out

        text = pattern.sub(replace, text)
    return _scrub_phones(text, counts)
