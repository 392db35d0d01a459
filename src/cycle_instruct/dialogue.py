"""Dialogue logs: flat chats and OpenAssistant message trees -> user turns as questions, assistant turns as answers.

Which answer replied to which question is dropped from the loop (kept only as the answer's gold pair).
"""

from .corpus import BadRecord, Item, Reading, kind
from .records import INSTRUCTION, RESPONSE
from .text import blank

USER_ROLES = {"user", "human", "prompter"}
ASSISTANT_ROLES = {"assistant", "gpt", "bot", "model", "chatgpt"}


def kind_of(record: dict) -> str:
    """The dialogue format of a file from its first record: 'oasst' (one message a line) or 'chat'."""
    return "oasst" if "message_id" in record else "chat"


def turn(reading: Reading, name: str, n: int, role, text: str, index: int) -> str | None:
    """Add one turn; return its side, or None if nothing was added (system, empty, unknown role)."""
    role = str(role).lower()
    if role in USER_ROLES:
        side = INSTRUCTION
    elif role in ASSISTANT_ROLES:
        side = RESPONSE
    elif role == "system":
        return None
    else:
        reading.bad(name, n, f"unknown role {role!r} (expected user/assistant, human/gpt or prompter/assistant)", "unknown_role")
        return None
    if blank(text):
        reading.corpus.stats["empty_turns"] += 1
        return None
    reading.corpus.items.append(Item(side, text.strip(), {"doc": f"{name}:{n}", "paragraph": index}))
    return side


def chat(reading: Reading, name: str, records) -> None:
    """Flat chat JSONL (`messages` with role/content) and ShareGPT (`conversations` with from/value): one dialogue a line."""
    items = reading.corpus.items
    for n, record in records:
        turns = record.get("messages", record.get("conversations"))
        if not isinstance(turns, list):
            reading.bad(name, n, "expected a 'messages' or 'conversations' list", "wrong_type")
            continue
        previous = None
        for index, message in enumerate(turns):
            if not isinstance(message, dict):
                reading.bad(name, n, f"turn {index} is {kind(message)}, expected an object", "wrong_type")
                break
            role, text = message.get("role", message.get("from")), message.get("content", message.get("value"))
            if role is None or not isinstance(text, str):
                reading.bad(name, n, f"turn {index} needs a role/from and a string content/value", "wrong_type")
                break
            side = turn(reading, name, n, role, text, index)
            if side == RESPONSE and previous is not None:
                items[-1].gold = (previous, text.strip())
            previous = text.strip() if side == INSTRUCTION else None


def oasst(reading: Reading, name: str, records) -> None:
    """OpenAssistant rows: one message a line, linked into trees by parent_id.

    Deleted messages and those under a broken link or a cycle are dropped (and counted).
    """
    by_id = _messages(reading, name, records)
    rooted = _broken_links(reading, name, by_id)
    for message_id, (n, record) in by_id.items():
        if record.get("deleted"):
            reading.corpus.stats["deleted_messages"] += 1
            continue
        if not _reaches_a_root(reading, name, by_id, rooted, message_id):
            reading.corpus.stats["messages_under_broken_links"] += 1
            continue
        side = turn(reading, name, n, record["role"], record["text"], 0)
        parent = by_id.get(record.get("parent_id"))
        if side == RESPONSE and parent and str(parent[1]["role"]).lower() in USER_ROLES:
            reading.corpus.items[-1].gold = (parent[1]["text"].strip(), record["text"].strip())


def _messages(reading: Reading, name: str, records) -> dict:
    """message_id -> (line, record) of the well-formed messages; a repeated message_id is bad, never a silent overwrite."""
    by_id = {}
    for n, record in records:
        try:
            for key in ("message_id", "text", "role"):
                reading.string(name, n, record, key)
            reading.string(name, n, record, "parent_id", required=False)
        except BadRecord:
            continue
        message_id = record["message_id"]
        if message_id in by_id:  # the first one is kept
            reading.bad(
                name, n, f"message_id {message_id} is already used on line {by_id[message_id][0]}", "duplicate_message_ids"
            )
            continue
        by_id[message_id] = (n, record)
    return by_id


def _broken_links(reading: Reading, name: str, by_id: dict) -> dict:
    """message_id -> False for each message whose parent_id is not in the file (each one is bad)."""
    rooted = {}
    for message_id, (n, record) in by_id.items():
        parent = record.get("parent_id")
        if parent is not None and parent not in by_id:
            reading.bad(
                name, n, f"parent_id {parent} of message {message_id} is not in the file (broken tree)", "broken_parent_links"
            )
            rooted[message_id] = False
    return rooted


def _reaches_a_root(reading: Reading, name: str, by_id: dict, rooted: dict, message_id) -> bool:
    """Whether the chain of parents of `message_id` ends at a root; a cycle on the way is bad.

    `rooted` (message_id -> the answer) keeps what each walk learns, so every message is walked once.
    """
    chain = {}
    while message_id is not None and message_id not in rooted:
        if message_id in chain:
            reading.bad(
                name, by_id[message_id][0], f"message {message_id} is its own ancestor (a parent_id cycle)", "parent_cycles"
            )
            break
        chain[message_id] = True
        message_id = by_id[message_id][1].get("parent_id")
    ok = message_id is None or rooted.get(message_id, False)
    rooted.update(dict.fromkeys(chain, ok))
    return ok
