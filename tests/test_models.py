import json

import pytest

from cycle_instruct.errors import UserError
from cycle_instruct.models import EMBEDDED_BASE, embedded_gguf, has_adapter, prepare_base, resolve_base, write_no_adapter


def test_embedded_base_is_found_inside_its_package():
    folder, gguf_file = resolve_base(EMBEDDED_BASE)
    assert gguf_file.endswith(".gguf") and (embedded_gguf().parent.as_posix() == folder)


def test_bad_base_specs_are_explained(tmp_path):
    with pytest.raises(UserError, match="GGUF file not found"):
        resolve_base(str(tmp_path / "model.gguf"))
    with pytest.raises(UserError, match="no config.json"):
        resolve_base(str(tmp_path))


def test_prepare_base_copies_a_hf_folder_to_safetensors(tiny_model_dir, tmp_path):
    info = prepare_base(str(tiny_model_dir), tmp_path / "base")
    assert (tmp_path / "base" / "model.safetensors").exists() and (tmp_path / "base" / "tokenizer.json").exists()
    assert info["has_chat_template"] and info["parameters"] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["base"]  # no temp folder left behind


def test_iteration_zero_marker_means_no_adapter(tmp_path):
    write_no_adapter(tmp_path / "m_qa", "base")
    assert not has_adapter(tmp_path / "m_qa")
    assert json.loads((tmp_path / "m_qa" / "no_adapter.json").read_text())["adapter"] is None
