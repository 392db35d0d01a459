import re
from collections import Counter

import pytest

from cycle_instruct.privacy import scrub


def _scrub(text):
    counts = Counter()
    return scrub(text, counts), counts


# (text, the private part, kind): each one survived the old pattern list
CAUGHT = [
    ("Call me on 07700 900123 tonight.", "07700 900123", "PHONE"),
    ("Büro: +49 30 901820, bitte.", "+49 30 901820", "PHONE"),
    ("Büro: 030 901820, bitte.", "030 901820", "PHONE"),
    ("Tel. +49 (0)30 1234567 anrufen.", "+49 (0)30 1234567", "PHONE"),
    ("Appelez le +33 1 42 68 53 00 demain.", "+33 1 42 68 53 00", "PHONE"),
    ("Appelez le 01 42 68 53 00 demain.", "01 42 68 53 00", "PHONE"),
    ("WhatsApp +91 98765 43210 please.", "+91 98765 43210", "PHONE"),
    ("My mobile is 9876543210.", "9876543210", "PHONE"),
    ("Tokyo office: +81 3-1234-5678.", "+81 3-1234-5678", "PHONE"),
    ("Ligue +55 11 91234-5678 hoje.", "+55 11 91234-5678", "PHONE"),
    ("Sydney desk +61 2 9374 4000.", "+61 2 9374 4000", "PHONE"),
    ("Text 4155552671 when you land.", "4155552671", "PHONE"),
    ("Call (415) 555-2671 or write.", "(415) 555-2671", "PHONE"),
    ("Pay to DE89370400440532013000 by Friday.", "DE89370400440532013000", "IBAN"),
    ("Pay to DE89 3704 0044 0532 0130 00 by Friday.", "DE89 3704 0044 0532 0130 00", "IBAN"),
    ("Pay to GB82 WEST 1234 5698 7654 32 by Friday.", "GB82 WEST 1234 5698 7654 32", "IBAN"),
    ("Card 5500005555555559 was charged.", "5500005555555559", "CARD_NUMBER"),
    ("Amex 378282246310005 was charged.", "378282246310005", "CARD_NUMBER"),
    ("Visa 4111 1111 1111 1111 was charged.", "4111 1111 1111 1111", "CARD_NUMBER"),
    ("Visa 4111-1111-1111-1111 was charged.", "4111-1111-1111-1111", "CARD_NUMBER"),
    ("Amex 3782 822463 10005 was charged.", "3782 822463 10005", "CARD_NUMBER"),
    ("Her SSN is 536-90-4399.", "536-90-4399", "NATIONAL_ID"),
    ("Her number is 536 90 4399.", "536 90 4399", "NATIONAL_ID"),
    ("SSN: 536904399 on file.", "536904399", "NATIONAL_ID"),
    ("Social security number 536904399 on file.", "536904399", "NATIONAL_ID"),
    ("CPF 111.444.777-35 cadastrado.", "111.444.777-35", "NATIONAL_ID"),
    ("Codice fiscale RSSMRA85T10A562S allegato.", "RSSMRA85T10A562S", "NATIONAL_ID"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "SECRET"),
    ("the key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY leaked", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "SECRET"),
    ('"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "SECRET"),
    ("stripe.api_key = sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "SECRET"),
    (
        "export KEY=sk-ant-api03-abcDEF123_ghiJKL456-mnoPQR789_stuVWX012-yzAB345CDE678fghIJK901lmnOPQAA",
        "sk-ant-api03-abcDEF123_ghiJKL456-mnoPQR789_stuVWX012-yzAB345CDE678fghIJK901lmnOPQAA",
        "SECRET",
    ),
    ("GET https://api.example.com/v1/items?access_token=abcDEF123456&page=two", "abcDEF123456", "SECRET"),
    ("https://maps.example.com/js?api_key=Zx81Kq02Lm93&callback=init", "Zx81Kq02Lm93", "SECRET"),
    ("https://example.com/feed?user=ann&token=9f8e7d6c5b4a", "9f8e7d6c5b4a", "SECRET"),
    (
        "Post to https://hooks.slack.com/services/T01ABCDEF/B02GHIJKL/aBcDeFgHiJkLmNoPqRsTuVwX now",
        "https://hooks.slack.com/services/T01ABCDEF/B02GHIJKL/aBcDeFgHiJkLmNoPqRsTuVwX",
        "SECRET",
    ),
    ("DATABASE_URL=postgres://admin:s3cretPass@db.example.com/app", "admin:s3cretPass", "SECRET"),
    ("password = hunter22", "hunter22", "SECRET"),
    ("- Network: SaltLife8085\n- Password: SandyBeachesPlz!", "SandyBeachesPlz", "SECRET"),
    ("Reach the box at 2001:db8::1 or fe80::1%eth0.", "2001:db8::1", "IP_ADDRESS"),
    ("The NIC 00:1A:2B:3C:4D:5E is blocked.", "00:1A:2B:3C:4D:5E", "MAC_ADDRESS"),
    ("The NIC 00-1a-2b-3c-4d-5e is blocked.", "00-1a-2b-3c-4d-5e", "MAC_ADDRESS"),
    ("the server at 192.168.1.20 refused", "192.168.1.20", "IP_ADDRESS"),
    ("connect to 10.0.0.1:8080 first", "10.0.0.1", "IP_ADDRESS"),
    ("blocked 203.0.113.77 yesterday", "203.0.113.77", "IP_ADDRESS"),
    ("ssh root@10.1.2.3 and look", "10.1.2.3", "IP_ADDRESS"),
    ("allow 172.16.5.0/24 only", "172.16.5.0", "IP_ADDRESS"),
]


@pytest.mark.parametrize("text,private,kind", CAUGHT, ids=[c[1][:30] for c in CAUGHT])
def test_private_data_is_replaced_by_its_kind(text, private, kind):
    out, counts = _scrub(text)
    assert f"<{kind}>" in out and counts[kind.lower()] >= 1, out
    for piece in re.findall(r"\d{2,}|[A-Za-z0-9]{6,}", private):
        assert piece not in out, (piece, out)


def test_a_spaced_iban_is_one_iban_and_the_bic_after_it_stays():
    assert _scrub("IBAN: DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX")[0] == "IBAN: <IBAN> BIC COBADEFFXXX"


def test_key_names_and_url_parts_around_a_secret_stay():
    assert _scrub("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")[0] == "aws_secret_access_key = <SECRET>"
    assert _scrub("postgres://admin:s3cretPass@db.example.com:5432/app")[0] == "postgres://<SECRET>@db.example.com:5432/app"
    assert _scrub("/items?access_token=abcDEF123456&page=2")[0] == "/items?access_token=<SECRET>&page=2"
    assert _scrub('{"password": "letmein"}')[0] == '{"password": "<SECRET>"}'
    assert _scrub("SSN: 536904399")[0] == "SSN: <NATIONAL_ID>"


LOOKALIKES = [
    "Upgrade to version 3.10.12.1 today.",
    "Python 3.10.12.1 fixes it.",
    "pip install torch==2.4.1.0",
    "ISBN 978-3-16-148410-0",
    "ISBN 0-306-40615-2 or ISBN 0306406152",
    "It happened on 2024-03-15.",
    "Es geschah am 15.03.2024 um 14:30.",
    "It costs $1,299.99, or €1.299,99.",
    "The code is 12345.",
    "A population of 8336817 people.",
    "Between 1990 and 2000 and in 1985.",
    "1,000,000 visitors and 12 345 678 901 units.",
    "x = arr[1024]",
    "sleep(30000)",
    "commit 3f786850e387550fdab836ed7c6dc4ab9f8a5b2c",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "uuid 123e4567-e89b-12d3-a456-426614174000",
    "12.2.1.1. What is a tokenizer?",
    "Mail it to San Francisco, CA 94103-1234.",
    "Order #4155552671 shipped; order no. 1002345678 too.",
    "Timestamp 1700000000, in ms 1700000000123.",
    "Seasons 2019 2020 2021 2022 and pages 123-456.",
    "Invalid card 4111 1111 1111 1112 and IBAN DE89 3704 0044 0532 0130 01.",
    "Area 666-12-3456 is never issued.",
    "Nine digits 536904399 without a cue.",
    "CPF-like 123.456.789-00 fails its check.",
    "The toll-free line 1-800-555-0199 is open.",
    "Coordinates 48.8566, 2.3522 and pi 3.141592653589793.",
    "Meet at 10:30:45, ratio 16:9.",
    "Loopback ::1 and slice a[10::20] and std::vector<int>.",
    "ThisIsAVeryLongCamelCaseIdentifierName12 and src/components/UserProfile/Avatar2x/abcd",
    "See https://en.wikipedia.org/wiki/Some_Article?page=2&sort=name and http://example.com:8080/path",
    "Secret: Ingredients matter. Token: the smallest unit. Password: choose a strong one.",
]


@pytest.mark.parametrize("text", LOOKALIKES)
def test_look_alikes_stay(text):
    assert _scrub(text) == (text, Counter())


NOT_IPS = [
    "12.2.1.1. What is a tokenizer?",
    "## 1.2.3.4 Scope of this chapter",
    "Python 3.10.12.1 was released.",
    "Install version 3.10.12.1 first.",
    "Use v 4.0.1.2 or release 2.0.0.1-beta.",
    "pip install foo==1.2.3.4",
    "Build openssl-1.0.200.11 from source.",
    "Firefox 115.0.3.1 is out.",
    "numpy 1.26.4.0 and 2.0.0.1rc1 too.",
    "See section 10.2.3.1 and § 4.1.2.3.",
    "Table 2.1.1.4 and chapter 12.4.1.3 list them.",
    "The outline 2.3.1.4 covers it, as does 1.2.3.4.5.",
    "1.1.1.1) Gather the tools",
    "Invalid 300.1.2.3 and 192.168.01.1.",
]


@pytest.mark.parametrize("text", NOT_IPS)
def test_section_version_and_outline_numbers_are_not_ip_addresses(text):
    assert _scrub(text) == (text, Counter())


PROSE = """\
In 1985 the city of 8,336,817 people opened its 3rd library; by 2024-03-15 the
collection held 1,000,000 books (ISBN 978-3-16-148410-0 among them), priced from $12.99
to $1,299.99. Chapter 4.2.1.3 explains the catalog; version 2.0.1.5 of the software
went live on 15.03.2024 at 14:30. Secret: patience. Password: choose one you remember.
Visit room 101, order #1002345678, ZIP 94103, and see figures 1.1.1.1 through 1.1.1.9."""

CODE = """\
import os, time
token = os.environ["GITHUB_TOKEN"]
password: str = None
api_key = settings.API_KEY
max_tokens = 2048
x = arr[1024][1::2]
time.sleep(30000)
digest = "3f786850e387550fdab836ed7c6dc4ab9f8a5b2c"
VERSION = "3.10.12.1"
std::vector<int> v(10); Foo::bar();
url = f"https://example.com/search?q={query}&page={page}"
assert 0xDEADBEEF > 1700000000123"""


@pytest.mark.parametrize("text", [PROSE, CODE], ids=["prose", "code"])
def test_ordinary_prose_and_code_come_out_unchanged(text):
    assert _scrub(text) == (text, Counter())


def test_the_pipeline_example_keeps_its_placeholders_and_counts():
    counts = Counter()
    assert scrub("Can you mail jane.doe@example.com or call +1 415-555-0132?", counts) == "Can you mail <EMAIL> or call <PHONE>?"
    assert (
        scrub(
            "Server 10.0.0.12 uses key sk-abcdefghijklmnopqrstuvwx1234 and token: ghp_abcdefghijklmnopqrstuvwxyz0123456789.",
            counts,
        )
        == "Server <IP_ADDRESS> uses key <SECRET> and token: <SECRET>."
    )
    assert scrub("Magic Johnson won titles in 1980, 1982 and 1985.", counts) == "Magic Johnson won titles in 1980, 1982 and 1985."
    assert counts == Counter(email=1, phone=1, ip_address=1, secret=2)


def test_existing_secret_formats_are_still_caught():
    for secret in [
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "xoxb-1234567890-abcdefghij",
        "AKIAIOSFODNN7EXAMPLE",
        "AIzaSyA1234567890abcdefghijklmnopqrstuv",
        "hf_abcdefghijklmnopqrstuvwxyz012345",
        "Bearer abcdefghijklmnopqrstuvwxyz.0123",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    ]:
        assert _scrub(f"here {secret} there") == ("here <SECRET> there", Counter(secret=1)), secret
