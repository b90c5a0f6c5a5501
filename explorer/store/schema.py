"""The native SQLite schema as data: USER_VERSION plus MIGRATIONS applied in order."""

from __future__ import annotations

APPLICATION_ID = 0x45564558  # "EVEX": marks an SQLite file as an Event Explorer store
USER_VERSION = 1

# Version N's statements bring a store from version N-1 to N. Version 1 is the initial schema.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID""",
        # An integer key per stream: a UNIQUE index over (INTEGER, INTEGER) costs a fraction of
        # one over (TEXT, INTEGER) on append (docs/benchmarks.md).
        """CREATE TABLE streams (
            stream_key INTEGER PRIMARY KEY,
            stream_id TEXT NOT NULL UNIQUE,
            stream_type TEXT NOT NULL,
            version INTEGER NOT NULL,
            first_position INTEGER NOT NULL,
            last_position INTEGER NOT NULL
        )""",
        "CREATE INDEX streams_by_type ON streams (stream_type, stream_id)",
        # recorded_at: microseconds since the Unix epoch, UTC; non-decreasing with position.
        # data, metadata: canonical JSON (sorted keys, compact) - readable with any SQLite tool.
        """CREATE TABLE events (
            position INTEGER PRIMARY KEY,
            stream_key INTEGER NOT NULL REFERENCES streams (stream_key),
            version INTEGER NOT NULL,
            type TEXT NOT NULL,
            recorded_at INTEGER NOT NULL,
            data TEXT NOT NULL,
            metadata TEXT NOT NULL,
            event_id TEXT NOT NULL,
            chain_hash TEXT NOT NULL,
            UNIQUE (stream_key, version)
        )""",
        "CREATE INDEX events_by_time ON events (recorded_at)",
        "CREATE INDEX events_by_type ON events (type)",
        """CREATE TRIGGER events_are_immutable_update BEFORE UPDATE ON events
        BEGIN
            SELECT RAISE(ABORT, 'events are immutable: an event store does not allow UPDATE of an event');
        END""",
        """CREATE TRIGGER events_are_immutable_delete BEFORE DELETE ON events
        BEGIN
            SELECT RAISE(ABORT, 'events are immutable: an event store does not allow DELETE of an event');
        END""",
        # A readable view for people who open the file with the sqlite3 shell.
        """CREATE VIEW events_readable AS
        SELECT e.position, s.stream_id, s.stream_type, e.version, e.type,
               strftime('%Y-%m-%dT%H:%M:%fZ', e.recorded_at / 1000000.0, 'unixepoch') AS recorded_at,
               e.data, e.metadata, e.event_id, e.chain_hash
        FROM events e JOIN streams s USING (stream_key)""",
    ),
}
