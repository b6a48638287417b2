"""scripts/check-layers on tiny made-up source trees: it must find a cycle between
top-level modules, a cycle between files and an upward import out of `engine`, pass a
clean tree, and not count test-only code. It reads files only: no controller is needed."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "check-layers"


@pytest.fixture(scope="module", autouse=True)
def controller():
    """Replaces conftest's session controller: these tests start none."""
    yield None


def tree(root: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    src = root / "src"
    for name, text in files.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return src


def check(src: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(src), *args], capture_output=True, text=True, timeout=60)


MAIN = "mod cli;\nmod engine;\nmod store;\n\nfn main() {\n    cli::main();\n}\n"


PASSES = {
    # main -> cli/mod.rs; cli/mod.rs -> cli/commands.rs; commands -> engine, store; engine
    # -> store. Paths in comments and strings are no imports.
    "a clean tree": (
        {
            "main.rs": MAIN,
            "cli/mod.rs": "mod commands;\n\npub fn main() {\n    commands::run();\n}\n",
            "cli/commands.rs": "use crate::engine::Engine;\n\npub fn run() {\n    let _ = Engine::new(crate::store::open());\n}\n",
            "engine/mod.rs": "use crate::store::Store;\n\npub struct Engine;\nimpl Engine {\n    pub fn new(_: Store) -> Engine { Engine }\n}\n",
            "store/mod.rs": "// crate::cli::main() in a comment is no import\npub struct Store;\npub fn open() -> Store { let _ = \"crate::engine::x\"; Store }\n",
        },
        "check-layers: ok (5 files, 5 edges)",
    ),
    # Only engine -> store counts: the rest is test code (a #[cfg(test)] block, item and
    # module file, testing.rs, a tests/ folder) that would otherwise make a cycle.
    "test code that would otherwise cycle": (
        {
            "main.rs": "mod engine;\nmod store;\n",
            "engine/mod.rs": "use crate::store::Store;\npub fn step(_: &Store) {}\n",
            "store/mod.rs": (
                "pub struct Store;\n\n"
                "#[cfg(test)]\n"
                "mod tests {\n"
                "    use crate::engine::step;\n"
                "    #[test]\n"
                "    fn steps() {\n"
                "        step(&super::Store);\n"
                "        let _ = '}';\n"
                "    }\n"
                "}\n\n"
                "#[cfg(test)]\n"
                "mod more_tests;\n"
                "#[cfg(test)]\n"
                "#[allow(dead_code)]\n"
                "fn helper() { crate::engine::step(&Store); }\n"
            ),
            "store/more_tests.rs": "use crate::engine::step;\n",
            "store/testing.rs": "use crate::engine::step;\n",
            "engine/tests/fake.rs": "use crate::store::Store;\n",
        },
        "check-layers: ok (3 files, 1 edges)",
    ),
}


@pytest.mark.parametrize("case", sorted(PASSES))
def test_passes_count_files_and_edges(tmp_path, case):
    files, want = PASSES[case]
    r = check(tree(tmp_path, files))
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, want, "")


PROBLEMS = {
    "a cycle between top-level modules (and so between their files)": (
        {
            "main.rs": MAIN,
            "cli/mod.rs": "pub fn main() {}\npub fn help() {}\n",
            "engine/mod.rs": "pub mod run;\n",
            "engine/run.rs": "use crate::store::put;\n\npub fn go() {\n    put();\n}\n",
            "store/mod.rs": "pub fn put() {}\npub fn get() {\n    crate::engine::run::go();\n}\n",
        },
        [
            "check-layers: top-level modules import each other: engine -> store -> engine"
            " (engine -> store: engine/run.rs -> store/mod.rs; store -> engine: store/mod.rs -> engine/run.rs)",
            "check-layers: files import each other (2 files: engine/run.rs, store/mod.rs), e.g. engine/run.rs -> store/mod.rs -> engine/run.rs",
            "check-layers: store/mod.rs imports engine/run.rs, but store may not import engine (a layer above it)",
        ],
    ),
    "a cycle between files of one module": (
        {
            "main.rs": "mod store;\n",
            "store/mod.rs": "mod apps;\nmod units;\n",
            "store/apps.rs": "use super::units::Unit;\npub struct App(Unit);\n",
            "store/units.rs": "pub struct Unit;\npub fn app_of() -> super::apps::App { todo!() }\n",
        },
        ["check-layers: files import each other (2 files: store/apps.rs, store/units.rs), e.g. store/apps.rs -> store/units.rs -> store/apps.rs"],
    ),
    "engine importing a layer above it": (
        {
            "main.rs": "mod charms;\nmod engine;\n",
            "charms/mod.rs": "pub trait Charm {}\n",
            "engine/mod.rs": "mod hooks;\n",
            "engine/hooks.rs": "pub fn run(_: &dyn crate::charms::Charm) {}\n",
        },
        ["check-layers: engine/hooks.rs imports charms/mod.rs, but engine may not import charms (a layer above it)"],
    ),
}


@pytest.mark.parametrize("case", sorted(PROBLEMS))
def test_problems_fail_with_one_line_each(tmp_path, case):
    files, want = PROBLEMS[case]
    r = check(tree(tmp_path, files))
    assert (r.returncode, r.stderr.splitlines(), r.stdout) == (1, want, "")


def test_dot_prints_the_folder_graph(tmp_path):
    src = tree(
        tmp_path,
        {
            "main.rs": "mod cli;\nmod engine;\nfn main() { cli::main(); }\n",
            "cli/mod.rs": "pub fn main() { crate::engine::run(); }\n",
            "engine/mod.rs": "pub fn run() { crate::cli::main(); }\n",
        },
    )
    r = check(src, "--dot")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("digraph tether {")
    assert '"main" -> "cli" [label="1"];' in r.stdout
    assert '"cli" -> "engine" [label="1", color=red];' in r.stdout
    assert '"engine" -> "cli" [label="1", color=red];' in r.stdout
