"""``onetill plugin zip``: the companion WordPress plugin as an installable zip.

The plugin's PHP lives in the repository (``plugin/onetill-companion/``), not
in the Python package: it is built from a checkout, where its tests run too.
The zip holds one top folder named like the plugin's slug, as WordPress's
"Upload Plugin" and WordPress.org expect. Entries are sorted and dated from
the plugin's version, so the same source gives the same bytes.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import click

__all__ = ["build_zip", "find_plugin_source", "plugin", "plugin_version"]

SLUG = "onetill-companion"
# Only what WordPress needs: no editor backups, VCS files or caches.
_SKIP_PARTS = {".git", ".svn", "__pycache__", "node_modules", ".DS_Store"}
_SKIP_SUFFIXES = (".orig", ".rej", ".swp", "~")
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def find_plugin_source() -> Path | None:
    """``plugin/onetill-companion`` of the checkout this package runs from, if there is one."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "plugin" / SLUG
        if (candidate / f"{SLUG}.php").is_file():
            return candidate
    return None


def plugin_version(source: Path) -> str:
    """The version, checked to agree in the plugin header, its constant and readme's Stable tag."""
    main = (source / f"{SLUG}.php").read_text(encoding="utf-8")
    readme = (source / "readme.txt").read_text(encoding="utf-8")
    found = {
        "plugin header 'Version:'": re.search(r"^\s*\*\s*Version:\s*(\S+)", main, re.M),
        "ONETILL_COMPANION_VERSION": re.search(
            r"define\(\s*'ONETILL_COMPANION_VERSION',\s*'([^']+)'", main
        ),
        "readme.txt 'Stable tag:'": re.search(r"^Stable tag:\s*(\S+)", readme, re.M),
    }
    versions = {name: m.group(1) if m else None for name, m in found.items()}
    if None in versions.values() or len(set(versions.values())) != 1:
        shown = ", ".join(f"{name} = {value or 'missing'}" for name, value in versions.items())
        raise click.ClickException(
            f"the plugin's version is not the same everywhere ({shown}); make them agree"
        )
    return str(versions["plugin header 'Version:'"])


def _files(source: Path) -> list[Path]:
    out = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if not path.is_file() or _SKIP_PARTS.intersection(rel.parts):
            continue
        if path.name.endswith(_SKIP_SUFFIXES):
            continue
        out.append(path)
    return out


def build_zip(source: Path, output: Path) -> tuple[str, int]:
    """Write the zip; return (version, number of files)."""
    version = plugin_version(source)
    files = _files(source)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".part")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(f"{SLUG}/{path.relative_to(source).as_posix()}", _ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    partial.replace(output)
    return version, len(files)


@click.group()
def plugin() -> None:
    """The companion WordPress plugin (onetill-companion, REST namespace wc-onetill/v1)."""


@plugin.command("zip")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(f"{SLUG}.zip"),
    show_default=True,
    help="Where to write the zip.",
)
@click.option(
    "--source",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="The plugin folder (default: plugin/onetill-companion of this checkout).",
)
def zip_command(output: Path, source: Path | None) -> None:
    """Build the installable zip (WordPress > Plugins > Add New > Upload Plugin)."""
    source = source or find_plugin_source()
    if source is None or not (source / f"{SLUG}.php").is_file():
        raise click.ClickException(
            "cannot find the plugin's files (plugin/onetill-companion/onetill-companion.php): "
            "run this from a OneTill source checkout, or pass --source DIR"
        )
    version, count = build_zip(source, output)
    click.echo(f"{output} ({SLUG} {version}, {count} files)")
