"""The production page (docs/operating.md) and the example files it installs (deploy/) say
only what the code does:

- every ``optihub …`` command, in the page's shell blocks and in the units' ``Exec*`` lines,
  is a real subcommand whose options and arguments the CLI parses (click's own parser, on
  the command tree ``optihub.cli`` builds; nothing is run); a command written inline on the
  page names a real subcommand and real options;
- every ``OPTIHUB_*`` variable named there is one ``src/optihub/settings.py`` reads, and
  every variable it reads is in the page's table and in the example settings file, whose
  values ``Settings.from_env`` accepts;
- every metric the page names is one ``/metrics`` serves, and every ``optihub_*`` metric is
  on the page;
- the proxy example passes the headers OptiHub reads and allows the largest body a dialect
  accepts, and the units, the wrapper and the page agree on paths.

``systemd-analyze verify`` is not run: it may be missing, and it needs the release
installed under ``/opt``."""

from __future__ import annotations

import ast
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "operating.md"
DEPLOY = ROOT / "deploy"
SETTINGS = ROOT / "src" / "optihub" / "settings.py"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
WRAPPER = DEPLOY / "bin" / "optihub"
ENV_EXAMPLE = DEPLOY / "optihub.env.example"
NGINX = DEPLOY / "nginx" / "optihub.conf"

VARIABLE = re.compile(r"\bOPTIHUB_[A-Z0-9_]*[A-Z0-9]\b")
SHELL_FENCE = re.compile(r"^\s*```(?:sh|bash|shell|console)\s*$")
FENCE = re.compile(r"^\s*```")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
HEREDOC = re.compile(r"<<-?\s*'?\"?([A-Za-z_]+)'?\"?")
SUBSTITUTION = re.compile(r"\$\([^()]*\)")
SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", ";;"}
REDIRECTS = {">", ">>", "<", "<<", "<<<", ">&", "<&", "2>", "&>"}
KEYWORDS = {"do", "then", "else", "elif", "if", "while", "until", "!", "time", "exec", "{"}
# Wrappers that run the command after their options, and those options that take a value.
WRAPPERS = {
    "sudo": {"-u", "-g", "--user", "--group"},
    "env": {"-u", "--unset"},
    "nice": {"-n", "--adjustment"},
    "systemd-run": {"-p", "--property", "-E", "--setenv", "--uid", "--gid", "-u", "--unit"},
}


# --------------------------------------------------------------------------- the CLI


# Typer builds the command tree with the click it carries: its commands, groups and
# exceptions are click's, reached here through the objects rather than by module name.
Command = Any


def cli() -> Command:
    from optihub.cli import app

    command = typer.main.get_command(app)
    assert command.commands, "optihub has no subcommands"
    return command


def resolve(args: list[str]) -> tuple[Command, list[str], list[str]]:
    """The (sub)command ``args`` name, its path, and the arguments left for it."""
    command = cli()
    path: list[str] = []
    rest = list(args)
    while getattr(command, "commands", None) is not None:
        if not rest or rest[0] not in command.commands:
            known = ", ".join(sorted(command.commands))
            raise AssertionError(
                f"`optihub {' '.join(path + rest[:1])}`: no such command (known: {known})"
            )
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    return command, path, rest


def parse(args: list[str]) -> None:
    """Parse ``optihub ARGS`` as the CLI would, without running it."""
    command, path, rest = resolve(args)
    try:
        command.make_context(" ".join(["optihub", *path]), rest)
    except Exception as exc:
        if type(exc).__name__ == "Exit":  # --help
            return
        if not hasattr(exc, "format_message"):  # not a usage error: a fault of the test
            raise
        raise AssertionError(f"`optihub {' '.join(args)}`: {exc.format_message()}") from exc


def option_names(command: Command) -> set[str]:
    return {name for param in command.params for name in (*param.opts, *param.secondary_opts)}


# --------------------------------------------------------------------------- shell text


def logical_lines(text: str) -> Iterator[str]:
    """Shell lines with continuations joined, quotes spanning lines kept whole, and here
    documents left out."""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        while True:
            if line.endswith("\\") and index < len(lines):
                line = line[:-1] + " " + lines[index]
                index += 1
                continue
            try:
                shlex.split(SUBSTITUTION.sub("X", line), comments=True)
            except ValueError:  # a quote closes on a later line
                if index < len(lines):
                    line += "\n" + lines[index]
                    index += 1
                    continue
                raise
            break
        heredoc = HEREDOC.search(line)
        if heredoc is not None:
            while index < len(lines) and lines[index].strip() != heredoc.group(1):
                index += 1
            index += 1
        yield line


def tokens(line: str) -> list[str]:
    lexer = shlex.shlex(SUBSTITUTION.sub("X", line), posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    return list(lexer)


def commands(line: str) -> Iterator[list[str]]:
    """The simple commands of a shell line, each as its words, redirections left out."""
    current: list[str] = []
    words = iter(tokens(line))
    for word in words:
        if word in SEPARATORS:
            if current:
                yield current
            current = []
        elif word in REDIRECTS or word.rstrip("0123456789") in REDIRECTS:
            next(words, None)
        else:
            current.append(word)
    if current:
        yield current


def program(words: list[str]) -> list[str]:
    """The command's program and its arguments, past assignments and wrappers."""
    words = list(words)
    while words:
        head = words[0]
        if head in KEYWORDS or ASSIGNMENT.match(head):
            words.pop(0)
        elif head in WRAPPERS:
            words.pop(0)
            while words and (words[0].startswith("-") or ASSIGNMENT.match(words[0])):
                option = words.pop(0)
                if option in WRAPPERS[head] and "=" not in option and words:
                    words.pop(0)
        else:
            break
    return words


def optihub_calls(text: str) -> Iterator[tuple[str, list[str]]]:
    """``(line, arguments)`` for every ``optihub`` command in shell text; ``sh -c SCRIPT``
    is looked into."""
    for line in logical_lines(text):
        for words in commands(line):
            words = program(words)
            if not words:
                continue
            name = Path(words[0]).name
            if name == "optihub":
                yield line.strip(), words[1:]
            elif name in {"sh", "bash"} and len(words) > 2 and words[1] == "-c":
                yield from optihub_calls(words[2])


def shell_blocks(page: Path) -> Iterator[str]:
    block: list[str] | None = None
    for line in page.read_text().splitlines():
        if block is None:
            if SHELL_FENCE.match(line):
                block = []
        elif FENCE.match(line):
            yield "\n".join(block)
            block = None
        else:
            block.append(line)


def exec_lines(unit: Path) -> list[str]:
    """A unit's command lines (``ExecStart=`` and the like), systemd's own prefixes and
    ``%%`` escapes undone."""
    found = []
    for line in unit.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip().startswith("Exec") and value:
            found.append(value.strip().lstrip("-@:+!").replace("%%", "%"))
    return found


# --------------------------------------------------------------------------- commands


def test_the_page_runs_real_commands():
    calls = [call for block in shell_blocks(PAGE) for call in optihub_calls(block)]
    problems = []
    for line, args in calls:
        try:
            parse(args)
        except AssertionError as exc:
            problems.append(f"{exc}\n    in: {line}")
    assert problems == [], "\n".join(problems)
    used = {" ".join(resolve(args)[1]) for _, args in calls}
    # The production page's steps, at least.
    assert {"migrate", "backup", "restore", "user create", "practice create"} <= used


def test_the_units_run_real_commands():
    assert UNITS, "no unit in deploy/systemd"
    problems = []
    for unit in UNITS:
        calls = [call for line in exec_lines(unit) for call in optihub_calls(line)]
        if not calls:
            problems.append(f"{unit.name}: no optihub command in its Exec lines")
        for line, args in calls:
            try:
                parse(args)
            except AssertionError as exc:
                problems.append(f"{unit.name}: {exc}\n    in: {line}")
    assert problems == [], "\n".join(problems)


def test_commands_written_in_the_text_exist():
    """``optihub serve --workers N`` and the like, outside the shell blocks: the command
    and its options (values are placeholders there)."""
    problems = []
    fenced = False
    for number, line in enumerate(PAGE.read_text().splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        for span in re.findall(r"`optihub ([^`]+)`", line):
            try:
                command, _, rest = resolve(span.split())
            except AssertionError as exc:
                problems.append(f"{PAGE.name}:{number}: {exc}")
                continue
            unknown = [
                w.split("=")[0]
                for w in rest
                if w.startswith("-") and w.split("=")[0] not in option_names(command)
            ]
            if unknown:
                problems.append(f"{PAGE.name}:{number}: `optihub {span}`: no option {unknown}")
    assert problems == [], "\n".join(problems)


def test_the_checker_finds_commands():
    text = (
        "OPTIHUB_X=1 optihub migrate && sudo -u optihub /opt/o/bin/optihub serve --workers 2\n"
        "adduser --system optihub; optihub backup /b/x-$(date +%F).backup  # comment\n"
        "cat > f <<'EOF'\noptihub not-a-command\nEOF\n"
        "for p in 1 2; do optihub \\\n  worker; done\n"
        "systemd-run --uid=optihub --property=X=1 /opt/o/bin/python -c '\nimport optihub\n'\n"
        "/bin/sh -c 'exec optihub restore \"/b/$(date +%Y).backup\"'\n"
    )
    found = [args for _, args in optihub_calls(text)]
    assert found == [
        ["migrate"],
        ["serve", "--workers", "2"],
        ["backup", "/b/x-X.backup"],
        ["worker"],
        ["restore", "/b/X.backup"],
    ]
    parse(["serve", "--workers", "2"])
    with pytest.raises(AssertionError, match="no such command"):
        parse(["serve-all"])
    with pytest.raises(AssertionError, match="No such option"):
        parse(["serve", "--threads", "2"])
    with pytest.raises(AssertionError, match="Missing option"):
        parse(["user", "create", "--email", "a@example.com"])


# --------------------------------------------------------------------------- variables


def settings_variables() -> set[str]:
    """The ``OPTIHUB_*`` names settings.py reads (its string constants), the dialects'
    token lifetimes included."""
    from optihub.settings import DIALECT_TOKEN_CALLS, TTL_PREFIX

    tree = ast.parse(SETTINGS.read_text())
    names = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and VARIABLE.fullmatch(node.value)
    }
    return names | {TTL_PREFIX + dialect.upper() for dialect in DIALECT_TOKEN_CALLS}


def deploy_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file())


def test_every_variable_named_is_a_setting():
    known = settings_variables()
    problems = []
    for path in [PAGE, *deploy_files()]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for name in VARIABLE.findall(line):
                if name not in known:
                    problems.append(f"{path.relative_to(ROOT)}:{number}: {name}")
    assert problems == [], "not read by src/optihub/settings.py:\n" + "\n".join(problems)


def test_every_setting_is_on_the_page_and_in_the_example():
    known = settings_variables()
    assert "OPTIHUB_DATABASE_URL" in known and "OPTIHUB_RUN_WORKER" in known
    for path in (PAGE, ENV_EXAMPLE):
        missing = sorted(known - set(VARIABLE.findall(path.read_text())))
        assert missing == [], f"{path.relative_to(ROOT)} does not name {missing}"


def test_the_example_settings_are_accepted():
    from optihub.settings import Settings

    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith(("#", ";")):
            name, equals, value = line.partition("=")
            assert equals and name == name.strip(), f"not NAME=value: {line!r}"
            values[name] = value
    assert "OPTIHUB_PORT" not in values, "it would override optihub@.service's port"
    settings = Settings.from_env(values)
    assert settings.database_url.startswith("postgresql://")
    assert settings.public_url.startswith("https://")
    assert settings.run_worker_in_server is False, "the worker units deliver webhooks"
    assert settings.secret_key and settings.metrics_token and settings.redis_url


# --------------------------------------------------------------------------- metrics


def section(title: str) -> str:
    text = PAGE.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def served_metrics() -> set[str]:
    from prometheus_client import REGISTRY

    from optihub import web

    web._observe("GET", "/healthz", 200, 0.001)
    names = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def test_the_metrics_named_are_served():
    served = served_metrics()
    named = set()
    for title in ("Metrics", "Health and observation"):
        named |= set(re.findall(r"`((?:optihub|process|python)_[a-z_]+)`", section(title)))
    if not sys.platform.startswith("linux"):  # the process collector reads /proc
        named = {name for name in named if not name.startswith("process_")}
    assert "optihub_http_requests_total" in named
    assert sorted(named - served) == [], "not served by /metrics"
    ours = {name for name in served if name.startswith("optihub_")}
    families = {re.sub(r"_(bucket|sum|count|created|total)$", "", name) for name in ours}
    missing = [
        name
        for name in sorted(families)
        if not any(n.startswith(name) for n in named if n.startswith("optihub_"))
    ]
    assert missing == [], f"served but not on the page: {missing}"


# --------------------------------------------------------------------------- proxy, paths


def test_the_proxy_passes_what_optihub_reads():
    from optihub.surfaces import SURFACES

    conf = NGINX.read_text()
    for header in ("Host", "X-Forwarded-For", "X-Forwarded-Proto"):
        assert re.search(rf"^\s*proxy_set_header {header} \S+;", conf, re.M), header
    size = re.search(r"^\s*client_max_body_size (\d+)m;", conf, re.M)
    assert size is not None
    largest = max(surface.max_body for surface in SURFACES)
    assert int(size.group(1)) << 20 >= largest, "nginx would refuse bodies a dialect takes"
    ports = set(re.findall(r"server 127\.0\.0\.1:(\d+)", conf))
    assert ports and ports <= set(re.findall(r"optihub@(\d+)", PAGE.read_text()))


def test_units_wrapper_and_page_agree():
    page = PAGE.read_text()
    wrapper = WRAPPER.read_text()
    for unit in UNITS:
        text = unit.read_text()
        assert "EnvironmentFile=/etc/optihub/optihub.env" in text, unit.name
        assert "User=optihub" in text and "ProtectSystem=strict" in text, unit.name
        assert "StateDirectory=optihub" in text, unit.name
        for line in exec_lines(unit):
            for _, _args in optihub_calls(line):
                assert "/opt/optihub/current/bin/optihub" in line, unit.name
        for path in re.findall(r"ReadWritePaths=(\S+)", text):
            assert path in page, f"{unit.name}: the page never creates {path}"
    assert "EnvironmentFile=/etc/optihub/optihub.env" in wrapper
    assert "/opt/optihub/current/bin/optihub" in wrapper
    assert "ln -sfn /opt/optihub/releases/" in page and "/opt/optihub/current" in page
    assert "OPTIHUB_DATA_DIR=/var/lib/optihub" in ENV_EXAMPLE.read_text()
    for name in ("optihub@.service", "optihub-worker@.service", "optihub-backup.timer"):
        assert (DEPLOY / "systemd" / name).exists() and name in page
