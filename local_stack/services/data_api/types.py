"""Values between the Data API's wire format and MySQL, as the Data API maps them.

Parameters (`SqlParameter`): a `Field` union (`stringValue`, `longValue`, `doubleValue`,
`booleanValue`, `blobValue`, `isNull`) and an optional `typeHint` that says how to send a
string: TIMESTAMP (`YYYY-MM-DD HH:MM:SS[.FFF]`), DATE (`YYYY-MM-DD`), TIME (`HH:MM:SS[.FFF]`),
DECIMAL, JSON, UUID (RDS Data API Reference, SqlParameter). Array parameters are refused,
as the service refuses them.

Results (`records`, RDS Data API Reference, Field; and the JSON format of
`formatRecordsAs`, Aurora User Guide, "Processing Amazon RDS Data API query results in JSON
format"): integers as `longValue` (or strings with `longReturnType: STRING`), floating point
as `doubleValue`, DECIMAL as `stringValue` unless `decimalReturnType: DOUBLE_OR_LONG`, dates
and times as strings, BIT(1) as `booleanValue`, binary strings as `blobValue` (base64 in
JSON), NULL as `isNull`. `columnMetadata` carries the JDBC type number and MySQL's type name.

Named parameters (`:name`) become pymysql placeholders outside quoted text and comments,
and pymysql escapes each value (client-side substitution). The statement text itself is
never rewritten otherwise.
"""

import base64
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from pymysql.constants import FIELD_TYPE, FLAG

from local_stack.services.data_api.errors import DataApiError

BINARY_CHARSET = 63  # MySQL's `binary` character set: a byte string, not text

_INTEGERS = {
    FIELD_TYPE.TINY,
    FIELD_TYPE.SHORT,
    FIELD_TYPE.LONG,
    FIELD_TYPE.LONGLONG,
    FIELD_TYPE.INT24,
    FIELD_TYPE.YEAR,
}
_DECIMALS = {FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL}
_FLOATS = {FIELD_TYPE.FLOAT, FIELD_TYPE.DOUBLE}
_TIMESTAMPS = {FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP}
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1

# MySQL type code -> (java.sql.Types number, type name), for columnMetadata.
_JDBC: dict[int, tuple[int, str]] = {
    FIELD_TYPE.TINY: (-6, "TINYINT"),
    FIELD_TYPE.SHORT: (5, "SMALLINT"),
    FIELD_TYPE.INT24: (4, "MEDIUMINT"),
    FIELD_TYPE.LONG: (4, "INT"),
    FIELD_TYPE.LONGLONG: (-5, "BIGINT"),
    FIELD_TYPE.YEAR: (91, "YEAR"),
    FIELD_TYPE.DECIMAL: (3, "DECIMAL"),
    FIELD_TYPE.NEWDECIMAL: (3, "DECIMAL"),
    FIELD_TYPE.FLOAT: (7, "FLOAT"),
    FIELD_TYPE.DOUBLE: (8, "DOUBLE"),
    FIELD_TYPE.DATE: (91, "DATE"),
    FIELD_TYPE.TIME: (92, "TIME"),
    FIELD_TYPE.DATETIME: (93, "DATETIME"),
    FIELD_TYPE.TIMESTAMP: (93, "TIMESTAMP"),
    FIELD_TYPE.BIT: (-7, "BIT"),
    FIELD_TYPE.JSON: (-1, "JSON"),
    FIELD_TYPE.ENUM: (1, "ENUM"),
    FIELD_TYPE.SET: (1, "SET"),
    FIELD_TYPE.NULL: (0, "NULL"),
}
_TEXT_JDBC = {
    FIELD_TYPE.VAR_STRING: (12, "VARCHAR"),
    FIELD_TYPE.VARCHAR: (12, "VARCHAR"),
    FIELD_TYPE.STRING: (1, "CHAR"),
    FIELD_TYPE.TINY_BLOB: (-1, "TINYTEXT"),
    FIELD_TYPE.BLOB: (-1, "TEXT"),
    FIELD_TYPE.MEDIUM_BLOB: (-1, "MEDIUMTEXT"),
    FIELD_TYPE.LONG_BLOB: (-1, "LONGTEXT"),
}
_BINARY_JDBC = {
    FIELD_TYPE.VAR_STRING: (-3, "VARBINARY"),
    FIELD_TYPE.VARCHAR: (-3, "VARBINARY"),
    FIELD_TYPE.STRING: (-2, "BINARY"),
    FIELD_TYPE.TINY_BLOB: (-4, "TINYBLOB"),
    FIELD_TYPE.BLOB: (-4, "BLOB"),
    FIELD_TYPE.MEDIUM_BLOB: (-4, "MEDIUMBLOB"),
    FIELD_TYPE.LONG_BLOB: (-4, "LONGBLOB"),
}


def bad_request(message: str) -> DataApiError:
    return DataApiError("BadRequestException", message)


# -- parameters -----------------------------------------------------------------------------

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,3})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}:\d{2}(\.\d{1,3})?$")


def _hinted(text: str, hint: str, name: str) -> Any:
    formats = {"TIMESTAMP": _TIMESTAMP, "DATE": _DATE, "TIME": _TIME}
    pattern = formats.get(hint)
    if pattern is not None and not pattern.match(text):
        raise bad_request(f"Invalid {hint} value {text!r} for parameter {name}")
    if hint == "TIMESTAMP":
        return datetime.fromisoformat(text)
    if hint == "DATE":
        return date.fromisoformat(text)
    if hint == "TIME":
        return time.fromisoformat(text)
    if hint == "DECIMAL":
        try:
            return Decimal(text)
        except ArithmeticError:
            raise bad_request(f"Invalid DECIMAL value {text!r} for parameter {name}") from None
    return text  # JSON, UUID: sent as text, MySQL converts


def parameter_value(parameter: Mapping[str, Any]) -> Any:
    """The Python value pymysql binds for one `SqlParameter`."""
    name = str(parameter.get("name", ""))
    value = parameter.get("value")
    if not isinstance(value, Mapping) or len(value) != 1:
        raise bad_request(f"Parameter {name} must have exactly one value")
    ((kind, raw),) = value.items()
    hint = parameter.get("typeHint")
    if kind == "isNull":
        return None
    if kind == "stringValue":
        return _hinted(str(raw), str(hint), name) if hint else str(raw)
    if kind == "longValue":
        return int(raw)
    if kind == "doubleValue":
        return float(raw)
    if kind == "booleanValue":
        return bool(raw)
    if kind == "blobValue":
        return base64.b64decode(raw)
    if kind == "arrayValue":
        raise bad_request("Array parameters are not supported")
    raise bad_request(f"Parameter {name} has an unknown value type {kind}")


def bind(sql: str, parameters: Sequence[Mapping[str, Any]]) -> tuple[str, dict[str, Any]]:
    """`sql` with each `:name` outside quotes and comments as pymysql's `%(name)s` (and `%`
    doubled), and the values to bind. A placeholder without a parameter is refused."""
    values = {str(p.get("name", "")): parameter_value(p) for p in parameters}
    out: list[str] = []
    index, length = 0, len(sql)
    while index < length:
        char = sql[index]
        if char in "'\"`":
            end = index + 1
            while end < length and sql[end] != char:
                end += 2 if sql[end] == "\\" else 1
            out.append(sql[index : end + 1].replace("%", "%%"))
            index = end + 1
        elif sql.startswith("--", index) or char == "#":
            end = sql.find("\n", index)
            end = length if end < 0 else end
            out.append(sql[index:end].replace("%", "%%"))
            index = end
        elif sql.startswith("/*", index):
            end = sql.find("*/", index + 2)
            end = length if end < 0 else end + 2
            out.append(sql[index:end].replace("%", "%%"))
            index = end
        elif (
            char == ":"
            and index + 1 < length
            and (sql[index + 1].isalpha() or sql[index + 1] == "_")
        ):
            end = index + 1
            while end < length and (sql[end].isalnum() or sql[end] == "_"):
                end += 1
            name = sql[index + 1 : end]
            if name not in values:
                raise bad_request(f"No value specified for parameter: {name}")
            out.append(f"%({name})s")
            index = end
        else:
            out.append("%%" if char == "%" else char)
            index += 1
    return "".join(out), values


# -- results --------------------------------------------------------------------------------


def _time_text(value: Any, scale: int) -> str:
    if isinstance(value, timedelta):  # pymysql's TIME
        seconds = int(value.total_seconds())
        sign = "-" if seconds < 0 else ""
        hours, rest = divmod(abs(seconds), 3600)
        text = f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
        micro = value.microseconds
    elif isinstance(value, datetime):
        text, micro = value.strftime("%Y-%m-%d %H:%M:%S"), value.microsecond
    elif isinstance(value, date):
        return value.isoformat()
    else:
        return str(value)  # a zero date MySQL could not convert
    return text + (f".{micro:06d}"[: scale + 1] if scale > 0 else "")


def field_value(  # noqa: PLR0911 - one return per kind of column
    value: Any, column: Any, options: Mapping[str, Any]
) -> dict[str, Any]:
    """One column value as a Data API `Field` (before JSON encoding of blobs)."""
    if value is None:
        return {"isNull": True}
    kind = column.type_code
    if kind == FIELD_TYPE.BIT:
        if column.length == 1:
            return {"booleanValue": value != b"\x00"}
        return {"blobValue": value}
    if kind in _INTEGERS:
        if options.get("longReturnType") == "STRING" or not _LONG_MIN <= value <= _LONG_MAX:
            return {"stringValue": str(value)}
        return {"longValue": int(value)}
    if kind in _DECIMALS:
        if options.get("decimalReturnType") == "DOUBLE_OR_LONG":
            return {"longValue": int(value)} if column.scale == 0 else {"doubleValue": float(value)}
        return {"stringValue": str(value)}
    if kind in _FLOATS:
        return {"doubleValue": float(value)}
    if kind in _TIMESTAMPS or kind in (FIELD_TYPE.DATE, FIELD_TYPE.TIME):
        return {"stringValue": _time_text(value, column.scale)}
    if isinstance(value, bytes):
        return {"blobValue": value}
    return {"stringValue": str(value)}


def wire_field(field: Mapping[str, Any]) -> dict[str, Any]:
    """A `Field` as JSON carries it: blobs base64."""
    if "blobValue" in field:
        return {"blobValue": base64.b64encode(field["blobValue"]).decode()}
    return dict(field)


def json_value(field: Mapping[str, Any]) -> Any:
    """A `Field` in the JSON format of `formatRecordsAs=JSON`."""
    ((kind, value),) = field.items()
    if kind == "isNull":
        return None
    if kind == "blobValue":
        return base64.b64encode(value).decode()
    return value


def column_metadata(column: Any) -> dict[str, Any]:
    """`ColumnMetadata` of one pymysql field descriptor."""
    binary = column.charsetnr == BINARY_CHARSET
    table = _BINARY_JDBC if binary else _TEXT_JDBC
    jdbc, type_name = table.get(column.type_code) or _JDBC.get(column.type_code, (1111, "OTHER"))
    numeric = column.type_code in _INTEGERS | _DECIMALS | _FLOATS
    return {
        "name": column.org_name or column.name,
        "type": jdbc,
        "typeName": type_name,
        "label": column.name,
        "schemaName": "",
        "tableName": column.org_table or column.table_name or "",
        "isAutoIncrement": bool(column.flags & FLAG.AUTO_INCREMENT),
        "isSigned": numeric and not column.flags & FLAG.UNSIGNED,
        "isCurrency": False,
        "isCaseSensitive": not numeric and (binary or column.charsetnr in _BINARY_COLLATIONS),
        "nullable": 0 if column.flags & FLAG.NOT_NULL else 1,
        "precision": int(column.length),
        "scale": int(column.scale),
        "arrayBaseColumnType": 0,
    }


# utf8mb4_bin and ascii_bin, the collations of this project's text columns: compared
# byte for byte, so case-sensitive.
_BINARY_COLLATIONS = frozenset({46, 65})
