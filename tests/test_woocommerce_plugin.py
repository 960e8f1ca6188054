"""The WordPress companion plugin's files: PHP lint, static checks, the zip and its command.

WordPress itself cannot run here, so static checks cover what PHP cannot run: every file
parses with php-cli (a), the ABSPATH guard on every file (d), escaping on every echo (e), the
plugin header, readme and translations, the package_data shipping the files, the zip a merchant
uploads (b) and the command building it. The pure PHP functions run in
test_woocommerce_plugin_php.py, the classes in a stand-in WordPress in
test_woocommerce_plugin_wordpress.py.
"""

from __future__ import annotations

import configparser
import gettext
import hashlib
import json
import os
import re
import shutil
import subprocess
import zipfile
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from click.testing import CliRunner

from parcours.adapters.woocommerce.cli import woocommerce
from parcours.adapters.woocommerce.plugin import (
    PLUGIN_ROOT,
    REQUIRED_FILES,
    build_plugin,
    plugin_files,
    plugin_version,
)
from parcours.errors import ConfigError
from tests.wordpress_standin import php_binary

REPO = Path(__file__).resolve().parents[1]
PHP_FILES = sorted(PLUGIN_ROOT.rglob("*.php"))


@pytest.fixture(scope="module")
def php() -> str:
    return php_binary()


# -- (a) every PHP file parses ------------------------------------------------------------------

def test_the_plugin_has_php_files() -> None:
    names = {path.relative_to(PLUGIN_ROOT).as_posix() for path in PHP_FILES}
    assert {"parcours.php", "uninstall.php", "includes/class-parcours-plugin.php"} <= names


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: p.relative_to(PLUGIN_ROOT).as_posix())
def test_php_lint(php: str, path: Path) -> None:
    result = subprocess.run([php, "-l", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


# -- (d) the ABSPATH guard, (e) escaping --------------------------------------------------------

_LEADING_COMMENTS = re.compile(r"\A(\s+|/\*.*?\*/|//[^\n]*|#[^\n]*)*", re.DOTALL)
_GUARD = re.compile(r"defined\(\s*(['\"])ABSPATH\1\s*\)\s*\|\|\s*exit\s*;")


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: p.relative_to(PLUGIN_ROOT).as_posix())
def test_every_php_file_starts_with_the_abspath_guard(path: Path) -> None:
    """Loaded directly by URL, a file must do nothing (no output, no path disclosure)."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<?php\n"), "a PHP file opens with <?php on the first line"
    body = _LEADING_COMMENTS.sub("", text[len("<?php"):], count=1)
    assert _GUARD.match(body), f"the first statement must be `defined( 'ABSPATH' ) || exit;`:\n" \
                               f"{body[:120]}"


ESCAPERS = ("esc_html", "esc_attr", "esc_url", "esc_textarea", "esc_html__", "esc_attr__",
            "wp_kses", "wp_kses_post", "wc_esc_json", "absint")


def _strip_strings(code: str) -> str:
    """PHP code with the contents of string literals blanked (a `$` in text is not a variable)."""
    out, i = [], 0
    while i < len(code):
        char = code[i]
        if char in "'\"":
            j = i + 1
            while j < len(code) and code[j] != char:
                j += 2 if code[j] == "\\" else 1
            out.append(char + " " * (j - i - 1) + char)
            i = j + 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _php_code(text: str) -> str:
    """Only the PHP of a file (template HTML blanked), comments removed, strings blanked."""
    parts = re.split(r"(<\?php|<\?=|\?>)", text)
    code, inside = [], False
    for part in parts:
        if part in ("<?php", "<?="):
            inside = True
            code.append(" echo " if part == "<?=" else " ")
        elif part == "?>":
            inside = False
            code.append(";")
        elif inside:
            code.append(part)
    joined = _strip_strings("".join(code))
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", joined, flags=re.DOTALL)


def _without_escaped_calls(expression: str) -> str:
    """The expression with every escaping call (and its balanced arguments) removed."""
    pattern = re.compile(r"\b(" + "|".join(ESCAPERS) + r")\s*\(")
    while (match := pattern.search(expression)) is not None:
        depth, j = 1, match.end()
        while j < len(expression) and depth:
            depth += {"(": 1, ")": -1}.get(expression[j], 0)
            j += 1
        expression = expression[:match.start()] + " ESCAPED " + expression[j:]
    return expression


def echoed_expressions(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"\becho\b(.*?);", _php_code(text), re.DOTALL)]


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: p.relative_to(PLUGIN_ROOT).as_posix())
def test_every_echoed_variable_is_escaped(path: Path) -> None:
    """Escape late: whatever a file echoes, a variable only reaches the page through esc_*."""
    code = _php_code(path.read_text(encoding="utf-8"))
    forbidden_calls = (r"\bprint\b", r"\bprintf\s*\(", r"\bvprintf\s*\(", r"\b_e\s*\(",
                       r"\bprint_r\s*\(", r"\bvar_dump\s*\(", r"\b_ex\s*\(")
    for forbidden in forbidden_calls:
        assert not re.search(forbidden, code), f"{path.name}: use echo with esc_* ({forbidden})"
    for expression in echoed_expressions(path.read_text(encoding="utf-8")):
        bare = _without_escaped_calls(expression)
        assert "$" not in bare, f"{path.name}: unescaped variable in `echo{expression};`"


def test_the_escaping_scan_catches_an_unescaped_echo() -> None:
    bad = "<?php\necho '<p>' . $title . '</p>';\n?>\n<b><?php echo esc_html( $ok ); ?></b>"
    assert ["$" in _without_escaped_calls(e) for e in echoed_expressions(bad)] == [True, False]
    nested = "<?php echo esc_html( sprintf( '%s', $a ) ) . strtoupper( $b );"
    assert [_without_escaped_calls(e).split() for e in echoed_expressions(nested)] == [
        ["ESCAPED", ".", "strtoupper(", "$b", ")"]]
    template = '<a href="<?php echo $url; ?>">x</a><?= esc_html( $a ) ?>'
    assert ["$" in _without_escaped_calls(e) for e in echoed_expressions(template)] == [True, False]


# -- the plugin's files: header, readme, translations, package data -----------------------------

def header(text: str) -> dict[str, str]:
    """Plugin header fields as WordPress's get_file_data reads them (first 8 KiB)."""
    fields = {}
    for match in re.finditer(r"^[ \t/*#@]*([A-Za-z][A-Za-z ]+?):[ \t]*(.+?)[ \t]*$",
                             text[:8192], re.MULTILINE):
        fields.setdefault(match.group(1), match.group(2))
    return fields


def test_the_main_file_header(tmp_path: Path) -> None:
    fields = header((PLUGIN_ROOT / "parcours.php").read_text(encoding="utf-8"))
    assert fields["Plugin Name"] == "Parcours"
    assert fields["Description"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", fields["Version"])
    assert fields["Requires at least"] == "6.9"
    assert fields["Requires PHP"] == "8.1"
    assert fields["WC requires at least"] == "10.0"
    assert fields["Requires Plugins"] == "woocommerce"
    assert fields["License"] == "GPL-2.0-or-later"
    assert fields["License URI"] == "https://www.gnu.org/licenses/gpl-2.0.html"
    assert fields["Text Domain"] == "parcours"
    assert fields["Domain Path"] == "/languages"
    assert plugin_version() == fields["Version"]


def test_versions_agree() -> None:
    version = plugin_version()
    main = (PLUGIN_ROOT / "parcours.php").read_text(encoding="utf-8")
    assert f"define( 'PARCOURS_VERSION', '{version}' );" in main
    readme = (PLUGIN_ROOT / "readme.txt").read_text(encoding="utf-8")
    assert f"Stable tag: {version}\n" in readme
    assert f"= {version} =" in readme  # its changelog entry


def test_the_readme_follows_the_wordpress_org_format() -> None:
    readme = (PLUGIN_ROOT / "readme.txt").read_text(encoding="utf-8")
    head, _, rest = readme.partition("\n\n")
    lines = head.splitlines()
    assert lines[0] == "=== Parcours ==="
    fields = dict(line.split(": ", 1) for line in lines[1:])
    assert {"Contributors", "Tags", "Requires at least", "Tested up to", "Requires PHP",
            "Stable tag", "License", "License URI"} <= set(fields)
    assert fields["Requires at least"] == "6.9" and fields["Requires PHP"] == "8.1"
    assert len(fields["Tags"].split(",")) <= 5
    short = rest.split("\n\n", 1)[0]
    assert 0 < len(short) <= 150 and not short.startswith("==")
    for section in ("== Description ==", "== Frequently Asked Questions ==", "== Changelog =="):
        assert section in readme
    # What the plugin promises merchants about personal data (item 5 of the brief).
    assert "No email address, name, postal address, phone number or IP address" in readme


_I18N_CALL = re.compile(
    r"\b(__|_e|esc_html__|esc_html_e|esc_attr__|esc_attr_e|_n)\(\s*'((?:[^'\\]|\\.)*)'"
    r"(?:\s*,\s*'((?:[^'\\]|\\.)*)')?(?:\s*,\s*[^,()]+?)?\s*,\s*'([a-z-]+)'\s*\)")


def translatable_strings() -> dict[str, str | None]:
    """msgid -> msgid_plural of every translation call in the plugin's PHP."""
    found: dict[str, str | None] = {}
    for path in PHP_FILES:
        text = path.read_text(encoding="utf-8")
        for match in _I18N_CALL.finditer(text):
            function, first, second, domain = match.groups()
            assert domain == "parcours", f"{path.name}: text domain {domain!r} in {match[0]}"
            unescape = lambda s: s.replace("\\'", "'").replace("\\\\", "\\")  # noqa: E731
            found[unescape(first)] = unescape(second) if function == "_n" else None
    return found


def test_every_translation_call_uses_the_parcours_domain() -> None:
    calls = sum(len(re.findall(r"\b(?:__|_n|esc_html__|esc_html_e|esc_attr__)\(",
                               p.read_text(encoding="utf-8"))) for p in PHP_FILES)
    assert calls == sum(len(list(_I18N_CALL.finditer(p.read_text(encoding="utf-8"))))
                        for p in PHP_FILES), "a translation call the checks cannot read"
    assert len(translatable_strings()) > 30


def test_every_string_has_a_french_translation_in_the_compiled_catalogue() -> None:
    """WordPress reads the .mo; it must hold a French text for every string of the PHP."""
    with (PLUGIN_ROOT / "languages/parcours-fr_FR.mo").open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    pot = (PLUGIN_ROOT / "languages/parcours.pot").read_text(encoding="utf-8")
    po = (PLUGIN_ROOT / "languages/parcours-fr_FR.po").read_text(encoding="utf-8")
    for msgid, plural in translatable_strings().items():
        quoted = json.dumps(msgid, ensure_ascii=False)
        assert f"msgid {quoted}" in pot and f"msgid {quoted}" in po, f"{msgid!r} not extracted"
        if plural is None:
            french = catalogue.gettext(msgid)
        else:
            french = catalogue.ngettext(msgid, plural, 2)
            assert catalogue.ngettext(msgid, plural, 1) != msgid
        assert (french and french != msgid) or msgid == "Parcours", f"{msgid!r} not translated"
    assert catalogue.gettext("Not connected") == "Non connecté"
    assert catalogue.gettext("Connected as store %s") == "Connecté en tant que boutique %s"
    assert catalogue.ngettext("(%s review)", "(%s reviews)", 0) == "(%s avis)"
    assert catalogue.info()["plural-forms"] == "nplurals=2; plural=(n > 1);"
    # Placeholders survive translation.
    for msgid in translatable_strings():
        placeholders = sorted(re.findall(r"%(?:\d\$)?[sd]", msgid))
        assert sorted(re.findall(r"%(?:\d\$)?[sd]", catalogue.gettext(msgid))) == placeholders


def test_the_wheel_ships_every_plugin_file() -> None:
    """setup.cfg's package_data must match each file, or an installed Parcours cannot build it."""
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg", encoding="utf-8")
    globs = [line.strip() for line in
             config["options.package_data"]["parcours.adapters.woocommerce"].splitlines()
             if line.strip()]
    prefix = PLUGIN_ROOT.relative_to(REPO / "adapters" / "woocommerce").as_posix()

    def shipped(name: str) -> bool:
        parts = f"{prefix}/{name}".split("/")
        return any(len(g.split("/")) == len(parts)
                   and all(fnmatchcase(p, q) for p, q in zip(parts, g.split("/"), strict=True))
                   for g in globs)

    assert [name for name in plugin_files() if not shipped(name)] == []


# -- (b) the zip ---------------------------------------------------------------------------------

def test_the_zip_installs_as_the_parcours_folder(tmp_path: Path) -> None:
    path = build_plugin(tmp_path / "dist")
    assert path == tmp_path / "dist" / f"parcours-{plugin_version()}.zip"
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert all(name.startswith("parcours/") for name in names)
        files = [name for name in names if not name.endswith("/")]
        assert files == sorted(f"parcours/{name}" for name in plugin_files())
        assert {f"parcours/{name}" for name in REQUIRED_FILES} <= set(files)
        for name in files:  # every file as in the sources, readable by any unzip
            info = archive.getinfo(name)
            assert archive.read(name) == (PLUGIN_ROOT / name.removeprefix("parcours/")
                                          ).read_bytes()
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100644
        main = archive.read("parcours/parcours.php").decode()
        archive.extractall(tmp_path / "plugins")
    assert header(main)["Plugin Name"] == "Parcours"
    assert header(main)["Version"] == plugin_version()
    # What WordPress finds in wp-content/plugins/ after unpacking: parcours/parcours.php.
    assert (tmp_path / "plugins" / "parcours" / "parcours.php").is_file()
    assert not (tmp_path / "dist" / (path.name + ".part")).exists()


def test_two_builds_are_byte_identical(tmp_path: Path) -> None:
    first = build_plugin(tmp_path / "one").read_bytes()
    copy = tmp_path / "copy" / "parcours"
    shutil.copytree(PLUGIN_ROOT, copy)
    for path in copy.rglob("*"):  # other mtimes and a stray file must not change the bytes
        os.utime(path, (2_000_000_000, 2_000_000_000))
    (copy / ".DS_Store").write_bytes(b"junk")
    (copy / "includes" / "functions-config.php~").write_text("backup")
    assert build_plugin(tmp_path / "two", copy).read_bytes() == first
    assert hashlib.sha256(build_plugin(tmp_path / "one").read_bytes()).digest() == \
        hashlib.sha256(first).digest()


def test_the_build_refuses_an_incomplete_plugin(tmp_path: Path) -> None:
    copy = tmp_path / "parcours"
    shutil.copytree(PLUGIN_ROOT, copy)
    (copy / "includes" / "functions-config.php").unlink()
    (copy / "uninstall.php").unlink()
    missing = r"missing uninstall\.php, includes/functions-config\.php"
    with pytest.raises(ConfigError, match=missing):
        build_plugin(tmp_path / "dist", copy)
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())
    with pytest.raises(ConfigError, match="is missing"):
        build_plugin(tmp_path / "dist", tmp_path / "nowhere")


def test_the_build_refuses_a_header_without_version(tmp_path: Path) -> None:
    copy = tmp_path / "parcours"
    shutil.copytree(PLUGIN_ROOT, copy)
    main = copy / "parcours.php"
    main.write_text(re.sub(r" \* Version: .*\n", "", main.read_text(encoding="utf-8")),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="no Version"):
        build_plugin(tmp_path / "dist", copy)


def test_the_command_builds_and_prints_the_zip(tmp_path: Path) -> None:
    result = CliRunner().invoke(woocommerce, ["build-plugin", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip())
    assert path == tmp_path / "out" / f"parcours-{plugin_version()}.zip" and path.is_file()
    help_text = CliRunner().invoke(woocommerce, ["--help"]).output
    assert "WooCommerce: the WordPress plugin and connected stores." in help_text


def test_the_command_names_missing_files(tmp_path: Path) -> None:
    copy = tmp_path / "parcours"
    shutil.copytree(PLUGIN_ROOT, copy)
    (copy / "readme.txt").unlink()
    result = CliRunner().invoke(woocommerce, ["build-plugin", "--out", str(tmp_path / "out"),
                                              "--source", str(copy)])
    assert result.exit_code == 1
    assert "missing readme.txt" in result.output and "Traceback" not in result.output
