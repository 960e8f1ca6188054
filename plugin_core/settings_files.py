"""Settings files merchants and agencies write (JSON or TOML): read whole, or refused clearly.

What is inside is each caller's schema to check; this only turns a file into a dict, naming the
file and what is wrong with it (unreadable, not UTF-8, not JSON/TOML, not an object).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from parcours.errors import ValidationError

__all__ = ["read_settings_file"]


def read_settings_file(path: Path, what: str = "settings") -> dict[str, Any]:
    """The object in `path` (.toml is TOML, anything else JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read {path}", {"file": [str(exc)]}) from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ValidationError(f"{path} is not valid {path.suffix[1:] or 'JSON'}",
                              {"file": [str(exc)]}) from None
    if not isinstance(raw, dict):
        raise ValidationError(f"invalid {what} in {path}", {"_schema": ["an object"]})
    return raw
