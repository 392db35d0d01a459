"""The whole pipeline, for real: DVC in a temporary git repo, the embedded SmolLM2 and MiniLM."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, TINY, dvc, dvc_status, make_project, ran_stages, reproduced_stages

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, dvc_cache):
    """The repo's pipeline in a fresh git repo, on 8 question/answer pairs, with two iterations
    (the shipped params run one) and grounded pseudo-answers (relabel.context: retrieved; the
    paper's `none` runs end to end in test_eval.py and test_tracks.py), run once. Tests that only
    read it (or change a file and put it back in a `finally`) use it as it is; the others take
    their own copy (`project`)."""
    paragraphs = (ROOT / "data/raw/faq_01.txt").read_text().split("\n\n")[:16]
    overrides = {**TINY, "iterations": {"1": {"prev": 0}, "2": {"prev": 1}}, "relabel": {"context": "retrieved", "k": 2}}
    root = make_project(
        tmp_path_factory.mktemp("project"), overrides, dvc_cache, {"data/raw/faq.txt": "\n\n".join(paragraphs) + "\n"}
    )
    first = dvc("repro", cwd=root)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    return root, first.stdout


@pytest.fixture
def project(pristine, tmp_path):
    """This test's own copy of the finished project (git history, dvc.lock, outputs; the DVC cache
    is shared), so what it changes no other test sees, in any order."""
    root, output = pristine
    copy = tmp_path / "project"
    shutil.copytree(
        root, copy, symlinks=True, ignore=lambda folder, names: ["tmp"] if Path(folder).name == ".dvc" else []
    )  # not DVC's state of the original
    yield copy, output
    shutil.rmtree(copy, ignore_errors=True)  # a copy holds the base model: do not keep one per test


def test_every_stage_ran_with_iterations_chained(pristine):
    root, output = pristine
    stages = ran_stages(output)
    for it in ("1", "2"):
        order = [stages.index(f"{s}@{it}") for s in ("relabel_answers", "train_bwd", "relabel_questions", "train_fwd")]
        assert order == sorted(order)
    assert stages.index("train_fwd@1") < stages.index("relabel_answers@2")
    assert stages.index("segment") < stages.index("reformat") < stages.index("retrieve") < stages.index("relabel_answers@1")
    assert (
        stages.index("embed")
        < stages.index("prune")
        < stages.index("decontaminate")
        < stages.index("judge")
        < stages.index("export")
    )
    assert stages.index("prune") < stages.index("summary")
    assert stages.index("view") > max(stages.index(s) for s in ("decontaminate", "judge", "export"))  # the view reads them all
    dot = dvc("dag", "--dot", cwd=root).stdout
    assert '"train_fwd@1" -> "relabel_answers@2"' in dot


def test_datasets_keep_the_record_schema(pristine):
    root, _ = pristine
    inst = [json.loads(line) for line in (root / "data/final/cycle_inst.jsonl").read_text().splitlines()]
    filt = [json.loads(line) for line in (root / "data/final/cycle_filt.jsonl").read_text().splitlines()]
    pruned = [json.loads(line) for line in (root / "data/final/pruned.jsonl").read_text().splitlines()]
    assert len(filt) + len(pruned) == len(inst) >= 8
    # pairs whose reconstruction our checks rejected have no distance and are pruned first; the
    # per-cluster fraction applies to the rest (the tiny CI models echo often, so there are some)
    scored = [r for r in inst if r["distance"] is not None]
    prune = json.loads((root / "metrics/prune.json").read_text())
    assert prune["pruned_by_reason"]["no_distance"] == len(inst) - len(scored)
    assert prune["pruned_by_reason"]["cluster_fraction"] == round(0.05 * len(scored))
    assert {r["original"] for r in inst} == {"instruction", "response"}
    for r in inst:
        assert r["instruction"] and r["response"] and r["iteration"] == 2
        assert r["source"]["doc"].endswith("faq.txt") and isinstance(r["source"]["paragraph"], int)
        assert (r["distance"] is None) == (r["reconstruction"] is None)
    for r in filt:
        assert isinstance(r["distance"], float) and isinstance(r["reconstruction"], str)
    if filt and any(r["distance"] is not None for r in pruned):
        assert max(r["distance"] for r in pruned if r["distance"] is not None) >= max(r["distance"] for r in filt)


def test_adapters_and_metrics_exist_per_iteration(pristine):
    root, _ = pristine
    for it in ("1", "2"):
        for model in ("m_qa", "m_aq"):
            assert (root / f"data/iterations/{it}/{model}/adapter_config.json").exists()
        train = json.loads((root / f"metrics/iterations/{it}/train_fwd.json").read_text())
        assert train["optimizer_steps"] > 0 and train["final_loss"] > 0
        relabel = json.loads((root / f"metrics/iterations/{it}/relabel_answers.json").read_text())
        assert {"in", "out", "rejected", "rejected_by_reason", "tokens_generated"} <= set(relabel)
    summary = json.loads((root / "metrics/summary.json").read_text())
    assert summary["iterations"] == 2 and summary["cycle_filt_pairs"] + summary["pruned"] == summary["cycle_inst_pairs"]
    timing = json.loads((root / "metrics/timings/train_fwd_2.json").read_text())
    assert timing["wall_seconds"] > 0 and "wall_seconds" not in train  # timings live apart from metrics
    assert timing["tokens_per_s"] > 0 and "tokens_per_s" not in train  # so does the training's rate
    shown = json.loads(dvc("metrics", "show", "--json", cwd=root).stdout)
    names = set(next(iter(shown.values()))["data"])
    assert "metrics/iterations/2/train_bwd.json" in names and "metrics/summary.json" in names
    assert not any(name.startswith("metrics/timings") for name in names)
    assert json.loads((root / "metrics/curves/train_bwd_2.json").read_text())[0]["step"] == 1


def test_outputs_are_dvc_tracked_not_git(pristine):
    root, _ = pristine
    ignored = subprocess.run(
        ["git", "check-ignore", "data/final/cycle_filt.jsonl", "data/iterations/1/m_qa", "data/models/base"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert len(ignored.stdout.split()) == 3
    assert (root / "dvc.lock").exists()


def test_second_repro_does_nothing_and_prune_params_rerun_only_prune(project):
    root, _ = project
    again = dvc("repro", cwd=root)
    assert again.returncode == 0 and ran_stages(again.stdout) == []
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["prune"]["fraction"] = 0.25
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    changed = dvc("repro", cwd=root)
    assert changed.returncode == 0 and ran_stages(changed.stdout)[0] == "prune"
    assert sorted(reproduced_stages(changed.stdout)) == [
        "decontaminate",
        "export",
        "judge",
        "prune",
        "summary",
        "view",
    ]  # prune and what reads its output
    prune = json.loads((root / "metrics/prune.json").read_text())
    scored = prune["in"] - prune["pruned_by_reason"]["no_distance"]
    assert prune["pruned_by_reason"]["cluster_fraction"] == round(0.25 * scored)


def test_editing_a_prompt_reruns_exactly_the_stages_that_use_it(pristine):
    """prompts/backward.txt is a dep of M_AQ's stages (training it, generating with it) and of
    the filter's reconstruction: `dvc status` names exactly those, and nothing else."""
    root, _ = pristine
    prompt = root / "prompts" / "backward.txt"
    original = prompt.read_text()
    prompt.write_text(original.replace("Write the user message", "Write the question"))
    try:
        status = dvc_status(root)
    finally:
        prompt.write_text(original)
    assert set(status) == {"relabel_questions@1", "relabel_questions@2", "train_bwd@1", "train_bwd@2", "embed"}
    assert dvc_status(root) == {}


def test_adding_an_iteration_reruns_only_its_stages_and_the_filter(pristine):
    """README, "Compare iterations": one more line in params.yaml's iterations, and only the new
    iteration's four stages are out of date, with embed (it reads the last iteration), export and
    summary (they read every iteration's metrics); prune and judge follow once embed has run."""
    root, _ = pristine
    params_file = root / "params.yaml"
    original = params_file.read_text()
    params = yaml.safe_load(original)
    params["iterations"]["3"] = {"prev": 2}
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        status = dvc_status(root)
    finally:
        params_file.write_text(original)
    assert set(status) == {
        "relabel_answers@3",
        "train_bwd@3",
        "relabel_questions@3",
        "train_fwd@3",
        "embed",
        "export",
        "summary",
        "view",
    }
    assert dvc_status(root) == {}


def commit(root, message: str) -> None:
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, capture_output=True)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run([*git, "commit", "--allow-empty", "-qm", message], cwd=root, check=True, capture_output=True)


def test_metrics_diff_shows_data_not_timings_and_no_load_failure(project):
    root, _ = project
    commit(root, "run")  # as the README says: commit dvc.lock and metrics/ after a run
    diff = dvc("metrics", "diff", "--all", cwd=root)
    assert diff.returncode == 0 and "failed to load" not in diff.stdout + diff.stderr
    assert "wall_seconds" not in diff.stdout and "cycle_filt_pairs" in diff.stdout


def test_plots_render_offline_with_the_kept_vs_pruned_histogram(project):
    root, _ = project
    shown = dvc("plots", "show", "-o", "plots_out", cwd=root)
    assert shown.returncode == 0, shown.stderr[-2000:]
    page = (root / "plots_out" / "index.html").read_text()
    assert "<script src=" not in page and "cdn." not in page  # nothing loaded from the network
    assert "window.vegaEmbed" in page and page.count("vegaEmbed('#") >= 3  # the bundle, and one call per plot
    assert "kept vs pruned" in page and "train_fwd_2" in page


def test_a_fresh_clone_pulls_the_main_data_and_nothing_else(project, tmp_path):
    """eval/ is its own DVC project: plain pull, dag and exp run in the root never see it."""
    import shutil

    root, _ = project
    remote = tmp_path / "remote"
    assert dvc("remote", "add", "-d", "--local", "store", str(remote), cwd=root).returncode == 0
    assert dvc("push", cwd=root).returncode == 0
    commit(root, "run")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True, capture_output=True)
    assert dvc("remote", "add", "-d", "--local", "store", str(remote), cwd=clone).returncode == 0
    assert dvc("config", "--local", "cache.dir", str(tmp_path / "clone_cache"), cwd=clone).returncode == 0
    pulled = dvc("pull", cwd=clone)
    assert pulled.returncode == 0, pulled.stdout[-2000:] + pulled.stderr[-2000:]
    assert (clone / "data/final/cycle_filt.jsonl").read_text() == (root / "data/final/cycle_filt.jsonl").read_text()
    assert not (clone / "eval" / "data").exists()
    assert (clone / "data/view/run.db").read_bytes() == (root / "data/view/run.db").read_bytes()  # the same view
    dag = dvc("dag", "--dot", cwd=clone).stdout
    assert '"prune"' in dag and "eval" not in dag
    assert dvc_status(clone) == {}
    shutil.rmtree(tmp_path / "clone_cache")


def test_exp_run_prints_no_warnings_about_the_evaluation(project):
    root, _ = project
    commit(root, "run")  # as the README says: commit dvc.lock and metrics/ after a run
    run = dvc("exp", "run", cwd=root)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "eval/" not in run.stdout + run.stderr and "WARNING" not in run.stdout + run.stderr


def test_a_killed_generation_stage_resumes_where_it_stopped(project):
    """SIGKILL relabel after its first batches; dvc repro then generates only the rest, and the
    output equals an uninterrupted run's (batch b samples with seed + b)."""
    import os
    import signal
    import time

    root, _ = project
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["generate"]["batch_size"] = 2  # several batches, so there is something to resume
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stage, out = "relabel_answers@1", root / "data/iterations/1/pseudo_answers.jsonl"
    assert dvc("repro", "-s", stage, cwd=root).returncode == 0  # -s: this stage alone, upstream untouched
    uninterrupted = out.read_text()
    total = json.loads((root / "metrics/iterations/1/relabel_answers.json").read_text())["generated"]
    assert total >= 6

    partial = root / ".partial" / "data_iterations_1_pseudo_answers.jsonl.partial.jsonl"
    run = subprocess.Popen(
        ["dvc", "repro", "-f", "-s", stage],
        cwd=root,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline and run.poll() is None:
        if partial.exists() and len(partial.read_text().splitlines()) >= 3:  # header + 2 finished batches
            break
        time.sleep(0.2)
    assert run.poll() is None, "the stage finished before it could be killed"
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert not out.exists() and partial.exists()

    resumed = dvc("repro", "-s", stage, cwd=root)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    metrics = json.loads((root / "metrics/iterations/1/relabel_answers.json").read_text())
    assert 4 <= metrics["resumed"] < total  # the second run generated only what was missing
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(ids) == len(set(ids)) and out.read_text() == uninterrupted
    assert not partial.exists()  # served, then removed


def test_a_planted_copy_pair_is_pruned_never_ranked_best(project):
    """A pseudo-question that copies its answer would reconstruct perfectly (the lowest
    distance). Planted into the last iteration's pairs, it gets no distance and prune drops it."""
    root, _ = project
    pairs_file = root / "data/iterations/2/pseudo_questions.jsonl"
    pairs = [json.loads(line) for line in pairs_file.read_text().splitlines()]
    planted = pairs[0]
    planted["instruction"] = planted["response"]  # the copy
    pairs_file.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    for stage in ("embed", "prune"):  # -s: only this stage, on the edited pairs
        run = dvc("repro", "-s", stage, cwd=root)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    inst = {r["id"]: r for r in map(json.loads, (root / "data/final/cycle_inst.jsonl").read_text().splitlines())}
    assert inst[planted["id"]]["distance"] is None
    embed = json.loads((root / "metrics/embed.json").read_text())
    assert embed["reconstruct_answers"]["copied_pairs"] >= 1
    kept = [json.loads(line)["id"] for line in (root / "data/final/cycle_filt.jsonl").read_text().splitlines()]
    pruned = {r["id"]: r for r in map(json.loads, (root / "data/final/pruned.jsonl").read_text().splitlines())}
    assert planted["id"] not in kept and planted["id"] in pruned
    assert json.loads((root / "metrics/prune.json").read_text())["pruned_by_reason"]["no_distance"] >= 1


def test_the_view_of_the_run_in_a_real_browser_offline(pristine):
    """`cycle-instruct view` on the run's view stage output, in the system Chromium with the network off:
    the charts render, a search finds a known pair, a pruning reason's facet shows exactly the pairs
    metrics/prune.json counts for it, and a pair's page shows its reconstruction and source."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    from view_browser import chromium, requested_urls, served

    root, _ = pristine
    prune = json.loads((root / "metrics/prune.json").read_text())
    reason, count = max(prune["pruned_by_reason"].items(), key=lambda kv: kv[1])
    assert count > 0
    known = json.loads((root / "data/final/cycle_filt.jsonl").read_text().splitlines()[0])
    with served(root / "data/view/run.db", cwd=root) as url, chromium() as driver:
        driver.get(url + "/")
        assert "Cycle-Instruct run" in driver.title
        bars = driver.find_elements(By.CSS_SELECTOR, "#run-charts svg rect.bar")
        assert len(bars) > 20 and sum(float(b.get_attribute("height")) > 0 for b in bars) >= 3
        assert [c.get_attribute("points") for c in driver.find_elements(By.CSS_SELECTOR, "#run-charts polyline.curve")]

        driver.get(url + "/run/pairs")
        box = driver.find_element(By.CSS_SELECTOR, "input[name=_search]")
        box.send_keys(known["instruction"][:60], Keys.ENTER)
        WebDriverWait(driver, 10).until(lambda d: "_search=" in d.current_url)
        assert driver.find_element(By.LINK_TEXT, known["id"])

        driver.get(url + "/run/pairs")
        driver.find_element(By.XPATH, f'//div[@data-column="reason"]//a[text()="{reason}"]').click()
        WebDriverWait(driver, 10).until(lambda d: f"reason={reason}" in d.current_url)
        rows = driver.find_elements(By.CSS_SELECTOR, "table.rows-and-columns tbody tr")
        assert f"{count} row" in driver.find_element(By.CSS_SELECTOR, "h3").text and len(rows) == count
        assert {r.find_element(By.CSS_SELECTOR, "td.col-status").text for r in rows} == {"pruned"}

        driver.get(f"{url}/run/pairs/{known['id']}")
        page = driver.find_element(By.TAG_NAME, "body").text
        assert known["reconstruction"].split("\n")[0][:40] in page and known["source"]["doc"] in page
        urls = requested_urls(driver)
        assert f"{url}/" in urls and [u for u in urls if not u.startswith((url, "data:", "about:"))] == []


def test_grounded_answers_support_and_the_side_report_end_to_end(project):
    """relabel.context: retrieved (the fixture's run) and prune.min_support in a real `dvc repro`: the
    retrieve stage's paragraphs reach every pseudo-answer, embed scores each generated answer's support,
    prune drops the unsupported ones (only the filter and what reads it run again), and the card and
    show report the two sides."""
    root, first = project
    assert {"retrieve", "relabel_answers@1", "relabel_answers@2"} <= set(ran_stages(first))
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert params["relabel"]["context"] == "retrieved"
    params["prune"]["min_support"] = 0.5
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run = dvc("repro", cwd=root)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "prune" in ran_stages(run.stdout)
    assert set(reproduced_stages(run.stdout)) <= {"prune", "decontaminate", "judge", "export", "summary", "view"}

    questions = [json.loads(line) for line in (root / "data/reformatted/questions.jsonl").read_text().splitlines()]
    contexts = {row["id"]: row for row in map(json.loads, (root / "data/retrieved/contexts.jsonl").read_text().splitlines())}
    assert set(contexts) == {q["id"] for q in questions}
    answers = {json.loads(line)["id"] for line in (root / "data/segments/answers.jsonl").read_text().splitlines()}
    assert all(1 <= len(row["paragraphs"]) <= 2 and {p["id"] for p in row["paragraphs"]} <= answers for row in contexts.values())
    for k in ("1", "2"):
        pseudo = [json.loads(line) for line in (root / f"data/iterations/{k}/pseudo_answers.jsonl").read_text().splitlines()]
        assert pseudo and all(r["retrieved"] == [p["id"] for p in contexts[r["id"]]["paragraphs"]] for r in pseudo)

    inst = [json.loads(line) for line in (root / "data/final/cycle_inst.jsonl").read_text().splitlines()]
    assert all(isinstance(r["relevance"], float) for r in inst)
    assert all((r["support"] is None) == (r["original"] == "response") for r in inst)  # generated answers only
    assert all(0 <= r["support"] <= 1 for r in inst if r["support"] is not None)
    kept = [json.loads(line) for line in (root / "data/final/cycle_filt.jsonl").read_text().splitlines()]
    assert all(r["support"] is None or r["support"] >= 0.5 for r in kept)
    prune = json.loads((root / "metrics/prune.json").read_text())
    question = prune["by_side"]["real_question"]
    assert question["pruned_by_reason"]["unsupported"] == prune["pruned_by_reason"]["unsupported"]
    assert (
        sum(question["pruned_by_reason"].values()) == question["pruned"]
        and question["kept"] + question["pruned"] == question["in"]
    )
    assert question["support_kept"]["pairs"] == question["kept"]

    card = (root / "data/export/README.md").read_text()
    assert "median support kept" in card
    assert "relabel:\n  context: retrieved\n" in card  # the params that shaped the data say the answers were grounded
    first = next(r for r in inst if r["original"] == "instruction")  # every pseudo-answer was grounded
    show = ["cycle-instruct", "show", "data/final/cycle_inst.jsonl", "--side", "question", "-n", "1"]
    shown = subprocess.run(show, cwd=root, capture_output=True, text=True)
    assert shown.returncode == 0 and f"support={first['support']}" in shown.stdout
    assert f"    [{first['retrieved'][0]}] " in shown.stdout  # the paragraph's text, under the pair
