import pytest

from cycle_instruct.errors import UserError
from cycle_instruct.params import iteration_chain, load_params


def test_chain_follows_prev_links_from_the_base_model():
    params = {"iterations": {"2": {"prev": 1}, "1": {"prev": 0}, "3": {"prev": "2"}}}
    assert iteration_chain(params) == [1, 2, 3]


def test_unquoted_keys_are_refused_because_dvc_would_skip_them():
    with pytest.raises(UserError, match='must be quoted'):
        iteration_chain({"iterations": {1: {"prev": 0}}})


@pytest.mark.parametrize("items,message", [
    ({"1": {"prev": 0}, "2": {"prev": 0}}, "all name 0 as prev"),
    ({"1": {"prev": 0}, "3": {"prev": 7}}, "not reachable from 0"),
    ({"1": {}}, "needs a 'prev:'"),
])
def test_broken_chains_are_explained(items, message):
    with pytest.raises(UserError, match=message):
        iteration_chain({"iterations": items})


def test_params_file_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_params(tmp_path / "params.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_params(bad)


def test_the_shipped_params_form_a_chain():
    from conftest import ROOT

    assert iteration_chain(load_params(ROOT / "params.yaml"))[0] == 1
