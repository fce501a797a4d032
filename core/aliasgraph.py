"""The alias graph, walked once: how deep each address expands, whom it reaches, where it loops.

OpenSMTPD expands a recipient through the virtual table node by node, each one level deeper
than the node it came from, and refuses the whole recipient ("524 5.2.4 Mailing list
expansion problem") once a node would be EXPAND_DEPTH (10, lka_session.c) deep. The node
below a mailbox's address is its user (`vmail`), so an address that is a mailbox is 1 deep, an
alias to it 2, and an address may be at most MAX_DEPTH deep. Loops are never useful (smtpd
drops repeats, so at best they do nothing) and are reported.

The walk is iterative (no recursion limit) and memoized (each address is expanded once), so it
costs time linear in the number of table entries plus destinations, whatever the shape: a
"ladder" where every alias delivers to two others of the next rung costs no more than a chain.

    >>> table = {"a@x": ("b@x",), "b@x": MAILBOX, "c@x": ("a@x", "out@elsewhere")}
    >>> graph = walk(table)
    >>> graph.depth["c@x"], sorted(graph.mailboxes["c@x"]), graph.looping
    (3, ['b@x'], set())
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

EXPAND_DEPTH = 10  # OpenSMTPD's limit, lka_session.c
MAX_DEPTH = EXPAND_DEPTH - 1
MAILBOX: tuple[str, ...] = ()  # a mailbox's entry: the walk stops there


@dataclass
class AliasGraph:
    # How deep the deepest node smtpd makes for this key is (the key itself at 0): an outside
    # address 0, a mailbox 1 (its user is below it), an alias one more than its deepest destination.
    # Aliases only: a mailbox is 1 deep and delivers to itself.
    depth: dict[str, int] = field(default_factory=dict)
    mailboxes: dict[str, frozenset[str]] = field(default_factory=dict)  # mailboxes the alias delivers to
    looping: set[str] = field(default_factory=set)  # keys on a loop, or that reach one


def resolve(table: Mapping[str, tuple[str, ...]], address: str) -> str | None:
    """The table key smtpd uses for an address: the address itself, else its domain's catch-all."""
    if address in table:
        return address
    catch_all = "@" + address.rpartition("@")[2]
    return catch_all if catch_all in table else None


def walk(table: Mapping[str, tuple[str, ...]]) -> AliasGraph:
    """Every key's depth and mailboxes. A value `MAILBOX` (empty) marks a mailbox; a destination
    that resolves to no key is an outside address, relayed as it is."""
    graph = AliasGraph()
    on_path: set[str] = set()
    for start, destinations in table.items():
        # Mailboxes are leaves, settled where an alias names them: the walk costs what the
        # aliases cost, however many mailboxes the table holds.
        if not destinations or start in graph.depth:
            continue
        # Each frame: the key and an iterator over its destinations still to visit.
        stack = [(start, iter(table[start]))]
        on_path.add(start)
        while stack:
            key, pending = stack[-1]
            child = None
            for destination in pending:
                target = resolve(table, destination)
                if target is None or target in graph.depth or not table[target]:
                    continue
                if target in on_path:
                    graph.looping.add(key)
                    continue
                child = target
                break
            if child is not None:
                on_path.add(child)
                stack.append((child, iter(table[child])))
                continue
            stack.pop()
            on_path.discard(key)
            _settle(graph, table, key)
    _spread_loops(graph, table)
    return graph


def _settle(graph: AliasGraph, table: Mapping[str, tuple[str, ...]], key: str) -> None:
    depth, reached = 1, set()  # an outside destination is one node below the alias
    for destination in table[key]:
        target = resolve(table, destination)
        if target is not None and not table[target]:  # a mailbox: its address, then its user
            depth = max(depth, 2)
            reached.add(target)
        # A destination still on the walk's path is a loop (already recorded): it adds nothing.
        elif target is not None and target in graph.depth:
            depth = max(depth, graph.depth[target] + 1)
            reached |= graph.mailboxes[target]
    graph.depth[key], graph.mailboxes[key] = depth, frozenset(reached)


def _spread_loops(graph: AliasGraph, table: Mapping[str, tuple[str, ...]]) -> None:
    """Mark every key that reaches a looping key (reverse breadth-first, linear)."""
    if not graph.looping:
        return
    senders: dict[str, list[str]] = {}
    for key, destinations in table.items():
        for destination in destinations:
            if (target := resolve(table, destination)) is not None:
                senders.setdefault(target, []).append(key)
    queue = list(graph.looping)
    while queue:
        for sender in senders.get(queue.pop(), ()):
            if sender not in graph.looping:
                graph.looping.add(sender)
                queue.append(sender)


def add_alias_domain_twins(table: dict[str, tuple[str, ...]], alias_domains: Iterable[tuple[str, str]]) -> None:
    """Give each alias domain the addresses of the domain it delivers as: x@alias → x@target,
    and the target's catch-all catches the alias domain's unknown addresses too. In place."""
    by_domain: dict[str, list[str]] = defaultdict(list)
    for key in table:
        by_domain[key.rpartition("@")[2]].append(key)
    for alias_domain, target in alias_domains:
        for key in by_domain[target]:
            local_part = key.rpartition("@")[0]
            if local_part:
                table[f"{local_part}@{alias_domain}"] = (key,)
            else:
                table[f"@{alias_domain}"] = table[key]
