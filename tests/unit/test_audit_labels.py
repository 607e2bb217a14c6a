"""Every audit action and target type the code records has a label for the journal.

The actions are read from the source (every call of ``audit.record``, of
``audit.record_once_a_day`` and of the helpers that pass their own ``action`` argument on):
a new action recorded without a label in ``rcp.audit.ACTION_LABELS`` fails here.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

from rcp import audit, i18n

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "rcp").rglob("*.py"))


def _module_constants() -> dict[str, list[ast.expr]]:
    constants: dict[str, list[ast.expr]] = {}
    for path in SOURCES:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        constants.setdefault(target.id, []).append(node.value)
    return constants


CONSTANTS = _module_constants()


class _Recorder(ast.NodeVisitor):
    """Collects the possible values of one argument of the recording functions."""

    def __init__(self, wrappers: dict[str, str]) -> None:
        self.wrappers = wrappers  # function name -> name of its action parameter
        self.values: dict[str, set[str]] = {"action": set(), "target_type": set()}
        self.unresolved: list[str] = []
        self.new_wrappers: dict[str, str] = {}
        self._function: ast.FunctionDef | ast.AsyncFunctionDef | None = None

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:  # noqa: N802
        outer, self._function = self._function, node
        self.generic_visit(node)
        self._function = outer

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815

    def _parameters(self) -> list[str]:
        if self._function is None:
            return []
        arguments = self._function.args
        return [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]

    def _values(self, node: ast.expr, depth: int = 0) -> set[str] | None:
        """Every string ``node`` can be; None when one of its parts is a parameter."""
        if depth > 5:
            raise AssertionError(f"too deep: {ast.unparse(node)}")
        if isinstance(node, ast.Constant):
            return {node.value} if isinstance(node.value, str) else set()
        if isinstance(node, ast.IfExp):
            body, orelse = self._values(node.body, depth + 1), self._values(node.orelse, depth + 1)
            return None if body is None or orelse is None else body | orelse
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self._values(node.left, depth + 1), self._values(node.right, depth + 1)
            if left is None or right is None:
                return None
            return {a + b for a, b in itertools.product(left, right)}
        if isinstance(node, ast.JoinedStr):
            parts: list[set[str]] = []
            for part in node.values:
                value = part.value if isinstance(part, ast.FormattedValue) else part
                found = self._values(value, depth + 1)
                if found is None:
                    return None
                parts.append(found)
            return {"".join(p) for p in itertools.product(*parts)}
        if isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if isinstance(node, ast.Name) and name in self._parameters():
                return None
            assigned = [
                n.value
                for n in ast.walk(self._function or ast.Module(body=[], type_ignores=[]))
                if isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)
            ] or CONSTANTS.get(name, [])
            if not assigned:
                raise AssertionError(f"cannot resolve {ast.unparse(node)}")
            found: set[str] = set()
            for value in assigned:
                values = self._values(value, depth + 1)
                if values is None:
                    return None
                found |= values
            return found
        raise AssertionError(f"cannot read the action {ast.unparse(node)}")

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
        self.generic_visit(node)
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name not in self.wrappers:
            return
        parameter = self.wrappers[name]
        action = next((k.value for k in node.keywords if k.arg == parameter), None)
        if action is None:
            position = 2 if name == "_register_failure" else 1
            action = node.args[position] if len(node.args) > position else None
        if action is not None:
            values = self._values(action)
            if values is None:
                if self._function is not None:  # a helper passing its own argument on
                    self.new_wrappers[self._function.name] = ast.unparse(action)
            else:
                self.values["action"] |= values
        for keyword in node.keywords:
            if keyword.arg == "target_type":
                values = self._values(keyword.value)
                if values is not None:
                    self.values["target_type"] |= values


def recorded() -> dict[str, set[str]]:
    wrappers = {"record": "action", "record_once_a_day": "action"}
    while True:
        found: dict[str, set[str]] = {"action": set(), "target_type": set()}
        added: dict[str, str] = {}
        for path in SOURCES:
            visitor = _Recorder(wrappers)
            visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
            for key in found:
                found[key] |= visitor.values[key]
            added.update({k: v for k, v in visitor.new_wrappers.items() if k not in wrappers})
        if not added:
            return found
        wrappers.update(added)


def test_every_recorded_action_has_a_label() -> None:
    actions = recorded()["action"]
    assert {"auth.sign_in", "case.viewed", "file.viewed", "auth.session_idle"} <= actions
    assert {"auth.code_failed", "meeting.request_refused", "case.created"} <= actions
    missing = sorted(actions - set(audit.ACTION_LABELS))
    assert not missing, f"add a label to rcp.audit.ACTION_LABELS for: {missing}"


def test_every_recorded_target_type_has_a_label() -> None:
    types = recorded()["target_type"] - {""}
    assert {"case", "loginsession", "attachment"} <= types
    missing = sorted(types - set(audit.TARGET_LABELS))
    assert not missing, f"add a label to rcp.audit.TARGET_LABELS for: {missing}"


def test_labels_follow_the_language() -> None:
    assert audit.action_label("auth.sign_in") == "Connexion"
    assert audit.target_label("case", 41) == "Cas 41"
    assert audit.target_label("", None) == ""
    with i18n.using("en"):
        assert audit.action_label("auth.sign_in") == "Sign in"
        assert audit.action_label("case.viewed") == "Case viewed"
        assert audit.target_label("loginsession", 3) == "Session 3"
        assert audit.target_label("attachment", 5) == "File 5"
    assert audit.action_label("legacy.unknown") == "legacy.unknown"  # an old code: as it is
