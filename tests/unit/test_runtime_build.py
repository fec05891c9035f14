"""The local runtime's builds: the template's Python, or the venv's with one warning; a
function built once and reused while its sources are unchanged (content hash)."""

import re
import sys
import warnings
from pathlib import Path

import pytest

from local_stack.runtime.build import Builder, find_interpreter


def test_the_templates_runtime_is_used_when_installed():
    """Catches: the functions silently running on the venv's Python while python3.13 is
    on this machine (where CI runs, it is)."""
    interpreter = find_interpreter.__wrapped__("python3.13")

    assert interpreter.exact
    assert interpreter.version == "3.13"
    assert Path(interpreter.path).name == "python3.13"


def test_a_missing_runtime_falls_back_to_the_venv_with_one_warning_naming_the_difference():
    """Catches: a missing runtime failing hard, or falling back without saying so."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        interpreter = find_interpreter.__wrapped__("python3.99")

    assert interpreter.path == Path(sys.executable)
    assert not interpreter.exact
    assert len(caught) == 1
    message = str(caught[0].message)
    assert caught[0].category is RuntimeWarning
    assert "python3.99 (template.yaml's Runtime) is not installed" in message
    assert f"Python {sys.version_info.major}.{sys.version_info.minor}" in message


@pytest.fixture
def builder(tmp_path: Path) -> Builder:
    return Builder(find_interpreter("python3.13"), cache_dir=tmp_path / "build")


def test_a_function_is_built_once_and_reused_while_its_sources_are_unchanged(
    builder: Builder, tmp_path: Path
):
    """Catches: a rebuild on every start (a warm `make api` would take as long as a cold
    one), or a build reused after its sources changed (stale code running locally)."""
    code = tmp_path / "src"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (code / "requirements.txt").write_text("# nothing beyond the layer\n")

    first = builder.function("ProbeFunction", code)
    marker = first / "built-here"
    marker.write_text("this folder, not a new copy")
    again = builder.function("ProbeFunction", code)

    assert again == first
    assert marker.exists()

    (code / "app.py").write_text("def handler(event, context):\n    return 2\n")
    changed = builder.function("ProbeFunction", code)

    assert changed != first
    assert "return 2" in (changed / "app.py").read_text()
    assert not first.exists(), "the stale build of the same function is pruned"


def test_each_function_gets_the_layers_sam_gives_it_globals_first():
    """Catches: a function's own Layers replacing the Globals' locally (the old reading),
    which would start CustomersDjangoFunction without the shared layer, while SAM appends
    them (lists in Globals are additive)."""
    from local_stack.template.transform import load_template  # noqa: PLC0415

    # Given template.yaml as SAM transforms it, and as the local runtime reads it
    template = load_template()
    resources = template.transformed["Resources"]

    for logical_id, source in template.functions.items():
        # When the local runtime lists a function's layers
        local = list(source.layer_ids)
        # Then they are the transformed function's, in the same order
        # (SAM names each LayerVersion after its source with a hash appended)
        deployed = [
            re.sub(r"[0-9a-f]{10}$", "", layer["Ref"])
            for layer in resources[logical_id]["Properties"]["Layers"]
        ]
        assert local == deployed, logical_id
    assert template.functions["CustomersDjangoFunction"].layer_ids == ("SharedLayer", "DjangoLayer")
