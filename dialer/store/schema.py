"""The run log's tables, its schema version and the forward migrations between versions."""

from __future__ import annotations

import duckdb

SCHEMA_VERSION = 1

# Each entry upgrades the file from version N-1 to N; applied in order, never edited once shipped.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS runs (
            run_id VARCHAR PRIMARY KEY,
            campaign VARCHAR NOT NULL,
            campaign_path VARCHAR,
            revision VARCHAR,
            git_commit VARCHAR,
            backend VARCHAR,
            status VARCHAR NOT NULL,          -- running | completed | stopped | failed | crashed
            started_at TIMESTAMPTZ NOT NULL,
            ended_at TIMESTAMPTZ,
            pid INTEGER,
            host VARCHAR,
            options JSON
        )""",
        """CREATE TABLE IF NOT EXISTS attempts (
            attempt_id VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            campaign VARCHAR NOT NULL,
            lead_key VARCHAR NOT NULL,
            lead_row INTEGER,
            phone VARCHAR NOT NULL,           -- E.164
            lead_timezone VARCHAR,
            attempt_no INTEGER NOT NULL,
            status VARCHAR NOT NULL,          -- dialing, then completed | no_answer |
            -- busy | voicemail | failed | invalid_number | unknown | canceled
            disposition VARCHAR,
            variant VARCHAR,
            revision VARCHAR,
            git_commit VARCHAR,
            scheduled_at TIMESTAMPTZ,
            dialed_at TIMESTAMPTZ,
            answered_at TIMESTAMPTZ,
            ended_at TIMESTAMPTZ,
            duration_s DOUBLE,
            sip_status INTEGER,
            callback_at TIMESTAMPTZ,
            error VARCHAR
        )""",
        """CREATE TABLE IF NOT EXISTS events (
            occurred_at TIMESTAMPTZ NOT NULL,
            run_id VARCHAR,
            attempt_id VARCHAR,
            kind VARCHAR NOT NULL,
            data JSON
        )""",
        """CREATE TABLE IF NOT EXISTS transcripts (
            attempt_id VARCHAR NOT NULL,
            seq INTEGER NOT NULL,
            spoken_at TIMESTAMPTZ,
            role VARCHAR NOT NULL,            -- agent | user | tool
            text VARCHAR NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS dnc (
            phone VARCHAR PRIMARY KEY,        -- E.164
            added_at TIMESTAMPTZ NOT NULL,
            source VARCHAR,                   -- cli | import | opt_out | api
            reason VARCHAR,
            campaign VARCHAR,
            attempt_id VARCHAR
        )""",
    ],
}


def migrate(con: duckdb.DuckDBPyConnection, schema: str | None = None) -> int:
    """Bring the run log (optionally an attached one named `schema`) to SCHEMA_VERSION."""
    prefix = f"{schema}." if schema else ""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {prefix}schema_version "
        "(version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    current = con.execute(
        f"SELECT coalesce(max(version), 0) FROM {prefix}schema_version"
    ).fetchone()[0]
    if current > SCHEMA_VERSION:
        from dialer.errors import DialerError

        raise DialerError(
            f"run log schema version {current} is newer than this dialer ({SCHEMA_VERSION})",
            hint="upgrade dialer",
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        con.execute("BEGIN")
        for statement in MIGRATIONS[version]:
            if prefix:
                statement = statement.replace("EXISTS ", f"EXISTS {prefix}", 1)
            con.execute(statement)
        con.execute(f"INSERT INTO {prefix}schema_version (version) VALUES (?)", [version])
        con.execute("COMMIT")
    return SCHEMA_VERSION
