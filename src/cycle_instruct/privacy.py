"""Replace personal data and secrets with typed placeholders before any model sees the text.

The paper names leaking private data as the method's own risk: raw text goes into
generation prompts and LoRA weights. The patterns aim at the obvious cases (e-mail
addresses, phone numbers, IP addresses, API keys and tokens); they are no guarantee.
"""

import re
from collections import Counter

PATTERNS = [  # order matters: secrets before the looser patterns that could eat their pieces
    ("SECRET", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)),
    ("SECRET", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),  # JWT
    ("SECRET", re.compile(r"\b(?:sk|pk|rk)-(?:[A-Za-z0-9]+-)*[A-Za-z0-9]{20,}")),  # OpenAI/Stripe style
    ("SECRET", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}")),
    ("SECRET", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),  # Slack
    ("SECRET", re.compile(r"\bAKIA[0-9A-Z]{16}\b")),  # AWS access key id
    ("SECRET", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),  # Google API key
    ("SECRET", re.compile(r"\bhf_[A-Za-z0-9]{30,}\b")),  # Hugging Face
    ("SECRET", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{20,}=*")),
    ("SECRET", re.compile(r"(?i)(?<!\w)(?:api[_-]?key|secret|token|password|passwd)(?=\s*[:=])\s*[:=]\s*[\"']?[^\s\"'<]{6,}[\"']?")),
    ("EMAIL", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")),
    ("IP_ADDRESS", re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")),
    ("IP_ADDRESS", re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])")),
    ("PHONE", re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{2,4}[\s.-])\d{3,4}[\s.-]\d{3,4}(?![\w-])")),
]


def scrub(text: str, counts: Counter) -> str:
    """`text` with each match replaced by <TYPE>; `counts` gains one per replacement."""
    for kind, pattern in PATTERNS:
        text, n = pattern.subn(f"<{kind}>", text)
        if n:
            counts[kind.lower()] += n
    return text
