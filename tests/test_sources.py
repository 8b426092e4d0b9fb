"""Config sources for init(config=...) and config.update(...), with the real libraries."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path

import pydantic
import pydantic.v1
import pytest
from absl import flags
from omegaconf import OmegaConf

import gitcfg
from gitcfg import Config
from gitcfg.sources import to_mapping
from tests.apihelpers import config_text, no_active_run, run_script, subjects  # noqa: F401


def test_mapping_and_namespace() -> None:
    namespace = argparse.Namespace(lr=0.1, batch_size=32)
    assert Config(namespace).flat() == {"lr": 0.1, "batch_size": 32}
    assert Config({"a": {"b": 1}}).flat() == {"a.b": 1}


def test_absl_flags_parsed_or_not() -> None:
    values = flags.FlagValues()
    flags.DEFINE_integer("epochs", 4, "epochs", flag_values=values)
    flags.DEFINE_string("model", "resnet", "model", flag_values=values)
    assert not values.is_parsed()
    assert Config(values).flat() == {"epochs": 4, "model": "resnet"}  # defaults before parsing
    values(["train.py", "--epochs=7"])
    assert Config(values).flat() == {"epochs": 7, "model": "resnet"}


def test_absl_global_flags_in_a_script_leave_out_absl_own_flags(repo: Path) -> None:
    proc = run_script(
        repo,
        """
        import gitcfg
        from absl import app, flags, logging  # logging and app define flags of their own

        flags.DEFINE_integer("epochs", 4, "number of epochs")
        FLAGS = flags.FLAGS

        def main(argv):
            gitcfg.init(config=flags.FLAGS, project="absl", id="a1")
            flags.DEFINE_float("lr", 0.1, "late flag")
            FLAGS(["x", "--lr=0.5"])
            gitcfg.config.update(flags.FLAGS)

        app.run(main)
        """,
        "--epochs=9",
    )
    assert proc.returncode == 0, proc.stderr
    assert config_text(repo, "absl", "a1") == "epochs: 9\nlr: 0.5\n"


def test_tf_compat_flags_are_absl_flags() -> None:
    # tf.compat.v1.flags is absl.flags underneath: the same FlagValues class is recognised
    assert type(flags.FLAGS).__module__ == "absl.flags._flagvalues"


def test_dataclass_pydantic_v2_and_v1() -> None:
    @dataclasses.dataclass
    class Optim:
        lr: float = 0.1

    @dataclasses.dataclass
    class Train:
        epochs: int = 3
        optim: Optim = dataclasses.field(default_factory=Optim)

    class ModelV2(pydantic.BaseModel):
        depth: int = 50
        tags: tuple[str, ...] = ("a",)

    class ModelV1(pydantic.v1.BaseModel):
        depth: int = 18

    assert Config(Train()).flat() == {"epochs": 3, "optim.lr": 0.1}
    assert Config(ModelV2()).flat() == {"depth": 50, "tags": ["a"]}
    assert Config(ModelV1()).flat() == {"depth": 18}


def test_omegaconf_resolves_interpolations() -> None:
    conf = OmegaConf.create({"data": {"root": "/d"}, "train": {"path": "${data.root}/train"}})
    assert Config(conf).flat() == {"data.root": "/d", "train.path": "/d/train"}
    with pytest.raises(gitcfg.ConfigError, match="ListConfig"):
        Config(OmegaConf.create([1, 2]))


def test_object_with_public_attributes() -> None:
    class Hparams:
        def __init__(self) -> None:
            self.lr = 0.1
            self._private = 1

    assert Config(Hparams()).flat() == {"lr": 0.1}


def test_yaml_path_plain_and_wandb_form(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("lr: 0.1\nmodel: {depth: 50}\n")
    wandb_form = tmp_path / "wandb.yaml"
    wandb_form.write_text(
        "wandb_version: 1\n_wandb: {desc: null, value: {}}\n"
        "epochs:\n  desc: Number of epochs\n  value: 100\nbatch_size:\n  value: 32\n"
    )
    assert Config(str(plain)).flat() == {"lr": 0.1, "model.depth": 50}
    assert Config(wandb_form).flat() == {"epochs": 100, "batch_size": 32}


@pytest.mark.parametrize(
    ("source", "words"),
    [
        (3, "from a int"),
        ([1, 2], "from a list"),
        (len, "from a builtin_function_or_method"),
        (argparse.Namespace, "from a type"),
    ],
)
def test_unknown_sources_name_the_type(source: object, words: str) -> None:
    with pytest.raises(gitcfg.ConfigError) as info:
        to_mapping(source)
    assert words in str(info.value) and "pass a dict" in str(info.value)


def test_unsafe_and_bad_yaml_paths(tmp_path: Path) -> None:
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("x: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(gitcfg.YamlError, match="refused"):
        Config(unsafe)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n")
    with pytest.raises(gitcfg.YamlError, match="top level is a list"):
        Config(listed)
    no_value = tmp_path / "novalue.yaml"
    no_value.write_text("epochs:\n  desc: how many\n")
    with pytest.raises(gitcfg.YamlError, match="'desc' but no 'value'"):
        Config(no_value)


def test_update_from_each_source_reaches_the_branch(repo: Path) -> None:
    @dataclasses.dataclass
    class Data:
        root: str = "/data"

    run = gitcfg.init(config=argparse.Namespace(lr=0.1), project="p", id="src")
    run.config.update(Data())
    run.config.update(OmegaConf.create({"aug": {"flip": True}}))
    run.finish()
    assert config_text(repo, "p", "src") == "aug.flip: true\nlr: 0.1\nroot: /data\n"
    assert subjects(repo) == ["update p/src: aug.flip, root", "create p/src (1 key)"]


def test_import_gitcfg_loads_no_optional_library() -> None:
    code = (
        "import sys, gitcfg; gitcfg.Config({'a': 1}); "
        "print(sorted(m for m in ('absl', 'omegaconf', 'pydantic', 'numpy') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout == "[]\n", proc.stderr
