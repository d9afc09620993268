"""The companion plugin's files: valid PHP 7.4, WordPress.org conventions, prepared SQL, the zip.

These need only ``php`` (the real-store tests prove the plugin's behaviour).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from onetill.cli import cli
from onetill.cli.plugin import build_zip, find_plugin_source, plugin_version

PLUGIN = Path(__file__).resolve().parents[2] / "plugin" / "onetill-companion"
PHP_FILES = sorted(PLUGIN.rglob("*.php"))
needs_php = pytest.mark.skipif(shutil.which("php") is None, reason="no php binary")

# Syntax and functions that PHP 7.4 (the plugin's minimum) does not have.
PHP8_TOKENS = ("T_MATCH", "T_NULLSAFE_OBJECT_OPERATOR", "T_ATTRIBUTE", "T_ENUM", "T_READONLY")
PHP8_FUNCTIONS = (
    "str_contains",
    "str_starts_with",
    "str_ends_with",
    "array_is_list",
    "get_debug_type",
)
_TOKEN_DUMP = r"""
foreach ( token_get_all( file_get_contents( $argv[1] ) ) as $t ) {
    if ( is_array( $t ) ) { echo token_name( $t[0] ), "\t", str_replace( "\n", " ", $t[1] ), "\n"; }
}
"""


def test_the_plugin_has_its_files() -> None:
    names = {p.relative_to(PLUGIN).as_posix() for p in PHP_FILES}
    assert {"onetill-companion.php", "uninstall.php"} <= names
    assert (PLUGIN / "readme.txt").is_file()


@needs_php
@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: p.name)
def test_php_lint(path: Path) -> None:
    """`php -l` accepts every PHP file."""
    done = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_php
@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: p.name)
def test_no_php8_only_syntax_or_functions(path: Path) -> None:
    """The plugin says "Requires PHP: 7.4": no match, ?->, attributes, enums, str_contains..."""
    dump = subprocess.run(
        ["php", "-r", _TOKEN_DUMP, str(path)], capture_output=True, text=True, check=True
    ).stdout
    found = []
    for line in dump.splitlines():
        name, _, text = line.partition("\t")
        if name in PHP8_TOKENS or (name == "T_STRING" and text in PHP8_FUNCTIONS):
            found.append(f"{name} {text}")
    assert not found, f"{path.name} uses PHP 8 only: {found}"


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: p.name)
def test_every_file_refuses_direct_access(path: Path) -> None:
    """A PHP file requested by URL does nothing (WordPress.org plugin guideline)."""
    head = path.read_text(encoding="utf-8")[:2000]
    guard = (
        "defined( 'WP_UNINSTALL_PLUGIN' ) || exit;"
        if path.name == "uninstall.php"
        else ("defined( 'ABSPATH' ) || exit;")
    )
    assert guard in head


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: p.name)
def test_every_query_is_prepared(path: Path) -> None:
    """Every $wpdb query takes $wpdb->prepare(...) or a constant string (no interpolated SQL)."""
    text = path.read_text(encoding="utf-8")
    calls = re.finditer(r"\$wpdb->(query|get_var|get_col|get_row|get_results)\(\s*", text)
    for call in calls:
        rest = text[call.end() : call.end() + 200]
        literal = re.match(r"'[^'$]*'\s*\)", rest)
        assert rest.startswith("$wpdb->prepare(") or literal, (
            f"{path.name}: unprepared {call.group(0)}{rest[:60]!r}"
        )


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: p.name)
def test_translatable_strings_use_the_text_domain(path: Path) -> None:
    """Every __()/esc_html__() ... names the plugin's text domain."""
    text = path.read_text(encoding="utf-8")
    for call in re.finditer(
        r"\b(__|_e|esc_html__|esc_attr__|_x|_n)\(\s*'((?:[^'\\]|\\.)*)'\s*(,?)", text
    ):
        after = text[call.end() : call.end() + 40]
        assert call.group(3) == "," and after.lstrip().startswith("'onetill-companion'"), (
            f"{path.name}: {call.group(0)}{after!r}"
        )


def test_plugin_header_follows_wordpress_org() -> None:
    """Requires Plugins: woocommerce, minimums, text domain and a GPL licence in the header."""
    head = (PLUGIN / "onetill-companion.php").read_text(encoding="utf-8")[:3000]
    for field, value in {
        "Plugin Name": "OneTill Companion",
        "Requires at least": "6.4",
        "Requires PHP": "7.4",
        "Requires Plugins": "woocommerce",
        "Text Domain": "onetill-companion",
        "License": "GPL-2.0-or-later",
        "WC requires at least": "8.0",
    }.items():
        assert re.search(rf"^\s*\*\s*{re.escape(field)}:\s*{re.escape(value)}\s*$", head, re.M), (
            field
        )
    assert "declare_compatibility( 'custom_order_tables'" in head + (
        PLUGIN / "onetill-companion.php"
    ).read_text(encoding="utf-8")


def test_readme_is_in_wordpress_org_format() -> None:
    readme = (PLUGIN / "readme.txt").read_text(encoding="utf-8")
    assert readme.startswith("=== OneTill Companion ===")
    for field in (
        "Contributors:",
        "Tags:",
        "Requires at least:",
        "Tested up to:",
        "Requires PHP:",
        "Stable tag:",
        "License:",
    ):
        assert re.search(rf"^{field}\s*\S", readme, re.M), field
    for section in ("Description", "Installation", "Frequently Asked Questions", "Changelog"):
        assert f"== {section} ==" in readme


def test_version_agrees_everywhere() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", plugin_version(PLUGIN))


def test_zip_holds_the_plugin_under_its_slug(tmp_path: Path) -> None:
    """`onetill plugin zip` writes one top folder named like the slug, every file, nothing else."""
    out = tmp_path / "dist" / "onetill-companion.zip"
    result = CliRunner().invoke(cli, ["plugin", "zip", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "onetill-companion 1." in result.output
    with zipfile.ZipFile(out) as z:
        names = sorted(z.namelist())
        assert (
            z.read("onetill-companion/onetill-companion.php")
            == (PLUGIN / "onetill-companion.php").read_bytes()
        )
    expected = sorted(
        f"onetill-companion/{p.relative_to(PLUGIN).as_posix()}"
        for p in PLUGIN.rglob("*")
        if p.is_file()
    )
    assert names == expected


def test_zip_is_reproducible(tmp_path: Path) -> None:
    a, b = tmp_path / "a.zip", tmp_path / "b.zip"
    build_zip(PLUGIN, a)
    build_zip(PLUGIN, b)
    assert a.read_bytes() == b.read_bytes()


def test_zip_refuses_versions_that_disagree(tmp_path: Path) -> None:
    """A header bumped without readme.txt's Stable tag is refused, naming both."""
    copy = tmp_path / "onetill-companion"
    shutil.copytree(PLUGIN, copy)
    readme = copy / "readme.txt"
    readme.write_text(re.sub(r"Stable tag: \S+", "Stable tag: 0.0.9", readme.read_text()))
    result = CliRunner().invoke(
        cli, ["plugin", "zip", "--source", str(copy), "-o", str(tmp_path / "x.zip")]
    )
    assert result.exit_code == 1
    assert "Stable tag" in result.output and "0.0.9" in result.output
    assert not (tmp_path / "x.zip").exists()


def test_the_checkout_finds_its_plugin() -> None:
    assert find_plugin_source() == PLUGIN
