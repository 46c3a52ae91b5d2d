"""Memory tables, as numbered migrations recorded in the ledger's DuckDB file.

They live in their own list (recorded in `memory_migrations`) so that memory can evolve
without renumbering the ledger's migrations; both sets sit in the same database file.
"""

from __future__ import annotations

import duckdb

from accord.ledger.migrations import Migrations

migration = Migrations("memory_migrations")
MIGRATIONS = migration.steps


@migration
def m001_items_embeddings(db: duckdb.DuckDBPyConnection) -> None:
    db.execute("CREATE SEQUENCE memory_item_ids START 1")
    db.execute("""
        CREATE TABLE memory_items (
            id BIGINT PRIMARY KEY DEFAULT nextval('memory_item_ids'),
            crew VARCHAR NOT NULL,
            role VARCHAR,
            kind VARCHAR NOT NULL,
            text VARCHAR NOT NULL,
            verified BOOLEAN NOT NULL,
            source VARCHAR,
            run_id VARCHAR,
            task_id VARCHAR,
            created_at TIMESTAMP NOT NULL
        )""")
    db.execute("""
        CREATE TABLE memory_embeddings (
            item_id BIGINT NOT NULL,
            embedder VARCHAR NOT NULL,
            dim INTEGER NOT NULL,
            embedding FLOAT[] NOT NULL,
            PRIMARY KEY (item_id, embedder)
        )""")


@migration
def m002_triples(db: duckdb.DuckDBPyConnection) -> None:
    db.execute("CREATE SEQUENCE memory_triple_ids START 1")
    db.execute("""
        CREATE TABLE memory_triples (
            id BIGINT PRIMARY KEY DEFAULT nextval('memory_triple_ids'),
            crew VARCHAR NOT NULL,
            subject VARCHAR NOT NULL,
            relation VARCHAR NOT NULL,
            object VARCHAR NOT NULL,
            item_id BIGINT,
            run_id VARCHAR,
            task_id VARCHAR,
            created_at TIMESTAMP NOT NULL
        )""")


@migration
def m003_context_log(db: duckdb.DuckDBPyConnection) -> None:
    db.execute("""
        CREATE TABLE memory_context (
            run_id VARCHAR NOT NULL,
            task_id VARCHAR NOT NULL,
            ref VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            tokens INTEGER NOT NULL,
            score DOUBLE NOT NULL,
            budget INTEGER NOT NULL,
            recorded_at TIMESTAMP NOT NULL
        )""")


def vector_table(dim: int) -> str:
    """The table holding `dim`-sized vectors."""
    return f"memory_vectors_{int(dim)}"


def ensure_vector_table(db: duckdb.DuckDBPyConnection, dim: int) -> str:
    """Create the FLOAT[dim] vector table if needed; return its name.

    One table per vector size, because `array_cosine_similarity` wants FLOAT[n] columns and
    casting a FLOAT[] list per row costs ~3x the search time.
    """
    name = vector_table(dim)
    db.execute(f"""CREATE TABLE IF NOT EXISTS {name} (
                     item_id BIGINT NOT NULL,
                     embedder VARCHAR NOT NULL,
                     embedding FLOAT[{int(dim)}] NOT NULL,
                     PRIMARY KEY (item_id, embedder))""")
    return name


def vector_tables(db: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the vector tables present."""
    rows = db.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_name LIKE 'memory\\_vectors\\_%' ESCAPE '\\' ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


@migration
def m004_fixed_size_vectors(db: duckdb.DuckDBPyConnection) -> None:
    for (dim,) in db.execute("SELECT DISTINCT dim FROM memory_embeddings").fetchall():
        name = ensure_vector_table(db, dim)
        db.execute(
            f"INSERT INTO {name} SELECT item_id, embedder, embedding::FLOAT[{int(dim)}] "
            "FROM memory_embeddings WHERE dim = ?",
            [dim],
        )
    db.execute("DROP TABLE memory_embeddings")


def migrate(db: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the memory migrations not yet recorded in `db`; return the names applied."""
    return migration.apply(db)
