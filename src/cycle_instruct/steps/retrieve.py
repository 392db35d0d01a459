"""Retrieve: for each real question, the answer paragraphs of the corpus nearest to it (relabel.context).

With `retrieved`, M_QA answers each real question from these paragraphs (prompts/forward_grounded.txt)
instead of from its weights alone. The search runs over the answer side as segment wrote it, the
documents' own words before reformat, and uses no question-answer link. With `none` (the paper)
the stage writes an empty file and loads no model, so that relabel_answers runs as before. Each row
holds the paragraphs' text, so relabel needs no other input and `show` can display them.
"""

from ..embedding import load_embedder
from ..errors import UserError
from ..records import read_records, timed, write_json, write_jsonl
from ..retrieval import ParagraphIndex, fill_budget
from . import METRICS, TIMING, option, output, stage_command


def run(params, questions, answers, out, metrics, timing=None):
    cfg = params.relabel
    with timed(timing):
        if cfg.context == "none":
            write_jsonl(out, [])
            write_json(metrics, {"context": "none"})
            return
        asked, corpus = read_records(questions), read_records(answers)
        if not corpus:
            raise UserError(
                f"{answers}: no answer paragraphs to retrieve from; relabel.context: retrieved needs a corpus with an answer side (or set it to none)"
            )
        index = ParagraphIndex(
            load_embedder(params.model.embedder, params.model.allow_hub), [r.id for r in corpus], [r.response for r in corpus]
        )
        rows, nearest_cosines, shown = [], [], []
        for record, found in zip(asked, index.nearest([r.instruction for r in asked], cfg.k)):
            chosen = fill_budget(found, index.texts, cfg.context_chars)
            rows.append(
                {
                    "id": record.id,
                    "paragraphs": [{"id": index.ids[p], "cosine": round(s, 4), "text": index.texts[p]} for p, s in chosen],
                }
            )
            nearest_cosines.append(chosen[0][1])
            shown.append(len(chosen))
        write_jsonl(out, rows)
        write_json(
            metrics,
            {
                "context": "retrieved",
                "questions": len(rows),
                "answer_paragraphs": len(corpus),
                "paragraphs_per_question": round(sum(shown) / max(1, len(shown)), 3),
                "nearest_cosine_mean": round(sum(nearest_cosines) / max(1, len(nearest_cosines)), 4),
            },
        )


command = stage_command(
    run,
    "retrieve",
    "Find the answer paragraphs nearest to each real question (relabel.context: retrieved).",
    option("--questions", required=True, help="question records (data/reformatted/questions.jsonl)"),
    option("--answers", required=True, help="the corpus's answer side (data/segments/answers.jsonl)"),
    output("--out", required=True, help="JSONL: per question id, the retrieved paragraphs (id, cosine, text)"),
    METRICS,
    TIMING,
)
