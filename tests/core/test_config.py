"""Project settings: partita.toml or [tool.partita], PARTITA_* overrides, clear errors."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

import partita as pt
from partita.core.config import (
    DEFAULT_CATALOG,
    Settings,
    load_settings,
    project_root,
    resolve_catalog,
    resolve_storage,
)
from partita.errors import CatalogError, ConfigError

ASSETS = """\
import partita as pt

@pt.asset
def numbers() -> dict:
    return {"n": [1, 2, 3]}
"""

MakeDir = Callable[..., Path]


@pytest.fixture
def make_dir(tmp_path: Path) -> MakeDir:
    """Make a project directory holding the given files (name -> text)."""
    made = itertools.count()

    def make(files: dict[str, str] | None = None) -> Path:
        root = tmp_path / f"project{next(made)}"
        root.mkdir()
        for name, text in (files or {}).items():
            (root / name).write_text(text)
        return root

    return make


def toml(**settings: object) -> str:
    """A partita.toml body from simple values (strings quoted, numbers as they are)."""
    lines = []
    for key, value in settings.items():
        rendered = f'"{value}"' if isinstance(value, str) else str(value)
        lines.append(f"{key} = {rendered}")
    return "\n".join(lines) + "\n"


def config_error(root: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        load_settings(root, environ or {})
    message = str(raised.value)
    assert len(message.splitlines()) == 1, message
    return message


# -- where settings come from -------------------------------------------------------------


def test_partita_toml_is_read(make_dir: MakeDir) -> None:
    root = make_dir(
        {
            "partita.toml": (
                'definitions = "pipeline/assets.py"\n'
                'storage = "s3://bucket/prefix"\n'
                'catalog = "sqlite:////var/lib/partita.db"\n'
                "lease_seconds = 12.5\n"
                "[storage_options]\n"
                'endpoint_url = "http://minio:9000"\n'
            )
        }
    )

    settings = load_settings(root, {})

    assert settings == Settings(
        definitions="pipeline/assets.py",
        storage="s3://bucket/prefix",
        catalog="sqlite:////var/lib/partita.db",
        lease_seconds=12.5,
        storage_options={"endpoint_url": "http://minio:9000"},
    )


def test_defaults(make_dir: MakeDir) -> None:
    settings = load_settings(make_dir({"partita.toml": toml(definitions="assets.py")}), {})

    assert settings.storage == ".partita/data"
    assert settings.catalog == DEFAULT_CATALOG == "sqlite:///.partita/catalog.db"
    assert settings.storage_options == {}
    assert settings.lease_seconds == 30.0


def test_tool_partita_in_pyproject_is_read(make_dir: MakeDir) -> None:
    root = make_dir(
        {
            "pyproject.toml": (
                '[project]\nname = "pipeline"\n\n'
                '[tool.partita]\ndefinitions = "pipeline/assets.py"\nstorage = "memory://x"\n\n'
                "[tool.partita.storage_options]\nanon = true\n"
            )
        }
    )

    settings = load_settings(root, {})

    assert settings.definitions == "pipeline/assets.py"
    assert settings.storage == "memory://x"
    assert settings.storage_options == {"anon": True}


def test_partita_toml_wins_over_pyproject(make_dir: MakeDir) -> None:
    root = make_dir(
        {
            "partita.toml": toml(definitions="from_partita_toml.py"),
            "pyproject.toml": '[tool.partita]\ndefinitions = "from_pyproject.py"\n',
        }
    )
    assert load_settings(root, {}).definitions == "from_partita_toml.py"


def test_project_reads_its_settings(make_dir: MakeDir) -> None:
    root = make_dir({"partita.toml": toml(definitions="defs.py", lease_seconds=5)})
    assert pt.Project(root).settings.lease_seconds == 5.0


# -- environment overrides ----------------------------------------------------------------


def test_environment_overrides_storage_and_catalog(make_dir: MakeDir) -> None:
    root = make_dir(
        {"partita.toml": toml(definitions="a.py", storage="data", catalog="sqlite:///c.db")}
    )

    settings = load_settings(
        root, {"PARTITA_STORAGE": "memory://bucket", "PARTITA_CATALOG": "sqlite:///other.db"}
    )

    assert (settings.storage, settings.catalog) == ("memory://bucket", "sqlite:///other.db")
    assert settings.definitions == "a.py"


def test_empty_environment_variables_are_ignored(make_dir: MakeDir) -> None:
    root = make_dir({"partita.toml": toml(definitions="a.py", storage="data")})
    settings = load_settings(root, {"PARTITA_STORAGE": "", "PARTITA_CATALOG": ""})
    assert (settings.storage, settings.catalog) == ("data", DEFAULT_CATALOG)


def test_project_uses_the_process_environment(
    make_dir: MakeDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_dir(
        {"partita.toml": toml(definitions="cfg_env_defs.py"), "cfg_env_defs.py": ASSETS}
    )
    elsewhere = make_dir()
    monkeypatch.setenv("PARTITA_STORAGE", str(elsewhere / "data"))
    monkeypatch.setenv("PARTITA_CATALOG", f"sqlite:///{elsewhere / 'catalog.db'}")

    with pt.Project(root) as project:
        assert project.materialize("numbers").ok
        assert project.read("numbers") == {"n": [1, 2, 3]}

    assert (elsewhere / "catalog.db").is_file()
    (written,) = (elsewhere / "data" / "numbers").iterdir()
    assert written.name.startswith("part-") and written.name.endswith(".json")
    assert not (root / ".partita").exists()


def test_partita_project_selects_the_project(
    make_dir: MakeDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_dir({"partita.toml": toml(definitions="a.py")})
    monkeypatch.chdir(make_dir())

    assert project_root(None, {"PARTITA_PROJECT": str(root)}) == root.resolve()
    monkeypatch.setenv("PARTITA_PROJECT", str(root))
    assert pt.Project().root == root.resolve()
    assert pt.Project(root).settings.definitions == "a.py"


def test_an_explicit_path_wins_over_partita_project(make_dir: MakeDir) -> None:
    chosen, other = make_dir(), make_dir()
    assert project_root(chosen, {"PARTITA_PROJECT": str(other)}) == chosen.resolve()


def test_the_working_directory_is_the_default_project(
    make_dir: MakeDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_dir({"partita.toml": toml(definitions="a.py")})
    monkeypatch.chdir(root)
    assert project_root(None, {}) == root.resolve()


def test_a_missing_project_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        project_root(tmp_path / "nope", {})
    with pytest.raises(ConfigError, match="does not exist"):
        project_root(None, {"PARTITA_PROJECT": str(tmp_path / "nope")})


# -- errors -------------------------------------------------------------------------------


def test_an_unknown_key_is_named(make_dir: MakeDir) -> None:
    root = make_dir({"partita.toml": toml(definitions="a.py", storag="data")})

    message = config_error(root)

    assert "unknown setting 'storag'" in message
    assert "storage" in message  # the known keys are listed
    assert str(root / "partita.toml") in message


def test_an_unknown_key_in_pyproject_names_the_section(make_dir: MakeDir) -> None:
    root = make_dir({"pyproject.toml": '[tool.partita]\ndefinitions = "a.py"\nworkers = 4\n'})

    message = config_error(root)

    assert "unknown setting 'workers'" in message
    assert "[tool.partita]" in message


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("lease_seconds = -1", "lease_seconds"),
        ("lease_seconds = 0", "lease_seconds"),
        ('lease_seconds = "soon"', "lease_seconds"),
        ("storage = 5", "storage"),
        ('catalog = ["sqlite:///a.db"]', "catalog"),
        ('storage_options = "anon"', "storage_options"),
        ("definitions = true", "definitions"),
    ],
)
def test_a_bad_value_names_its_key(make_dir: MakeDir, line: str, key: str) -> None:
    body = line if line.startswith("definitions") else f'definitions = "a.py"\n{line}'
    root = make_dir({"partita.toml": body + "\n"})

    message = config_error(root)

    assert f": {key}: " in message
    assert message.startswith(str(root / "partita.toml"))


def test_a_bad_catalog_url_from_the_environment_is_a_config_error(
    make_dir: MakeDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_dir({"partita.toml": toml(definitions="a.py")})
    monkeypatch.setenv("PARTITA_CATALOG", "nonsense")

    project = pt.Project(root)

    assert project.settings.catalog == "nonsense"
    with pytest.raises(ConfigError, match="'nonsense' is not a database URL"):
        project.catalog  # noqa: B018


def test_invalid_toml_is_a_config_error(make_dir: MakeDir) -> None:
    root = make_dir({"partita.toml": 'definitions = "a.py\nstorage = \n'})

    message = config_error(root)

    assert "is not valid TOML" in message
    assert str(root / "partita.toml") in message


def test_invalid_pyproject_is_a_config_error(make_dir: MakeDir) -> None:
    root = make_dir({"pyproject.toml": "[tool.partita\n"})
    assert "pyproject.toml is not valid TOML" in config_error(root)


@pytest.mark.parametrize(
    "files",
    [{}, {"pyproject.toml": '[project]\nname = "x"\n'}, {"pyproject.toml": "[tool.ruff]\n"}],
)
def test_no_configuration_says_how_to_fix_it(make_dir: MakeDir, files: dict[str, str]) -> None:
    root = make_dir(files)

    message = config_error(root)

    assert f"{root} is not a partita project" in message
    assert "create partita.toml" in message
    assert "open the directory that has one" in message
    assert "--project" not in message  # the command line says so in its own words
    with pytest.raises(ConfigError, match="is not a partita project"):
        pt.Project(root)


# -- paths --------------------------------------------------------------------------------


def test_relative_paths_are_resolved_against_the_project(
    make_dir: MakeDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_dir(
        {
            "partita.toml": toml(
                definitions="a.py", storage="out/data", catalog="sqlite:///state/c.db"
            )
        }
    )
    monkeypatch.chdir(make_dir())  # not the project directory
    settings = load_settings(root, {})

    assert resolve_storage(settings, root) == str(root.resolve() / "out" / "data")
    assert resolve_catalog(settings, root) == f"sqlite:///{root.resolve() / 'state' / 'c.db'}"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////abs/catalog.db",
        "sqlite:///:memory:",
        "postgresql+psycopg://user:pw@db/partita",
    ],
)
def test_absolute_and_remote_catalogs_are_kept(make_dir: MakeDir, url: str) -> None:
    root = make_dir()
    assert resolve_catalog(Settings(catalog=url), root) == url


@pytest.mark.parametrize("url", ["s3://bucket/prefix", "memory://x", "file:///srv/data"])
def test_storage_urls_are_kept(make_dir: MakeDir, url: str) -> None:
    assert resolve_storage(Settings(storage=url), make_dir()) == url


def test_an_absolute_storage_path_is_kept(make_dir: MakeDir, tmp_path: Path) -> None:
    assert resolve_storage(Settings(storage=str(tmp_path / "d")), make_dir()) == str(tmp_path / "d")


def test_the_default_partita_directory_is_created(
    make_dir: MakeDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_dir({"partita.toml": toml(definitions="a.py")})
    monkeypatch.chdir(make_dir())

    url = resolve_catalog(load_settings(root, {}), root)

    assert url == f"sqlite:///{root.resolve() / '.partita' / 'catalog.db'}"
    assert (root / ".partita").is_dir()
    with pt.Project(root) as project:
        project.catalog.runs()
        assert project.store.url == str(root.resolve() / ".partita" / "data")
    assert (root / ".partita" / "catalog.db").is_file()
    assert (root / ".partita" / "data").is_dir()


def test_a_configured_sqlite_directory_is_not_created(make_dir: MakeDir) -> None:
    root = make_dir(
        {
            "partita.toml": toml(
                definitions="cfg_missing_dir_defs.py", catalog="sqlite:///state/catalog.db"
            ),
            "cfg_missing_dir_defs.py": ASSETS,
        }
    )

    resolve_catalog(load_settings(root, {}), root)
    assert not (root / "state").exists()

    project = pt.Project(root)  # opening is lazy: the error comes on use
    with pytest.raises(CatalogError) as raised:
        project.status()
    message = str(raised.value)
    assert len(message.splitlines()) == 1
    assert f"directory {root.resolve() / 'state'} does not exist" in message
    assert not (root / "state").exists()


def test_settings_never_show_credentials() -> None:
    settings = Settings(
        catalog="postgresql+psycopg://app:pw-in-url@db/partita",
        storage="s3://AKIAINLINE:inline-secret@bucket/prefix",
        storage_options={
            "key": "AKIAOPTION",
            "secret": "option-secret",
            "endpoint_url": "http://127.0.0.1:9000",
            "client_kwargs": {"aws_session_token": "session-token", "region_name": "eu-west-1"},
        },
    )
    shown = f"{settings!r} {settings}"
    for secret in ("pw-in-url", "inline-secret", "AKIAINLINE", "AKIAOPTION", "option-secret"):
        assert secret not in shown
    assert "session-token" not in shown
    assert "http://127.0.0.1:9000" in shown and "eu-west-1" in shown  # the rest stays
    assert settings.storage_options["secret"] == "option-secret"  # only the display hides it
