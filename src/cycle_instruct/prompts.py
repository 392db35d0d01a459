"""Every prompt the method uses, in one place.

Forward model M_QA sees an ordinary single-turn chat: the user asks, the assistant
answers. Backward model M_AQ is shown the assistant's response and asked to write the
user turn that led to it. Reformat has one fixed prompt per side.
"""

REFORMAT_QUESTION = (
    "Rewrite the text below as one self-contained, natural question that a user could ask. "
    "Keep its meaning, add nothing new, and reply with the question only.\n\n"
    "Text:\n{text}"
)

REFORMAT_ANSWER = (
    "Rewrite the text below as a fluent, coherent response. Keep every fact, add no new "
    "information, and reply with the rewritten text only.\n\n"
    "Text:\n{text}"
)

BACKWARD = (
    "Here is an assistant's response from a conversation:\n\n{response}\n\n"
    "Write the user message that this response answers. Reply with the user's message only."
)

# Used only when the tokenizer has no chat template (e.g. a plain base model).
PLAIN_USER_PREFIX = "### User:\n"
PLAIN_ASSISTANT_PREFIX = "\n\n### Assistant:\n"

# Text that must never appear in a generation: role headers and template markers.
ROLE_TAG_PATTERNS = (
    r"<\|[a-z_]+\|>",  # <|im_start|>, <|endoftext|>, <|eot_id|> ...
    r"^\s*(user|assistant|system)\s*$",  # ChatML role line
    r"^\s*#{2,}\s*(user|assistant|instruction|response)\s*:?\s*$",
    r"^\s*(user|assistant)\s*:",
    r"\[/?INST\]",
)


def user_turn(content: str) -> list[dict]:
    return [{"role": "user", "content": content}]


def reformat_messages(text: str, side: str) -> list[dict]:
    template = REFORMAT_QUESTION if side == "instruction" else REFORMAT_ANSWER
    return user_turn(template.format(text=text))


def forward_messages(question: str) -> list[dict]:
    """M_QA's input: the question as the user's turn."""
    return user_turn(question)


def backward_messages(response: str) -> list[dict]:
    """M_AQ's input: the response, with the request to write the user turn behind it."""
    return user_turn(BACKWARD.format(response=response))


def render_prompt(tokenizer, messages: list[dict]) -> str:
    """The text the model sees before it starts its reply."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return PLAIN_USER_PREFIX + messages[-1]["content"] + PLAIN_ASSISTANT_PREFIX

JUDGE = (
    "Rate how well the response answers the question, from 1 (not at all) to 5 (fully and "
    "correctly). Reply with the number only.\n\nQuestion:\n{instruction}\n\nResponse:\n{response}"
)


def judge_messages(instruction: str, response: str) -> list[dict]:
    """The optional local-model judge of a pair's relevance."""
    return user_turn(JUDGE.format(instruction=instruction, response=response))
