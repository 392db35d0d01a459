import numpy as np
import pytest

from cycle_instruct.distances import distance_stats, l2_distances, load_embeddings
from cycle_instruct.embedding import embed, load_embedder
from cycle_instruct.records import Record
from cycle_instruct.steps.embed import embed_dataset

from conftest import ROOT


@pytest.fixture(scope="module")
def model():
    return load_embedder("all-MiniLM-L6-v2")


def test_embedded_minilm_ranks_faithful_reconstructions_closer(model):
    originals = embed(model, ["How do I reset my password?", "How do I reset my password?"])
    reconstructions = embed(model, ["What are the steps to reset my password?", "Which bird migrates the farthest?"])
    d = l2_distances(originals, reconstructions)
    assert np.allclose(np.linalg.norm(originals, axis=1), 1.0, atol=1e-5)
    assert 0 < d[0] < d[1] <= 2


def test_distance_stats():
    assert distance_stats([1.0, 2.0, 3.0]) == {"mean": 2.0, "median": 2.0, "p95": 2.9}
    assert distance_stats([]) == {"mean": None, "median": None, "p95": None}


def faq_pairs(n: int = 12) -> list[Record]:
    """Real FAQ paragraphs as originals; each reconstructed by the next paragraph, every 5th rejected (no reconstruction)."""
    paragraphs = [
        p.strip() for f in sorted((ROOT / "data" / "raw").glob("faq_*.txt")) for p in f.read_text().split("\n\n") if p.strip()
    ][: n + 1]
    return [
        Record(
            id=f"p{i}",
            original="response",
            instruction=f"What does paragraph {i} of the FAQ say?",
            response=paragraphs[i],
            reconstruction=None if i % 5 == 0 else paragraphs[i + 1],
        )
        for i in range(n)
    ]


def test_streamed_embeddings_and_distances_equal_one_call(model, tmp_path):
    pairs = faq_pairs()
    distances = embed_dataset(model, pairs, tmp_path / "emb.npy", chunk=5)  # chunks of 5, 5 and 2
    whole = embed(model, [p.response for p in pairs])
    streamed = load_embeddings(tmp_path / "emb.npy")
    assert isinstance(streamed, np.memmap) and streamed.dtype == np.float32 and streamed.shape == (12, 384)
    assert np.allclose(streamed, whole, atol=1e-5)
    scored = [i for i, p in enumerate(pairs) if p.reconstruction is not None]
    expected = l2_distances(whole[scored], embed(model, [pairs[i].reconstruction for i in scored]))
    assert np.allclose(distances, expected, atol=1e-5)
    assert [p.distance is None for p in pairs] == [i % 5 == 0 for i in range(12)]
    assert np.allclose([pairs[i].distance for i in scored], expected, atol=1e-5)
    relevance = (whole * embed(model, [p.instruction for p in pairs])).sum(axis=1)  # cosine of the two sides, every pair
    assert np.allclose([p.relevance for p in pairs], relevance, atol=1e-5)


def test_a_failed_embedding_leaves_the_old_file_and_no_temp(model, tmp_path):
    path = tmp_path / "emb.npy"
    np.save(path, np.ones((2, 384), dtype=np.float32))
    pairs = faq_pairs(6)
    pairs[4].response = None  # an original without text, in the second chunk: the embedder fails there
    with pytest.raises(ValueError, match="NoneType"):
        embed_dataset(model, pairs, path, chunk=3)
    assert [f.name for f in tmp_path.iterdir()] == ["emb.npy"]
    assert np.array_equal(np.load(path), np.ones((2, 384), dtype=np.float32))


def test_support_is_set_for_generated_answers_only_against_the_corpus(model, tmp_path):
    from cycle_instruct.records import Record, write_records
    from cycle_instruct.steps.embed import support_dataset

    corpus = [
        Record(
            id="a1", original="response", response="Run update-rc.d to install or remove the System-V style init script links."
        ),
        Record(id="a2", original="response", response="The runlevel is a mode of operation such as single-user mode."),
    ]
    write_records(tmp_path / "answers.jsonl", corpus)
    pairs = [
        Record(
            id="q1", original="instruction", instruction="How do I remove init links?", response="Run update-rc.d to remove them."
        ),
        Record(
            id="q2", original="instruction", instruction="What is a runlevel?", response="A runlevel is a Bluetooth pairing code."
        ),
        Record(id="a3", original="response", instruction="What does it do?", response="Something unrelated entirely."),
    ]
    scores = support_dataset(model, pairs, tmp_path / "answers.jsonl")
    assert scores == [pairs[0].support, pairs[1].support] and pairs[2].support is None
    assert pairs[0].support == 1.0 and pairs[1].support < 0.5  # "bluetooth pairing code" is in no paragraph
