"""The WordPress companion plugin's zip: what a merchant uploads in Plugins > Add New > Upload.

WordPress installs a zip by unpacking it into wp-content/plugins/ and naming the plugin after the
zip's top folder, so every entry sits under `parcours/` and the folder name never changes (a
different name would install a second copy beside the first). The zip is reproducible: entries
in sorted order, fixed timestamps and permissions, so two builds of the same sources are
byte-identical and a release can be checked against its sources.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

from parcours.errors import ConfigError

__all__ = ["PLUGIN_FOLDER", "PLUGIN_ROOT", "REQUIRED_FILES", "build_plugin", "plugin_files",
           "plugin_version"]

PLUGIN_FOLDER = "parcours"
PLUGIN_ROOT = Path(__file__).resolve().parent / "wordpress" / PLUGIN_FOLDER

# What WordPress and the plugin itself load: a zip without one of them would install a broken
# plugin (a fatal require_once on activation), so the build refuses instead.
REQUIRED_FILES = (
    "parcours.php",
    "uninstall.php",
    "readme.txt",
    "includes/class-parcours-dashboard.php",
    "includes/class-parcours-options.php",
    "includes/class-parcours-plugin.php",
    "includes/class-parcours-reviews.php",
    "includes/class-parcours-settings.php",
    "includes/class-parcours-shipping-estimate.php",
    "includes/class-parcours-stitching.php",
    "includes/class-parcours-storefront.php",
    "includes/functions-config.php",
    "includes/functions-dashboard.php",
    "includes/functions-reviews.php",
    "includes/functions-shipping.php",
    "includes/functions-templates.php",
    "templates/review-stars.php",
    "templates/settings-page.php",
    "languages/parcours.pot",
    "languages/parcours-fr_FR.po",
    "languages/parcours-fr_FR.mo",
)

# 1980-01-01, the earliest time a zip can hold: the sources' mtimes would make builds differ.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIPPED = re.compile(r"(^|/)(\.[^/]*|__pycache__|node_modules)(/|$)|(~|\.pyc|\.swp|\.orig|\.rej)$")
# WordPress reads plugin headers from the file's first 8 KiB (get_file_data).
_HEADER_BYTES = 8192
_VERSION = re.compile(r"^[ \t/*#@]*Version:[ \t]*(?P<version>[^\r\n]+?)[ \t]*$", re.MULTILINE)
_SAFE_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,31}$")


def plugin_files(root: Path = PLUGIN_ROOT) -> list[str]:
    """The plugin's files as sorted POSIX paths relative to `root`.

    Dotfiles, editor leftovers and caches stay out: only what the plugin runs or shows ships.
    """
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not _SKIPPED.search(relative):
            found.append(relative)
    return sorted(found)


def plugin_version(root: Path = PLUGIN_ROOT) -> str:
    """The `Version:` of the main file's header, as WordPress reads it."""
    main = root / "parcours.php"
    with main.open("rb") as handle:
        head = handle.read(_HEADER_BYTES).decode("utf-8", errors="replace")
    match = _VERSION.search(head)
    if match is None:
        raise ConfigError(f"{main}: the plugin header has no Version")
    version = match.group("version")
    if not _SAFE_VERSION.match(version):
        raise ConfigError(f"{main}: the plugin Version {version!r} is not a version number")
    return version


def _check(root: Path) -> list[str]:
    if not root.is_dir():
        raise ConfigError(f"the WordPress plugin folder {root} is missing")
    files = plugin_files(root)
    missing = [name for name in REQUIRED_FILES if name not in files]
    if missing:
        raise ConfigError(f"the WordPress plugin folder {root} is missing "
                          + ", ".join(missing))
    return files


def _directories(files: list[str]) -> list[str]:
    """Every folder that holds a file, parents first, so unzip tools create them in order."""
    folders = {PLUGIN_FOLDER}
    for name in files:
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folders.add(f"{PLUGIN_FOLDER}/" + "/".join(parts[:depth]))
    return sorted(folders)


def _entry(name: str, mode: int, is_dir: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.create_system = 3  # Unix, so that the permissions below are read
    info.external_attr = (mode << 16) | (0x10 if is_dir else 0)
    info.compress_type = zipfile.ZIP_STORED if is_dir else zipfile.ZIP_DEFLATED
    return info


def build_plugin(destination: Path, root: Path = PLUGIN_ROOT) -> Path:
    """Write `parcours-<version>.zip` into the folder `destination` and return its path.

    Refuses (ConfigError) when the plugin folder lacks a file the plugin loads. The zip is
    written beside its final name and renamed, so a failed build never leaves half a zip where
    a release script would pick it up.
    """
    files = _check(root)
    version = plugin_version(root)
    destination.mkdir(parents=True, exist_ok=True)
    target = destination / f"{PLUGIN_FOLDER}-{version}.zip"
    partial = target.with_name(target.name + ".part")
    try:
        with zipfile.ZipFile(partial, "w") as archive:
            for folder in _directories(files):
                archive.writestr(_entry(folder + "/", 0o40755, is_dir=True), b"")
            for name in files:
                data = (root / name).read_bytes()
                archive.writestr(_entry(f"{PLUGIN_FOLDER}/{name}", 0o100644), data,
                                 compresslevel=9)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
