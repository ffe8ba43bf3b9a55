"""JSON as an interface: one JSON Schema per ``--json`` output, shipped with the package.

Every ``--json`` output is an object with a ``schema_version`` and validates against
``diffkit/schemas/<command>.schema.json`` (JSON Schema draft 2020-12).  Two rules hold everywhere:

* **Every documented key is always present.**  Where a key does not apply it is ``null`` (for
  example ``gradients.complex_step`` when the loss is not analytic, so there is no complex step).
* **Non-finite numbers have one encoding**, the one of Protocol Buffers' canonical JSON mapping and
  of JavaScript's own names: a finite number is a JSON number; +∞, −∞ and NaN are the strings
  ``"Infinity"``, ``"-Infinity"`` and ``"NaN"``.  ``null`` always means "not applicable", never
  NaN.  (Plain JSON has no ∞ or NaN; ``json.dumps`` would write the invalid tokens ``Infinity`` and
  ``NaN``.)  :func:`decode_number` turns a value back into a float.

>>> encode({"a": float("inf"), "b": [float("nan"), 1.5], "c": None})
{'a': 'Infinity', 'b': ['NaN', 1.5], 'c': None}
>>> decode_number("-Infinity"), decode_number(2)
(-inf, 2.0)
>>> {"compare", "derive", "train"} <= set(SCHEMAS)
True
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

#: Bumped on any change that can break a reader: a key removed or renamed, a type changed.
#: Adding a key is not such a change (readers must ignore keys they do not know).
SCHEMA_VERSION = "1.0"

HERE = Path(__file__).parent
SCHEMAS = tuple(sorted(p.name.split(".")[0] for p in HERE.glob("*.schema.json")))

NON_FINITE = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}
#: Spellings of non-finite values that older code may still hand over (normalised on output).
_LEGACY = {"inf": "Infinity", "+inf": "Infinity", "-inf": "-Infinity", "nan": "NaN", "Inf": "Infinity",
           "-Inf": "-Infinity"}


def encode_number(v: float) -> float | str:
    """A float as JSON: itself when finite, else ``"Infinity"`` / ``"-Infinity"`` / ``"NaN"``."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def decode_number(v: Any) -> float | None:
    """A number from diffkit's JSON back to a float (``None`` stays ``None``)."""
    if v is None:
        return None
    if isinstance(v, str):
        return NON_FINITE[v]
    return float(v)


def encode(x: Any) -> Any:
    """``x`` made JSON-ready: NumPy values to Python, non-finite floats encoded, tuples to lists."""
    if isinstance(x, dict):
        return {str(k): encode(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [encode(v) for v in x]
    if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):  # numpy scalars and arrays
        return encode(x.tolist())
    if isinstance(x, float):
        return encode_number(x)
    return x


@functools.lru_cache(maxsize=None)
def schema(name: str) -> dict:
    """The JSON Schema of ``diffkit <name> --json`` (a dict; do not modify it)."""
    path = HERE / f"{name}.schema.json"
    if not path.is_file():
        raise KeyError(f"no schema {name!r}; there are: {', '.join(SCHEMAS)}")
    return json.loads(path.read_text(encoding="utf-8"))


def _resolve(s: dict, root: dict) -> dict:
    while isinstance(s, dict) and "$ref" in s:
        ref = s["$ref"]
        assert ref.startswith("#/$defs/"), ref
        s = root["$defs"][ref[len("#/$defs/"):]]
    return s


def _allows(s: dict, root: dict, kind: str) -> bool:
    s = _resolve(s, root)
    t = s.get("type")
    if t == kind or (isinstance(t, list) and kind in t):
        return True
    return any(_allows(sub, root, kind) for sub in s.get("oneOf", []) + s.get("anyOf", []))


def _is_number(s: dict, root: dict) -> bool:
    return _allows(s, root, "number")


def complete(x: Any, s: dict, root: dict | None = None) -> Any:
    """``x`` with every key the schema requires and allows to be null filled in as null, and
    non-finite numbers (in any spelling) encoded, following the schema ``s``."""
    root = s if root is None else root
    s = _resolve(s, root)
    if isinstance(x, str) and x in _LEGACY and _is_number(s, root):
        return _LEGACY[x]
    if isinstance(x, float):
        return encode_number(x)
    if isinstance(x, dict):
        props = s.get("properties", {})
        out = {}
        for k, v in x.items():
            sub = props.get(k, s.get("additionalProperties"))
            out[k] = complete(v, sub, root) if isinstance(sub, dict) else encode(v)
        for k in s.get("required", []):
            if k not in out and k in props and _allows(props[k], root, "null"):
                out[k] = None
        return out
    if isinstance(x, list):
        items = s.get("items")
        return [complete(v, items, root) if isinstance(items, dict) else encode(v) for v in x]
    return encode(x)


def payload(name: str, data: dict) -> dict:
    """The ``--json`` output of command ``name``: ``data`` completed by its schema, with
    ``schema_version`` first."""
    body = complete(encode(dict(data)), schema(name))
    body.pop("schema_version", None)
    return {"schema_version": SCHEMA_VERSION, **body}


def validate(name: str, data: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``data`` follows the schema ``name`` (needs the
    ``jsonschema`` package: ``pip install jsonschema``; the tests use it)."""
    import jsonschema

    jsonschema.Draft202012Validator(schema(name)).validate(data)


def dumps(name: str, data: dict) -> str:
    """The JSON text of a ``--json`` output (sorted keys, so the same input gives the same bytes)."""
    return json.dumps(payload(name, data), indent=2, sort_keys=True, allow_nan=False)
