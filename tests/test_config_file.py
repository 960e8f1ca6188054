"""Reading an agency's configuration file: every problem named with its file, line and key,
all at once, before any store is looked at; levels merged defaults < tags < store."""

from __future__ import annotations

from pathlib import Path

import pytest

from parcours.config_file import Where, load_config, merge
from parcours.errors import ValidationError


def _load(tmp_path: Path, text: str) -> str:
    path = tmp_path / "agency.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)
    except ValidationError as exc:
        assert "agency.yaml" in str(exc)
        return str(exc)
    return "ok"


def test_a_good_file_loads_with_its_levels(tmp_path: Path) -> None:
    path = tmp_path / "agency.yaml"
    path.write_text("version: 1\ndefaults:\n  reviews: {delay_days: 5}\ntags:\n  eu:\n"
                    "    storefront: {lang: fr}\nstores:\n  shop-1:\n"
                    "    experiments: {express_pay: {holdout: 0.1}}\n", encoding="utf-8")
    config = load_config(path)
    assert [where.label for where, _ in config.levels("shop-1", ["eu", "us"])] == [
        "defaults", "tag eu", "store shop-1"]
    assert config.line(("stores", "shop-1", "experiments", "express_pay")) == 9


@pytest.mark.parametrize(("text", "problems"), [
    ("version: 1\nstores:\n  shop-1:\n    widgets:\n      shiping_estimate: {enabled: true}\n",
     ["stores.shop-1.widgets.shiping_estimate (line 5): Must be one of"]),
    ("version: 1\ndefaults:\n  widgets:\n    express_pay: {enabled: maybe, colour: red}\n",
     ["defaults.widgets.express_pay.enabled (line 4): Not a valid boolean.",
      "defaults.widgets.express_pay.colour (line 4): Unknown field."]),
    ("version: 1\ndefaults:\n  experiments:\n    express_pay:\n      holdout: 2\n",
     ["defaults.experiments.express_pay.holdout (line 5): Must be greater than or equal to 0"]),
    ("version: 1\ndefaults:\n  reviews:\n    delay_days: -3\n    quiet_start: '25:00'\n",
     ["defaults.reviews.delay_days (line 4)", "defaults.reviews.quiet_start (line 5)"]),
    ("version: 1\ndefaults:\n  reviews: {delay_days: 2}\n  reviews: {delay_days: 3}\n",
     ["defaults.reviews (line 4): written twice"]),
    ("version: 2\n", ["version (line 1): this Parcours reads version 1"]),
    ("defaults: {}\n", ["version (line 1): Missing data for required field."]),
    ("version: 1\nwidgets: {}\n", ["widgets (line 2): Unknown field."]),
    ("version: 1\ntags:\n  Bad Tag:\n    reviews: {}\n", ["tags.Bad Tag (line 3): a tag"]),
    ("version: 1\nstores: [a, b]\n", ["stores (line 2): Not a valid mapping type."]),
    ("version: 1\ndefaults:\n  reviews: {delay_days: 2\n", ["is not valid YAML", "line 4"]),
    ("- just\n- a list\n", ["(file) (line 1): a mapping with `version: 1`"]),
])
def test_problems_name_file_line_and_key(tmp_path: Path, text: str, problems: list[str]
                                         ) -> None:
    message = _load(tmp_path, text)
    for problem in problems:
        assert problem in message, message


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(ValidationError, match=r"cannot read .*missing\.yaml"):
        load_config(path)


def test_deeper_levels_override_and_tags_must_agree() -> None:
    defaults, eu, fr, store = (Where(("defaults",)), Where(("tags", "eu")),
                               Where(("tags", "fr")), Where(("stores", "a")))
    merged, origin = merge([(defaults, {"reviews": {"delay_days": 7, "reminder": True}}),
                            (eu, {"reviews": {"delay_days": 9}}),
                            (store, {"reviews": {"delay_days": 3}})])
    assert merged == {"reviews": {"delay_days": 3, "reminder": True}}
    assert origin[("reviews", "delay_days")] == store
    assert origin[("reviews", "reminder")] == defaults
    with pytest.raises(ValidationError, match=r"reviews\.delay_days: tag eu and tag fr differ"):
        merge([(eu, {"reviews": {"delay_days": 9}}), (fr, {"reviews": {"delay_days": 4}})])
    same, _ = merge([(eu, {"reviews": {"delay_days": 9}}), (fr, {"reviews": {"delay_days": 9}})])
    assert same == {"reviews": {"delay_days": 9}}
