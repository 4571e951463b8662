"""Encryption at rest of personal data (issue 17, finding 14).

PIPL Art. 51 (3) asks for "encryption, de-identification and other security
technical measures" for personal information; resident IDs are sensitive
personal information (Art. 28). What is encrypted: subjects' identifiers
(resident IDs, and USCCs with them: one field type is simpler than two),
phone numbers (subjects, users, outbound SMS and email addresses), letters'
frozen facts (addressee's identifier, name, address, phone) and the search
term a stored search keeps in the session.

- AES-256-GCM (an AEAD of `cryptography`): a fresh 96-bit nonce per value, the
  column's name as associated data, so a ciphertext copied into another
  column fails to decrypt instead of being read as that column's value.
- A key ring, FIELD_ENCRYPTION_KEYS: base64 keys of 32 bytes, comma-separated,
  the first one current. Every value carries the id of its key
  (`enc1:<key id>:<base64 nonce+ciphertext>`), so older keys still read until
  `rotate_keys` has re-encrypted everything under the current one.
- Lookups by a keyed blind index: HMAC-SHA256 under FIELD_BLIND_INDEX_KEYS
  (a separate ring, the first current) of the normalised value. A lookup
  matches the index under every key of the ring, so a changed index key
  keeps finding rows until `rotate_keys` has rewritten their index.

What it does not do: names stay in clear (a person's name must be searchable
by part, which neither an encrypted value nor an exact-match index allows);
the empty string is stored as it is (a missing phone is not a secret); the
key is in the application's memory, so it defeats a stolen dump or backup,
not a compromised application server.
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import models, transaction
from django.db.models.lookups import Exact

PREFIX = "enc1"
# Stored as they are: an empty text, an empty JSON object (nothing to hide).
EMPTY_JSON = "{}"
CLEAR_VALUES = (None, "", EMPTY_JSON)
KEY_BYTES = 32
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A stored value that cannot be read: its key is not in the ring, or it
    does not authenticate (a wrong key, or an altered value)."""


def new_key_text() -> str:
    """A fresh key as the settings want it (`manage.py rotate_keys --new-key`)."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


def key_id(key: bytes) -> str:
    """A short public name of a key: it tells which key sealed a value, and
    says nothing of the key."""
    return hashlib.sha256(b"repair_flow field key id\0" + key).hexdigest()[:8]


class KeyRing:
    """The keys of the current settings, with their ids and ciphers made once."""

    def __init__(self, *, keys: tuple[bytes, ...], index_keys: tuple[bytes, ...]):
        self.keys, self.index_keys = keys, index_keys
        self.current_id = key_id(keys[0])
        self.ciphers = {key_id(key): AESGCM(key) for key in reversed(keys)}

    def cipher(self, kid: str) -> AESGCM | None:
        return self.ciphers.get(kid)


_ring_cache: dict[tuple, KeyRing] = {}


def keyring() -> KeyRing:
    """The ring of the current settings (tests override them)."""
    keys = tuple(settings.FIELD_ENCRYPTION_KEYS)
    index_keys = tuple(settings.FIELD_BLIND_INDEX_KEYS)
    if not keys or not index_keys:
        # Production without keys is refused by the system check
        # repair_flow.E005; this stops a management command that skips checks.
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS and FIELD_BLIND_INDEX_KEYS must be set")
    cache_key = (keys, index_keys)
    ring = _ring_cache.get(cache_key)
    if ring is None:
        _ring_cache.clear()
        ring = _ring_cache[cache_key] = KeyRing(keys=keys, index_keys=index_keys)
    return ring


def is_encrypted(stored: str | None) -> bool:
    return isinstance(stored, str) and stored.startswith(PREFIX + ":")


def stored_key_id(stored: str) -> str:
    return stored.split(":", 2)[1]


def encrypt(plain: str, *, context: str) -> str:
    """The stored form of `plain`, sealed under the current key. `context`
    names where it is kept (a column); decrypting elsewhere fails."""
    ring = keyring()
    nonce = os.urandom(NONCE_BYTES)
    sealed = ring.ciphers[ring.current_id].encrypt(nonce, plain.encode(), context.encode())
    return f"{PREFIX}:{ring.current_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(stored: str, *, context: str) -> str:
    if not is_encrypted(stored):
        raise DecryptionError(f"{context}: the stored value is not encrypted")
    try:
        _prefix, kid, body = stored.split(":", 2)
        raw = base64.urlsafe_b64decode(body)
    except (ValueError, binascii.Error):
        raise DecryptionError(f"{context}: the stored value is malformed") from None
    cipher = keyring().cipher(kid)
    if cipher is None:
        raise DecryptionError(
            f"{context}: encrypted under key {kid}, which is not in FIELD_ENCRYPTION_KEYS"
        )
    try:
        plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
    except InvalidTag:
        raise DecryptionError(
            f"{context}: the value does not authenticate under key {kid} (a wrong key, "
            "or the value was altered)"
        ) from None
    return plain.decode()


def normalised_identifier(value: str) -> str:
    """Identifiers compare without surrounding blanks and case (GB 11643's X,
    GB 32100's letters)."""
    return value.strip().upper()


def blind_index(value: str, *, key: bytes | None = None) -> str:
    """The index of a normalised identifier under the current (or the given) key."""
    key = keyring().index_keys[0] if key is None else key
    return hmac.new(key, normalised_identifier(value).encode(), hashlib.sha256).hexdigest()


def blind_indexes(value: str) -> list[str]:
    """The index of `value` under every key of the ring: what a lookup matches."""
    return [blind_index(value, key=key) for key in keyring().index_keys]


class EncryptedExact(Exact):
    """Only the empty string can be matched: equal values encrypt differently."""

    def get_prep_lookup(self):
        if isinstance(self.rhs, str) and self.rhs != "":
            raise FieldError(
                f"{self.lhs.target.model.__name__}.{self.lhs.target.name} is encrypted: "
                "look it up by its blind index"
            )
        return super().get_prep_lookup()


class EncryptedMixin:
    """Encrypts on the way to the database, decrypts on the way back."""

    def context(self) -> str:
        return f"{self.model._meta.label_lower}.{self.name}"

    def get_lookup(self, lookup_name):
        if lookup_name not in ("exact", "isnull"):
            raise FieldError(
                f"{self.model.__name__}.{self.name} is encrypted: {lookup_name!r} cannot search it"
            )
        return super().get_lookup(lookup_name)


class EncryptedTextField(EncryptedMixin, models.TextField):
    """A text value stored encrypted; "" stays "" (so `blank` and `=""` work).
    `max_length` bounds the clear value in forms; the column is text."""

    def formfield(self, **kwargs):
        # A one-line input, as the CharField it replaces had (not a textarea).
        return models.Field.formfield(self, **{"max_length": self.max_length, **kwargs})

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value, context=self.context())

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "" or is_encrypted(value):
            return value
        return encrypt(value, context=self.context())


EncryptedTextField.register_lookup(EncryptedExact)


class EncryptedJSONExact(Exact):
    """Only the empty object can be matched (an anonymised letter's facts)."""

    def get_prep_lookup(self):
        if self.rhs != {}:
            raise FieldError(
                f"{self.lhs.target.model.__name__}.{self.lhs.target.name} is encrypted: "
                "only {} can be matched"
            )
        return super().get_prep_lookup()


class EncryptedJSONField(EncryptedMixin, models.TextField):
    """A JSON value (a letter's facts) stored as one encrypted text. The empty
    object is stored as it is ("{}"): it holds nothing, and an anonymised
    row is found by it (retention)."""

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        if value == EMPTY_JSON:
            return {}
        return json.loads(decrypt(value, context=self.context()))

    def get_prep_value(self, value):
        if value is None or is_encrypted(value):
            return value
        if value == {}:
            return EMPTY_JSON
        return encrypt(
            json.dumps(value, ensure_ascii=False, sort_keys=True), context=self.context()
        )

    def to_python(self, value):
        return value

    def value_to_string(self, obj):
        return json.dumps(self.value_from_object(obj), ensure_ascii=False)


EncryptedJSONField.register_lookup(EncryptedJSONExact)


class BlindIndexField(models.CharField):
    """The keyed index of another field's (clear) value, kept in step with it
    when the row is saved or bulk-created, as `auto_now` keeps a time: a
    storage detail of the row, not a business rule. A write that changes the
    source with `update()` or `save(update_fields=...)` must name this field too.
    """

    def __init__(self, *args, source: str, **kwargs):
        self.source = source
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs.pop("max_length", None)
        kwargs.pop("editable", None)
        return name, "repair_flow.encryption.BlindIndexField", args, kwargs

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.source)
        index = blind_index(value) if value else None
        setattr(model_instance, self.attname, index)
        return index


@dataclass(frozen=True)
class EncryptedTable:
    """A table's encrypted columns ({column: context}) and blind indexes
    ({index column: the encrypted column it indexes})."""

    table: str
    pk: str
    columns: dict[str, str]
    indexes: dict[str, str]


def encrypted_tables() -> list[EncryptedTable]:
    """Every table with an encrypted field, from the installed models."""
    tables = []
    for model in apps.get_models():
        columns = {
            field.column: field.context()
            for field in model._meta.concrete_fields
            if isinstance(field, EncryptedMixin)
        }
        if not columns:
            continue
        indexes = {
            field.column: model._meta.get_field(field.source).column
            for field in model._meta.concrete_fields
            if isinstance(field, BlindIndexField)
        }
        tables.append(EncryptedTable(model._meta.db_table, model._meta.pk.column, columns, indexes))
    return tables


def reseal(stored: str | None, *, context: str) -> str | None:
    """`stored` as it should be under the current key: a clear value (from
    before encryption) sealed, an older key's value re-sealed; None when it is
    already right (or empty)."""
    if stored in CLEAR_VALUES:
        return None
    if not is_encrypted(stored):
        return encrypt(stored, context=context)
    if stored_key_id(stored) == keyring().current_id:
        return None
    return encrypt(decrypt(stored, context=context), context=context)


def row_writes(spec: EncryptedTable, values: dict) -> dict:
    """The columns of one row (values as stored) to rewrite, and their new values."""
    writes = {}
    for column, context in spec.columns.items():
        new = reseal(values[column], context=context)
        if new is not None:
            writes[column] = new
    for index_column, source in spec.indexes.items():
        stored = values[source]
        clear = decrypt(stored, context=spec.columns[source]) if is_encrypted(stored) else stored
        index = blind_index(clear) if clear else None
        if index != values[index_column]:
            writes[index_column] = index
    return writes


def reseal_table(
    *, connection, spec: EncryptedTable, batch_size: int = 500
) -> Iterator[tuple[int, int, object]]:
    """Brings every row of a table under the current keys, a batch at a time,
    each batch in its own transaction: yields (rows read, rows changed, last
    pk) per batch. Idempotent (a row already right is left alone), so a run
    stopped half-way is resumed by running it again. Each row is written only
    if its stored values are still those read (a conditional UPDATE), so a
    concurrent edit is never overwritten with stale data.

    Raw SQL, not the ORM: the ORM would decrypt (and refuse clear values from
    before encryption); the names are the models' own, quoted."""
    quote = connection.ops.quote_name
    names = [spec.pk, *spec.columns, *spec.indexes]
    columns = ", ".join(quote(n) for n in names)
    table, pk = quote(spec.table), quote(spec.pk)
    last = None
    while True:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            after = "" if last is None else f"WHERE {pk} > %s "
            cursor.execute(
                f"SELECT {columns} FROM {table} {after}ORDER BY {pk} LIMIT %s",  # noqa: S608
                [batch_size] if last is None else [last, batch_size],
            )
            rows = cursor.fetchall()
            changed = 0
            for row in rows:
                values = dict(zip(names, row, strict=True))
                writes = row_writes(spec, values)
                if not writes:
                    continue
                sets = ", ".join(f"{quote(c)} = %s" for c in writes)
                guard = " AND ".join(
                    f"{quote(c)} IS NULL" if values[c] is None else f"{quote(c)} = %s"
                    for c in writes
                )
                cursor.execute(
                    f"UPDATE {table} SET {sets} WHERE {pk} = %s AND {guard}",  # noqa: S608
                    [
                        *writes.values(),
                        values[spec.pk],
                        *(values[c] for c in writes if values[c] is not None),
                    ],
                )
                changed += cursor.rowcount
        if not rows:
            return
        last = rows[-1][0]
        yield len(rows), changed, last
