"""`companion memory add|search|export|delete` and `companion bench reasoner|memory`.

JSON lines in, JSON lines out. Each user's memories are the file the cloud
itself uses (`--data-dir`: the data_dir setting, COMPANION_DATA), or the
PostgreSQL database it uses (`--store postgresql://…`: the store setting,
COMPANION_STORE), so what a command adds, the assistant remembers.
`memory migrate --to postgresql://…` copies a user's whole SQLite side across:
memories, tools' data and the app's History. A bad input line is a usage
error naming the line, and nothing from the file is written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from companion.cli_support import (
    Subcommands,
    UsageError,
    add_setting_flag,
    print_result,
    progress_printer,
    settings_of,
)
from companion.settings import flag_parser


def register(commands: Subcommands, benchmarks: Subcommands) -> None:
    memory = commands.add_parser("memory", help="add, search, export or delete a user's memories")
    actions = memory.add_subparsers(required=True, metavar="action")

    add = actions.add_parser("add", help='store JSON lines {"text", "time", "source_id", …}')
    _common(add)
    add.add_argument("--jsonl", type=Path, required=True, help="file of JSON lines, or - for stdin")
    add.set_defaults(run=_add)

    search = actions.add_parser("search", help='rank memories for JSON lines {"id", "query"}')
    _common(search)
    search.add_argument("--k", type=int, default=10, help="results per query")
    search.add_argument(
        "--jsonl", type=Path, required=True, help="file of JSON lines, or - for stdin"
    )
    search.set_defaults(run=_search)

    export = actions.add_parser("export", help="print every memory of the user as JSON lines")
    _common(export)
    export.set_defaults(run=_export)

    delete = actions.add_parser("delete", help="forget the user's memories (or one, with --id)")
    _common(delete)
    delete.add_argument("--id", dest="memory_id", help="delete only this memory")
    delete.set_defaults(run=_delete)

    migrate = actions.add_parser(
        "migrate",
        help="copy the user's memories, tools' data and History from SQLite to PostgreSQL",
    )
    migrate.add_argument("--user", required=True, help="whose memories")
    add_setting_flag(migrate, "--data-dir", "data_dir", metavar="DIR")
    migrate.add_argument(
        "--to", required=True, type=flag_parser("store"), metavar="URL", help="postgresql://…"
    )
    migrate.add_argument("--json", action="store_true")
    migrate.set_defaults(run=_migrate)

    bench = benchmarks.add_parser(
        "reasoner", help="answer accuracy on the project's question sets, with the real models"
    )
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(run=_bench_reasoner)

    bench_memory = benchmarks.add_parser("memory", help="retrieval latency and recall@10")
    bench_memory.add_argument(
        "--sizes", type=int, nargs="+", default=[1000, 10000, 100000], help="store sizes"
    )
    bench_memory.add_argument("--json", action="store_true")
    add_setting_flag(bench_memory, "--store", "store", metavar="URL")
    bench_memory.add_argument(
        "--facts",
        action="store_true",
        help="instead: the remember-then-ask set through the conversation, %% answered right",
    )
    bench_memory.set_defaults(run=_bench_memory)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", required=True, help="whose memories")
    add_setting_flag(parser, "--data-dir", "data_dir", metavar="DIR")
    add_setting_flag(parser, "--store", "store", metavar="URL")


class _LazyMiniLm:
    """MiniLM's identity at once, its weights only when a text must be embedded.

    Export and delete never embed, so they need not wait for the model to load.
    """

    def __init__(self) -> None:
        from cloud.memory.embedder import MINILM_DIMENSION, MiniLmEmbedder

        self.name = MiniLmEmbedder.name
        self.dimension = MINILM_DIMENSION
        self._model: MiniLmEmbedder | None = None

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if self._model is None:
            from cloud.memory.embedder import MiniLmEmbedder

            self._model = MiniLmEmbedder()
        return self._model.embed(texts)


def _path(args: argparse.Namespace) -> Path:
    from cloud.memory.errors import InvalidMemoryError
    from cloud.memory.user_data import user_file

    try:
        return user_file(settings_of(args).data_dir, args.user)
    except InvalidMemoryError as exc:
        raise UsageError(str(exc)) from None


@contextmanager
def _store(args: argparse.Namespace, *, create: bool) -> Iterator[Any]:
    from cloud.memory.sqlite_store import SqliteMemoryStore

    url = settings_of(args).store
    if url:
        from cloud.memory.postgres_store import PostgresMemoryStore

        with PostgresMemoryStore(url, _LazyMiniLm()) as shared:
            yield shared
        return
    path = _path(args)
    if not path.exists() and not create:
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with SqliteMemoryStore(path, _LazyMiniLm()) as store:
        yield store


def _lines(source: Path) -> list[str]:
    if str(source) == "-":
        return sys.stdin.read().splitlines()
    try:
        return source.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UsageError(f"{source}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{source}: cannot read it as UTF-8 text ({exc})") from None


async def _add(args: argparse.Namespace) -> int:
    from cloud.memory.cli_ops import add_jsonl
    from cloud.memory.errors import InvalidMemoryError

    lines = _lines(args.jsonl)
    with _store(args, create=True) as store:
        try:
            added = await asyncio.to_thread(add_jsonl, store, args.user, lines)
        except InvalidMemoryError as exc:
            raise UsageError(str(exc)) from None
    print(json.dumps({"user": args.user, "added": added}))
    return 0


async def _search(args: argparse.Namespace) -> int:
    from cloud.memory.cli_ops import search_jsonl
    from cloud.memory.errors import InvalidMemoryError

    if args.k < 1:
        raise UsageError(f"--k must be at least 1, got {args.k}")
    lines = _lines(args.jsonl)
    with _store(args, create=True) as store:
        try:
            results = await asyncio.to_thread(
                lambda: list(search_jsonl(store, args.user, args.k, lines))
            )
        except InvalidMemoryError as exc:
            raise UsageError(str(exc)) from None
    for result in results:
        print(json.dumps(result))
    return 0


async def _export(args: argparse.Namespace) -> int:
    from cloud.memory.cli_ops import export

    with _store(args, create=False) as store:
        records = [] if store is None else export(store, args.user)
    for record in records:
        print(json.dumps(record))
    return 0


async def _delete(args: argparse.Namespace) -> int:
    from cloud.memory.cli_ops import delete_user
    from cloud.memory.errors import MemoryNotFoundError

    with _store(args, create=False) as store:
        if store is None:
            deleted = 0
        elif args.memory_id:
            try:
                store.delete(args.user, args.memory_id)
            except MemoryNotFoundError:
                raise UsageError(f"{args.user} has no memory {args.memory_id}") from None
            deleted = 1
        else:
            deleted = delete_user(store, args.user)
        if store is not None:
            store.compact()  # deleted text leaves the disk too
    print(json.dumps({"user": args.user, "deleted": deleted}))
    return 0


async def _migrate(args: argparse.Namespace) -> int:
    if not args.to:
        raise UsageError("--to needs a postgresql:// URL")
    path = _path(args)
    if not path.exists():
        raise UsageError(f"{args.user!r} has no memories in {path.parent} (--data-dir)")
    history = settings_of(args).data_dir / "gateway" / "history.sqlite"
    result = await asyncio.to_thread(_copy_user, args.user, path, history, args.to)
    print_result(result, args.json)
    return 0


def _copy_user(user: str, path: Path, history_path: Path, url: str) -> dict[str, Any]:
    """Copy the user's whole SQLite side to PostgreSQL: memories (history of replaced facts
    included), tools' data and the app's History. Each part adds only what is missing,
    so a rerun (after an interruption, or a later copy) copies the rest and nothing twice."""
    from cloud.memory.postgres_store import PostgresMemoryStore
    from cloud.memory.sqlite_store import SqliteMemoryStore
    from cloud.tools.postgres_store import PostgresTools
    from cloud.tools.store import ToolStore
    from gateway.history import History
    from gateway.history_postgres import PostgresHistory

    embedder = _LazyMiniLm()
    with SqliteMemoryStore(path, embedder) as source:
        memories = source.export(user)
    with PostgresMemoryStore(url, embedder) as target:
        copied = target.import_memories(user, memories)
        stored = target.count(user)
    tools = ToolStore(path, user)
    try:
        tables = tools.export_tables()
    finally:
        tools.close()
    with closing(PostgresTools(url)) as shared_tools:
        tools_copied = shared_tools.store(user).import_tables(tables)
    turns = []
    if history_path.exists():
        local_history = History(history_path)
        try:
            turns = local_history.export_turns(user)
        finally:
            local_history.close()
    shared_history = PostgresHistory(url)
    try:
        turns_copied = shared_history.import_turns(user, turns)
    finally:
        shared_history.close()
    return {
        "user": user,
        "from": str(path),
        "memories": len(memories),
        "replaced_facts": sum(memory.replaced for memory in memories),
        "copied": copied,
        "already_there": len(memories) - copied,
        "stored_at_target": stored,
        "tools": {table.table: len(table.rows) for table in tables},
        "tools_copied": tools_copied,
        "history_turns": len(turns),
        "history_copied": turns_copied,
    }


async def _bench_reasoner(args: argparse.Namespace) -> int:
    from simulators.bench_reasoner import bench_reasoner

    result = await bench_reasoner(progress=progress_printer())
    print_result(result, args.json)
    return 0


async def _bench_memory(args: argparse.Namespace) -> int:
    from simulators.bench_memory import bench_memory

    if args.facts:
        from simulators.bench_memory_facts import bench_memory_facts

        report = await asyncio.to_thread(bench_memory_facts, progress_printer())
        print_result(report, args.json)
        return 0
    if any(size < 1 for size in args.sizes):
        raise UsageError("--sizes must be positive")
    store = settings_of(args).store
    result = await asyncio.to_thread(lambda: bench_memory(tuple(args.sizes), store=store))
    print_result(result, args.json)
    return 0
