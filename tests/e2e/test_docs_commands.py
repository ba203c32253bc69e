"""Every shell command shown in README.md and docs/ runs, in order, and exits as documented.

The commands are the ``$ `` lines of the ```console blocks. A page's commands run one after the
other in a fresh copy of its example project (the reader's working directory, starting with no
state), with the running interpreter's bin folder -- where the installed ``partita`` is -- first
on PATH. A command expected to fail says so with a trailing ``# exits N``. A ``partita`` command
runs in this process (tests/inprocess.py: the exit code and output of the installed command, in
a fraction of the time); anything else (``ls``, ``cp``, pipes, ``./scripts/demo``) in a shell.

The example is examples/sales unless the page names another before its first heading, on a line
of its own: ``<!-- example: events -->`` runs the page's commands in examples/events.

A few lines prepare the reader's shell rather than do work, and the test stands in for them:

- ``./scripts/...`` runs at the root of a copy of the repository as it is now, with
  ``PARTITA_VENV`` set to the running environment; setup then finds partita installed from
  this very source and installs nothing.
- ``./scripts/test`` (with or without ``--fast``) is not run: it is the command that runs this
  test.
- ``source .venv/bin/activate`` and ``cd examples/<the page's example>`` are what the PATH and
  the working directory of every command already are.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import inprocess
from tests.conftest import NOT_SOURCE

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
DEFAULT_EXAMPLE = "sales"
README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").rglob("*.md"))]
HOW_TOS = ["docs/quickstart.md", "docs/cli.md"]

NOT_RUN = "./scripts/test"  # and its tiers: tests/e2e/test_scripts.py runs the fast one
SHELL_SETUP = frozenset({"source .venv/bin/activate"})
EXPECTED_EXIT = re.compile(r"#\s*exits\s+(\d+)\s*$")
EXAMPLE_MARK = re.compile(r"<!--\s*example:\s*([a-z0-9_]+)\s*-->")
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")
OPERATOR = re.compile(r"[();<>|&]+")
COMMAND_TIMEOUT = 600  # seconds; only a hang gets near it


@dataclass(frozen=True)
class Command:
    """One ``$ `` line of a console block."""

    line: str
    exit_code: int = 0


def console_commands(markdown: str) -> list[Command]:
    """The commands of the ```console blocks in ``markdown``, in order."""
    commands: list[Command] = []
    fence: str | None = None  # the info string of the open code block, if any
    for raw in markdown.splitlines():
        line = raw.strip()
        if fence is None:
            if line.startswith("```"):
                fence = line.removeprefix("```").strip()
        elif line.startswith("```"):
            fence = None
        elif fence == "console" and line.startswith("$ "):
            text = line.removeprefix("$ ").strip()
            expected = EXPECTED_EXIT.search(text)
            commands.append(Command(text, int(expected.group(1)) if expected else 0))
    return commands


def page_example(markdown: str) -> str:
    """The example a page's commands run in: the one its ``<!-- example: NAME -->`` line
    names before the first heading, else examples/sales."""
    for raw in markdown.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            break
        found = EXAMPLE_MARK.fullmatch(line)
        if found:
            return found.group(1)
    return DEFAULT_EXAMPLE


def page_id(page: Path) -> str:
    return page.relative_to(REPO).as_posix()


def reader_env(**extra: str) -> dict[str, str]:
    """The environment of a reader who activated the virtualenv and set nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARTITA_", "SALES_"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(NO_COLOR="1", COLUMNS="120", **extra)
    return env


def git_files() -> list[str] | None:
    """The repository's files as git sees them (committed or new, not ignored), or ``None``
    when it is not a git checkout."""
    if shutil.which("git") is None:
        return None
    git = ["git", "-C", str(REPO)]
    top = subprocess.run([*git, "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode or Path(top.stdout.strip()).resolve() != REPO:
        return None
    listed = subprocess.run(
        [*git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    )
    return [name for name in listed.stdout.decode().split("\0") if name]


def copy_repo(dest: Path) -> Path:
    """A copy of the repository as it is now; ignored files (state, caches) left out."""
    names = git_files()
    if names is None:
        shutil.copytree(REPO, dest, ignore=NOT_SOURCE)
        return dest
    for name in names:
        source = REPO / name
        if source.is_file():  # a tracked file may have been deleted from the working tree
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)  # keeps the scripts executable
    return dest


def partita_call(line: str, cwd: Path) -> tuple[Path, dict[str, str], list[str]] | None:
    """A ``partita`` command line as (working directory, environment additions, arguments),
    for this process to run; ``None`` for anything a shell must run (other programs,
    pipes, redirections, expansions).

    Understood: a leading ``cd DIR &&``, then ``NAME=value`` assignments, then ``partita``.
    """
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = list(lexer)  # a trailing `# comment` is dropped
    if words[:1] == ["cd"] and words[2:3] == ["&&"]:
        cwd, words = cwd / words[1], words[3:]
    env: dict[str, str] = {}
    while words and ASSIGNMENT.fullmatch(words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    shell_only = "$" in line or "`" in line or any(OPERATOR.fullmatch(w) for w in words)
    if words[:1] != ["partita"] or shell_only:
        return None
    return cwd, env, words[1:]


def run(command: Command, cwd: Path, env: dict[str, str]) -> None:
    call = partita_call(command.line, cwd)
    if call is None:
        result = subprocess.run(
            command.line,
            shell=True,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    else:
        where, assigned, args = call
        result = inprocess.run(where, args, {**env, **assigned})
    if result.returncode != command.exit_code:
        pytest.fail(
            f"$ {command.line}\n"
            f"exited {result.returncode}, expected {command.exit_code} (in {cwd})\n"
            f"--- stdout ---\n{result.stdout}--- stderr ---\n{result.stderr}",
            pytrace=False,
        )


def run_page(page: Path, tmp_path: Path) -> None:
    markdown = page.read_text(encoding="utf-8")
    name = page_example(markdown)
    example = tmp_path / name  # named as in the repository: pages may `cd ..` out of it
    shutil.copytree(EXAMPLES / name, example, ignore=NOT_SOURCE)
    setup = SHELL_SETUP | {f"cd examples/{name}"}
    repo: Path | None = None
    for command in console_commands(markdown):
        if command.line.startswith(NOT_RUN) or command.line in setup:
            continue
        if command.line.startswith("./scripts/"):
            repo = repo or copy_repo(tmp_path / "repo")
            run(command, repo, reader_env(PARTITA_VENV=sys.prefix))
        else:
            run(command, example, reader_env())


PAGES_WITH_COMMANDS = [
    pytest.param(page, id=page_id(page))
    for page in PAGES
    if console_commands(page.read_text(encoding="utf-8"))
]


@pytest.mark.parametrize("page", PAGES_WITH_COMMANDS)
def test_page_commands_run_in_order(page: Path, tmp_path: Path) -> None:
    run_page(page, tmp_path)


@pytest.mark.parametrize("page", HOW_TOS)
def test_how_to_pages_show_commands(page: str) -> None:
    assert console_commands((REPO / page).read_text(encoding="utf-8")), page


def test_readme_quick_start_is_the_demo_then_the_test() -> None:
    text = README.read_text(encoding="utf-8")
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert console_commands(quick_start) == [Command("./scripts/demo"), Command("./scripts/test")]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.splitlines()[-1] == 'exec "$(dirname "$0")/../scripts/test"'
    assert os.access(REPO / ".ci" / "run", os.X_OK)


def test_console_commands_reads_prompts_and_expected_exit_codes() -> None:
    markdown = "\n".join(
        [
            "```console",
            "$ partita status",
            "some output",
            "$ partita why a 2026-13-45   # exits 2",
            "```",
            "```python",
            "$ not a command",
            "```",
            "    ```console",
            "    $ partita runs",
            "    ```",
        ]
    )
    assert console_commands(markdown) == [
        Command("partita status"),
        Command("partita why a 2026-13-45   # exits 2", 2),
        Command("partita runs"),
    ]


def test_page_example_is_named_before_the_first_heading() -> None:
    assert page_example("# Title\n\n```console\n$ partita status\n```\n") == "sales"
    assert page_example("<!-- example: events -->\n\n# Title\n") == "events"
    assert page_example("<!--example:events-->\n# Title\n") == "events"
    assert page_example("# Title\n\n<!-- example: events -->\n") == "sales"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_page_names_an_existing_example(page: Path) -> None:
    name = page_example(page.read_text(encoding="utf-8"))
    assert (EXAMPLES / name / "partita.toml").is_file(), f"{page_id(page)} names {name!r}"


def test_partita_calls_are_told_apart_from_shell_commands(tmp_path: Path) -> None:
    assert partita_call("partita status --stale", tmp_path) == (tmp_path, {}, ["status", "--stale"])
    assert partita_call("partita doctor   # exits 1", tmp_path) == (tmp_path, {}, ["doctor"])
    assert partita_call('partita read v --partition "2026-03-29|eu"', tmp_path) == (
        tmp_path,
        {},
        ["read", "v", "--partition", "2026-03-29|eu"],
    )
    assert partita_call("cd .. && PARTITA_PROJECT=sales partita status raw", tmp_path) == (
        tmp_path / "..",
        {"PARTITA_PROJECT": "sales"},
        ["status", "raw"],
    )
    for line in (
        "partita partitions raw_sales | wc -l",
        "partita status > out.txt",
        "partita status --from $DAY",
        "ls .partita/data",
        "./scripts/demo",
    ):
        assert partita_call(line, tmp_path) is None, line
