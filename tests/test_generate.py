import pytest

from cycle_instruct.engines import HFEngine
from cycle_instruct.generate import Generation, generate, reject_reason, summarize
from cycle_instruct.prompts import forward_messages, shipped_prompts

from conftest import shipped_params

PROMPTS = shipped_prompts()


@pytest.mark.parametrize(
    "text,reason",
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("Sure <|im_start|>assistant", "template_leak"),
        ("Paris.\nuser\nAnd Rome?", "template_leak"),
        ("Assistant: Paris.", "template_leak"),
        ("what is the capital of France", "echo"),  # the source, up to case and punctuation
        ("Paris is the capital of France.", None),
        ("The credits were used to create an effect called the movie " * 4, "repetitive"),
        ("Run this:\n```python\nimport os\nprint(os.getcwd(", "unclosed_code"),
        ("Run this:\n```python\nimport os\n```\nIt prints the folder.", None),
    ],
)
def test_reject_reasons(text, reason):
    assert reject_reason(text, "What is the capital of France?", "What is the capital of France?") == reason


BOILERPLATE = [  # kept as instructions on real documentation before this check existed
    "I'm ready to assist you. What's the user's message?",
    "I'm sorry for any confusion, but as a helpful AI assistant I cannot browse the web.",
    "This response is a response to a user's question.",
    "As an AI language model, I don't have opinions.",
    "How can I help you today?",
    "Please provide the text you would like me to rewrite.",
    # SmolLM2 as M_AQ and as reformatter on documentation (Sphinx, docutils, Black)
    "I'm glad to hear that you're interested in using GitLab to collaborate with others.",
    "Here's the user's message:\n\nYugoslavia was made up of 7 countries.",
    "Here is the response:\n\nLake Superior is the largest of the Great Lakes.",
    'The answer to the user\'s question is: "The Carolinas"',
    "GitHub Actions runs make html.\n\nIn this rewritten version, I've rephrased the original text to make it more concise.",
    # SmolLM2 as reformatter on the gunicorn FAQ (benchmarks/quality.py)
    "Verify the result: ```bash df /mem ```\n\nThis is a fluent, coherent response that is written in the requested format.",
    "Inspect kernel logs.\n\nThis is a rewritten text that includes the original text in a coherent and coherent response.",
]
NOT_BOILERPLATE = [  # ordinary questions and answers that share words with the patterns
    "How can I help you sleep better with a bedtime routine?",
    "As an AI researcher, which benchmark should I report?",
    "What is the message of the novel Frankenstein?",
    "I'm ready to start the marathon, but how should I taper?",
    "The assistant coach is responsible for the defence.",
    "Sorry is a 2015 song by Justin Bieber.",
    "In 1953 he worked as an assistant counsel to the Senate committee.",  # Dolly
    "I'm glad to hear the results; how do I share the report with my team?",
    "Here is the syntax: name = value.",
    "This is a coherent design: the text widget and the response handler share one state.",
]


@pytest.mark.parametrize("text", BOILERPLATE)
def test_assistant_talk_is_boilerplate(text):
    assert reject_reason(text, "Paris is the capital of France.", "x") == "boilerplate"


@pytest.mark.parametrize("text", NOT_BOILERPLATE)
def test_ordinary_text_is_not_boilerplate(text):
    assert reject_reason(text, "Paris is the capital of France.", "x") is None


def test_a_pseudo_label_that_copies_its_source_is_a_copy():
    source = "The Eiffel Tower, built in 1889 for the World's Fair, is 330 metres tall and stands in Paris."
    near_copy = "The Eiffel Tower, built in 1889 for the World's Fair, is 330 metres tall and in Paris?"
    assert reject_reason(near_copy, source, "x", max_copy=0.8) == "copy"
    assert reject_reason("How tall is the Eiffel Tower, and when was it built?", source, "x", max_copy=0.8) is None
    assert reject_reason(near_copy, source, "x", reject_echo=False, max_copy=0.8) is None  # reformat: a rewrite may stay close


def test_copying_a_long_span_of_the_prompt_is_an_echo():
    prompt = "Here is an assistant's response from a conversation:\n\nThe Eiffel tower is in Paris and is 330 m tall."
    assert reject_reason("The Eiffel tower is in Paris", "x", prompt) == "echo"
    assert reject_reason("The Eiffel tower is in Paris", "x", prompt, reject_echo=False) is None


def test_generate_is_batched_ordered_and_reproducible(tiny_model_dir):
    engine = HFEngine(tiny_model_dir)
    assert engine.tokenizer.padding_side == "left"
    conversations = [forward_messages(PROMPTS, q) for q in ["Why?", "What is the capital of France and why?", "How?"]]
    cfg = shipped_params(generate={"batch_size": 2, "temperature": 0.2, "top_k": 10, "max_new_tokens": 5, "seed": 3}).generate
    first = generate(engine, conversations, cfg)
    assert len(first) == 3 and all(isinstance(g, Generation) for g in first)
    assert all(0 < g.new_tokens <= 5 for g in first)
    assert generate(engine, conversations, cfg) == first
    # each answer is independent of its batch neighbours' order when decoding greedily
    greedy = cfg.but(temperature=0)
    forward = generate(engine, conversations, greedy)
    backward = generate(engine, conversations[::-1], greedy)
    assert [g.text for g in forward] == [g.text for g in backward[::-1]]


def test_summarize_counts_reasons_and_tokens():
    gens = [
        Generation("a", 3, True),
        Generation("", 5, False, "empty"),
        Generation("b", 2, True, "echo"),
        Generation("", 1, True, "empty", resumed=True),
    ]
    assert summarize(gens) == {
        "generated": 4,
        "rejected": 3,
        "rejected_by_reason": {"echo": 1, "empty": 2},
        "unfinished": 1,
        "tokens_generated": 11,
        "resumed": 1,
    }
