"""A typed JSON form of asset values: exact money, ISO dates, named types, nothing executable.

Why not pickle: a pickle names the module path of every class and runs code when loaded, so
moving a class breaks every stored value in ways that surface as ``AttributeError`` deep in a
run, and anyone who can write the storage directory can run code in the connector. This codec
writes plain JSON that a person can read once decrypted, and reads back only the types it was
built with (an allowlist reached from a few root types through their annotations).

Encoding (``CODEC_VERSION`` 1)::

    None, bool, int, float, str -> themselves
    list                        -> a JSON array
    dict with str keys, no "$t" -> a JSON object
    anything else               -> {"$t": <tag>, ...}
        {"$t": "decimal", "value": "1234.50"}      str(Decimal): exponent kept, to the cent
        {"$t": "date" | "datetime", "value": ISO 8601}
        {"$t": "tuple" | "set" | "frozenset", "items": [...]}
        {"$t": "dict", "items": [[key, value], ...]}   other keys (tuples, ints...)
        {"$t": "enum", "type": "LineRole", "value": "earning"}
        {"$t": "object", "type": "PeriodSnapshot", "fields": {...}}          a dataclass
        {"$t": "model", "type": "PayrollRun", "fields": {...}, "extra": {...},
         "set": [...]}                                                        a pydantic model

A value that does not decode with today's classes (a field renamed or removed) raises
``CodecError`` naming the type and field: the asset is re-materialized, never half-read.
"""

import dataclasses
import datetime as dt
import enum
import json
import typing
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from ml_connector_dagster.bulk import collector_paused

CODEC_VERSION = 1
TAG = "$t"

_SCALARS = (str, int, float, bool, type(None))
_PLAIN = frozenset(_SCALARS)  # exact types written and read as themselves


class CodecError(ValueError):
    """A value cannot be written in, or read back from, the typed form."""


def _annotation_types(annotation: Any) -> Iterable[type]:
    """Every class mentioned in an annotation (``list[X] | None`` -> list, X, NoneType)."""
    origin = typing.get_origin(annotation)
    if origin is not None:
        if isinstance(origin, type):
            yield origin
        for argument in typing.get_args(annotation):
            yield from _annotation_types(argument)
    elif isinstance(annotation, type):
        yield annotation


def _field_annotations(cls: type) -> list[Any]:
    """The annotations of a dataclass's or model's fields, resolved (strings included)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception as exc:  # a NameError or TypeError in someone's annotation
        raise CodecError(
            f"cannot read the field types of {cls.__qualname__} ({exc}); the storage codec"
            " needs them to know which types a stored value may contain"
        ) from None
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return [hints.get(name, info.annotation) for name, info in cls.model_fields.items()]
    return [hints[f.name] for f in dataclasses.fields(cls) if f.name in hints]


def _discover(roots: Iterable[type]) -> dict[str, type]:
    """The dataclasses, pydantic models and enums reachable from ``roots``, by class name."""
    found: dict[str, type] = {}
    pending = list(roots)
    while pending:
        cls = pending.pop()
        is_struct = dataclasses.is_dataclass(cls) or issubclass(cls, BaseModel)
        if not (is_struct or issubclass(cls, enum.Enum)):
            continue
        other = found.get(cls.__qualname__)
        if other is cls:
            continue
        if other is not None:
            raise CodecError(
                f"two stored types are both named {cls.__qualname__}"
                f" ({other.__module__} and {cls.__module__}); stored values name types by"
                " class name, so one of them needs another name"
            )
        found[cls.__qualname__] = cls
        if is_struct:
            for annotation in _field_annotations(cls):
                pending.extend(_annotation_types(annotation))
    return found


class Codec:
    """Encodes any value built from ``roots`` (and plain data); decodes only those types.

    The allowlist is computed once from the roots' field annotations, so a new field of a new
    dataclass type is picked up without a registry to keep in step; a value of a type outside
    it (an ``Any`` field holding a new class) is refused when written, naming the type.
    """

    def __init__(self, roots: Iterable[type]) -> None:
        self.types = _discover(roots)
        # Per dataclass: the names of its init fields, learned the first time one is written or
        # read (``dataclasses.fields`` per value was a third of the codec's time at 50,000
        # workers, issue 12). Filled only for types of the allowlist.
        self._fields: dict[type, tuple[str, ...]] = {}

    def _init_fields(self, cls: type) -> tuple[str, ...]:
        names = self._fields.get(cls)
        if names is None:
            names = tuple(f.name for f in dataclasses.fields(cls) if f.init)
            self._fields[cls] = names
        return names

    # --- writing ---------------------------------------------------------------------------
    def dumps(self, value: Any) -> bytes:
        """The value as compact UTF-8 JSON of this codec's version."""
        with collector_paused():  # a large value is many objects, none in a cycle (bulk.py)
            body = {"codec": CODEC_VERSION, "value": self.encode(value)}
            return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def _known(self, value: Any) -> str:
        name = type(value).__qualname__
        if self.types.get(name) is not type(value):
            raise CodecError(
                f"cannot store a value of type {type(value).__module__}.{name}: it is not"
                " reachable from the stored types' annotations (add it to the roots in"
                " defs/io_manager.py, or annotate the field that holds it)"
            )
        return name

    def encode(self, value: Any) -> Any:
        kind = type(value)
        # Fast paths for what stored values are mostly made of (exact types only: a StrEnum is
        # a str subclass and takes the general path below, which keeps its type).
        if kind in _PLAIN:
            return value
        if kind is Decimal:
            return {TAG: "decimal", "value": str(value)}
        if kind is list:
            return [self.encode(item) for item in value]
        if kind is tuple:
            return {TAG: "tuple", "items": [self.encode(item) for item in value]}
        names = self._fields.get(kind)
        if names is not None:  # a dataclass of the allowlist, written or read before
            fields = {name: self.encode(getattr(value, name)) for name in names}
            return {TAG: "object", "type": kind.__qualname__, "fields": fields}
        if isinstance(value, bool | int | float | str) or value is None:
            if isinstance(value, enum.Enum):  # StrEnum / IntEnum: keep the type
                return {TAG: "enum", "type": self._known(value), "value": value.value}
            return value
        if isinstance(value, Decimal):
            return {TAG: "decimal", "value": str(value)}
        if isinstance(value, dt.datetime):
            return {TAG: "datetime", "value": value.isoformat()}
        if isinstance(value, dt.date):
            return {TAG: "date", "value": value.isoformat()}
        if isinstance(value, enum.Enum):
            return {TAG: "enum", "type": self._known(value), "value": self.encode(value.value)}
        if isinstance(value, list):
            return [self.encode(item) for item in value]
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return {TAG: "tuple", "items": [self.encode(item) for item in value]}
        if isinstance(value, set | frozenset):
            items = sorted((self.encode(item) for item in value), key=_sort_key)
            return {TAG: type(value).__name__, "items": items}
        if isinstance(value, Mapping):
            if all(isinstance(key, str) for key in value) and TAG not in value:
                return {key: self.encode(item) for key, item in value.items()}
            pairs = [[self.encode(key), self.encode(item)] for key, item in value.items()]
            return {TAG: "dict", "items": pairs}
        if isinstance(value, BaseModel):
            name = self._known(value)
            fields = {
                field: self.encode(getattr(value, field)) for field in type(value).model_fields
            }
            extra = {key: self.encode(item) for key, item in (value.model_extra or {}).items()}
            return {
                TAG: "model",
                "type": name,
                "fields": fields,
                "extra": extra,
                "set": sorted(value.model_fields_set),
            }
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            name = self._known(value)
            names = self._init_fields(kind)
            fields = {field: self.encode(getattr(value, field)) for field in names}
            return {TAG: "object", "type": name, "fields": fields}
        raise CodecError(
            f"cannot store a value of type {type(value).__module__}.{type(value).__qualname__}"
        )

    # --- reading ---------------------------------------------------------------------------
    def loads(self, data: bytes) -> Any:
        """The value of ``dumps`` output; ``CodecError`` for another codec version.

        The tagged objects are rebuilt by ``json.loads``'s ``object_hook``, innermost first, as
        the C parser meets them: the parser walks the arrays and scalars, and Python runs only
        for the tagged objects. (A walk in Python over the parsed tree was most of a run's CPU
        at 50,000 workers: issue 12.)
        """
        try:
            with collector_paused():  # many objects, none in a cycle (bulk.py)
                body = json.loads(data, object_hook=self._rebuild)
        except CodecError:
            version = _stored_version(data)
            if version is not None and version != CODEC_VERSION:
                raise CodecError(
                    f"codec version {version!r}; this release reads {CODEC_VERSION}"
                ) from None
            raise
        except (ValueError, TypeError, RecursionError):
            raise CodecError("not a stored value of the typed JSON form") from None
        if type(body) is not dict or "codec" not in body or "value" not in body:
            raise CodecError("not a stored value of the typed JSON form")
        if body["codec"] != CODEC_VERSION:
            raise CodecError(f"codec version {body['codec']!r}; this release reads {CODEC_VERSION}")
        return body["value"]

    def _type(self, name: Any) -> type:
        cls = self.types.get(name) if isinstance(name, str) else None
        if cls is None:
            raise CodecError(f"type {name!r} is not one this release stores")
        return cls

    def _rebuild(self, encoded: dict[str, Any]) -> Any:
        """One JSON object, its members already rebuilt: a tagged one becomes its value."""
        tag = encoded.get(TAG)
        if tag is None:
            return encoded
        try:
            return self._from_tag(tag, encoded)
        except CodecError:
            raise
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            raise CodecError(
                f"a {tag} ({encoded.get('type', '')}) does not decode: {exc}"
            ) from None

    def _from_tag(self, tag: Any, encoded: dict[str, Any]) -> Any:
        if tag == "decimal":
            return Decimal(_text(encoded["value"]))  # text only: a JSON number is a float
        if tag == "datetime":
            return dt.datetime.fromisoformat(_text(encoded["value"]))
        if tag == "date":
            return dt.date.fromisoformat(_text(encoded["value"]))
        if tag == "tuple":
            return tuple(_array(encoded["items"]))
        if tag in ("set", "frozenset"):
            items = _array(encoded["items"])
            return set(items) if tag == "set" else frozenset(items)
        if tag == "dict":
            return {_hashable(key): value for key, value in _array(encoded["items"])}
        if tag == "enum":
            return self._type(encoded["type"])(encoded["value"])
        if tag == "object":
            return self._dataclass(self._type(encoded["type"]), encoded["fields"])
        if tag == "model":
            return self._model(self._type(encoded["type"]), encoded)
        raise CodecError(f"unknown tag {tag!r}")

    def _dataclass(self, cls: type, fields: dict[str, Any]) -> Any:
        known = self._init_fields(cls)
        unknown = sorted(name for name in fields if name not in known)
        if unknown:
            raise CodecError(f"{cls.__qualname__} has no field {', '.join(unknown)} any more")
        try:
            return cls(**fields)
        except TypeError as exc:  # a required field added since the value was written
            raise CodecError(
                f"{cls.__qualname__} does not accept the stored fields: {exc}"
            ) from None

    def _model(self, cls: type, encoded: dict[str, Any]) -> Any:
        # Constructed without validation: every field is already of its declared type (that is
        # what the tags are for), and validation could coerce an exact amount or re-parse text.
        model = typing.cast(type[BaseModel], cls)
        fields = encoded["fields"]
        unknown = sorted(set(fields) - set(model.model_fields))
        if unknown:
            raise CodecError(f"{cls.__qualname__} has no field {', '.join(unknown)} any more")
        extra = encoded.get("extra", {})
        return model.model_construct(_fields_set=set(encoded.get("set", fields)), **fields, **extra)


def _text(value: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"expected text, found {type(value).__name__}")
    return value


def _array(value: Any) -> list[Any]:
    if type(value) is not list:
        raise TypeError(f"expected an array, found {type(value).__name__}")
    return value


def _stored_version(data: bytes) -> Any:
    """The codec version a stored value names, read without rebuilding it (None: unreadable)."""
    try:
        body = json.loads(data)
    except (ValueError, TypeError, RecursionError):
        return None
    return body.get("codec") if isinstance(body, dict) else None


def _hashable(key: Any) -> Any:
    """A decoded key as a dict key: JSON arrays (lists) become tuples."""
    return tuple(_hashable(item) for item in key) if isinstance(key, list) else key


def _sort_key(encoded: Any) -> str:
    return json.dumps(encoded, sort_keys=True, default=str)
