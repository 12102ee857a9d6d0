"""Reads never take the write lock (STYLE.md 13): `tx` is for changes, `read` for everything else.

`ServiceContext.tx` begins BEGIN IMMEDIATE on SQLite: a page, a Slack lookup or a CLI
listing opened that way queues behind every writer and makes writers queue behind it.
Every module of the package is parsed with `ast`; each `with ....tx(...) as tx:` block
must write something visible in its body: an audit event, a notice, a lock taken for a
change, a row added, updated or deleted, or the unit of work handed to a helper that
writes (`settle(tx, ...)`, `_change(tx, ...)`). A block that only reads fails here and
belongs in `ctx.read(...)`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "jcbot"
MODULES = sorted(PACKAGE.rglob("*.py"))

# Methods of the unit of work and of its session that change or lock something.
TX_WRITES = {"audit", "notify", "notify_all", "after_lock"}
SESSION_WRITES = {"add", "add_all", "delete", "flush", "merge", "execute", "bulk_save_objects", "bulk_insert_mappings"}
# Store helpers that write through the session they are given (by name, or by dotted name
# where the bare name is common: `out.append(...)` writes nothing).
HELPER_WRITES = {"enqueue", "item_reference", "decision_number", "proposal_ref"}
DOTTED_WRITES = {"audit.append", "outbox.enqueue"}


def _opened_tx(item: ast.withitem) -> str | None:
    """The name bound by `with <anything>.tx(...) as name`, else None."""
    call = item.context_expr
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "tx" \
            and isinstance(item.optional_vars, ast.Name):
        return item.optional_vars.id
    return None


def _writes(body: list[ast.stmt], name: str) -> bool:
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(node, ast.Attribute) and node.attr == "with_for_update":
            return True  # a row lock is taken to change what it guards
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if any(isinstance(a, ast.Name) and a.id == name for a in [*node.args, *(k.value for k in node.keywords)]):
            return True  # the unit of work handed to a helper (settle, _change...)
        if isinstance(func, ast.Attribute):
            owner = func.value
            if isinstance(owner, ast.Name) and owner.id == name and func.attr in TX_WRITES:
                return True
            if isinstance(owner, ast.Attribute) and owner.attr == "session" and isinstance(owner.value, ast.Name) \
                    and owner.value.id == name and func.attr in SESSION_WRITES:
                return True
            if func.attr in HELPER_WRITES or (isinstance(owner, ast.Name) and f"{owner.id}.{func.attr}" in DOTTED_WRITES):
                return True
        elif isinstance(func, ast.Name) and func.id in HELPER_WRITES:
            return True
    return False


def read_only_transactions(source: str, filename: str = "<source>") -> list[str]:
    """Every `with ....tx(...) as tx:` block of `source` that writes nothing, as 'file:line: function'."""
    tree = ast.parse(source, filename)
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if not isinstance(node, (ast.With, ast.AsyncWith)):
                continue
            for item in node.items:
                name = _opened_tx(item)
                if name and not _writes(node.body, name):
                    found.append(f"{filename}:{node.lineno}: {fn.name} opens a write transaction and only reads")
    return sorted(set(found))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_write_transaction_writes(path):
    found = read_only_transactions(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))
    assert not found, "use ctx.read(...) for reads (it never takes the write lock):\n" + "\n".join(found)


def test_no_write_transaction_is_named_a_reader():
    named = [f"{p.relative_to(PACKAGE.parent)}:{i}" for p in MODULES
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if '.tx("reader")' in line or ".tx('reader')" in line]
    assert named == []


def test_the_check_sees_reads_and_writes():
    source = '''
def show(ctx):
    with ctx.tx("reader") as tx:
        return tx.session.get(Row, 1)

def lookup(self):
    with self.ctx.tx("web") as t, other() as o:
        return [r for r in t.session.exec(select(Row))]

def change(ctx):
    with ctx.tx("x") as tx:
        tx.session.add(Row())

def settle_all(ctx):
    with ctx.tx("x") as tx:
        settle(tx, facts)

def listing(ctx):
    with ctx.tx("x") as tx:
        out = []
        out.append(tx.session.get(Row, 1))

def chained(ctx):
    with ctx.tx("x") as tx:
        audit.append(tx.session, at=tx.now)

def locked(ctx):
    with ctx.tx("x") as tx:
        tx.session.exec(select(Row).with_for_update()).all()

def read(ctx):
    with ctx.read() as tx:
        return tx.session.get(Row, 1)
'''
    assert read_only_transactions(source, "m.py") == [
        "m.py:19: listing opens a write transaction and only reads",
        "m.py:3: show opens a write transaction and only reads",
        "m.py:7: lookup opens a write transaction and only reads",
    ]
