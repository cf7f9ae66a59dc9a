"""The migrations build exactly the schema the models describe, and go down and up again cleanly."""

from concurrent.futures import ThreadPoolExecutor

from alembic import command

from conftest import PG_URL, _pg_create, _pg_drop
from tonle.migrate import alembic_config, upgrade


def _in_thread(fn, *args):
    with ThreadPoolExecutor(1) as pool:  # Alembic runs its own event loop
        return pool.submit(fn, *args).result()


def test_migrations_match_the_models_and_round_trip(backend, tmp_path):
    if backend.name == "postgres":
        url = backend.loop.run(_pg_create(PG_URL))
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
    try:
        cfg = alembic_config(url)
        _in_thread(upgrade, url)
        _in_thread(command.check, cfg)  # raises when the models and the migrated schema differ
        _in_thread(command.downgrade, cfg, "base")
        _in_thread(upgrade, url)
        _in_thread(command.check, cfg)
    finally:
        if backend.name == "postgres":
            backend.loop.run(_pg_drop(url))
