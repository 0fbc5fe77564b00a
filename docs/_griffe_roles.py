"""Griffe extension for the reference pages: Sphinx roles in docstrings become links.

modkit's numpydoc docstrings cross-reference with Sphinx roles (``:func:`fit_thresholds```,
``:class:`~modkit.ThresholdSet```, ``:meth:`Fault.drift <modkit.testing.Fault.drift>```).
mkdocstrings renders Markdown, where a role would show as raw text. Once griffe has loaded
the package, this extension rewrites every role in every docstring into an optional
mkdocs-autorefs cross-reference (``<autoref identifier=... optional>``): a link to the
object's entry on the reference pages when it is rendered there, its name as code otherwise
(a private helper, an object of another library), never a warning and never the raw role.

A name resolves as Sphinx's Python domain resolves it: an absolute dotted path, else
relative to the enclosing class, then to the enclosing module and its parent packages, then
to ``modkit``'s own public names. The link points at a *public* path: the name as written
when that is public, else the object as a public package re-exports it (e.g.
``modkit.thresholds.fit_thresholds`` rather than the defining private module), the one
sharing the longest prefix with the docstring's own module first. The next best is given to
autorefs as a fallback: for an attribute or a method, the entry of the class or module that
holds it (an attribute without a docstring, an inherited method have no entry of their own),
else another public path.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

PACKAGE = "modkit"

#: ``:role:`target``` or ``:py:role:`title <target>```; the roles of Sphinx's Python domain.
ROLE = re.compile(
    r":(?:py:)?(?P<role>func|class|meth|mod|attr|data|exc|obj|const|type|ref|any):"
    r"`(?P<body>[^`]+)`"
)
_TITLED = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)


def _is_public(path: str) -> bool:
    return not any(part.startswith("_") for part in path.split("."))


def _final(obj: Any) -> Any | None:
    """The object an alias points at (None if it cannot be resolved: another library)."""
    try:
        return obj.final_target if obj.is_alias else obj
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


class Resolver:
    """Names in docstrings to the public paths the reference pages render."""

    def __init__(self, package: Any) -> None:
        self.package = package
        self.public: dict[str, list[str]] = {}  # canonical path -> public paths
        self._index(package, seen=set())

    def _index(self, module: Any, seen: set[str]) -> None:
        if module.path in seen:
            return
        seen.add(module.path)
        for name, member in module.members.items():
            if name.startswith("_"):
                continue
            target = _final(member)
            if target is None or not target.path.startswith(PACKAGE):
                continue
            self.public.setdefault(target.path, []).append(member.path)
            if target.is_class:
                for sub in target.members:
                    if not sub.startswith("_"):
                        self.public.setdefault(f"{target.path}.{sub}", []).append(
                            f"{member.path}.{sub}"
                        )
            if target.is_module and not member.is_alias:
                self._index(member, seen)

    def lookup(self, path: str) -> Any | None:
        """The object at a dotted path inside the package, or None."""
        if path == PACKAGE:
            return self.package
        if not path.startswith(PACKAGE + "."):
            return None
        try:
            return self.package[path[len(PACKAGE) + 1 :]]
        except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None

    def candidates(self, name: str, context: Any) -> list[str]:
        """Dotted paths a name may mean in a docstring of ``context``, most specific first."""
        name = name.lstrip(".")
        paths = [name] if name.startswith(PACKAGE) else []
        scope = context
        while scope is not None:
            if scope.is_class or scope.is_module:
                paths.append(f"{scope.path}.{name}")
            scope = scope.parent
        paths.append(f"{PACKAGE}.{name}")
        return paths

    def resolve(self, name: str, context: Any) -> list[str]:
        """Public paths of the object ``name`` means, best first (empty if unresolved)."""
        for path in self.candidates(name, context):
            found = self.lookup(path)
            if found is None:
                continue
            target = _final(found)
            canonical = target.path if target is not None else path
            here = context.module.path if context is not None else PACKAGE
            others = sorted(
                (p for p in dict.fromkeys(self.public.get(canonical, [])) if p != path),
                key=lambda p: (-_shared(p, here), len(p)),
            )
            # the path as found first when it is public: what the docstring wrote
            found_paths = [p for p in [path, *others] if _is_public(p)]
            member = target is not None and (target.is_attribute or target.parent.is_class)
            if found_paths and member:
                # an attribute without a docstring of its own, or an inherited method, has no
                # entry: its class's (or module's) entry, which lists it, is the fallback
                found_paths.insert(1, found_paths[0].rsplit(".", 1)[0])
            return found_paths
        return []


def _shared(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split("."), b.split("."), strict=False):
        if x != y:
            break
        n += 1
    return n


def rewrite(text: str, resolve: Any) -> str:
    """Replace each Sphinx role in ``text`` by an optional autorefs cross-reference.

    ``resolve(name)`` returns the candidate identifiers, best first. The displayed title is
    Sphinx's: the explicit title of ``title <target>``, the last component of ``~a.b``,
    else the name as written.
    """

    def one(match: re.Match[str]) -> str:
        body = " ".join(match["body"].split())
        titled = _TITLED.match(body)
        if titled:
            title, target = titled["title"], titled["target"].strip()
        else:
            target = body
            title = body.lstrip("~.").rsplit(".", 1)[-1] if body.startswith("~") else body
        target = target.lstrip("~")
        code = f"<code>{html.escape(title)}</code>"
        if match["role"] in {"ref", "any"}:
            return code
        found = resolve(target)
        if not found:
            return code
        slug = f' slug="{html.escape(found[1])}"' if len(found) > 1 else ""
        return f'<autoref identifier="{html.escape(found[0])}"{slug} optional>{code}</autoref>'

    return ROLE.sub(one, text)


class SphinxRoles(griffe.Extension):
    """Rewrite the Sphinx roles of every docstring in the package (see the module docstring)."""

    def on_package(self, *, pkg: Any, **kwargs: Any) -> None:
        if pkg.path != PACKAGE:
            return
        resolver = Resolver(pkg)
        for obj in _objects(pkg, set()):
            if obj.docstring is not None and ":" in obj.docstring.value:
                context = obj

                def resolve(name: str, context: Any = context) -> list[str]:
                    return resolver.resolve(name, context)

                obj.docstring.value = rewrite(obj.docstring.value, resolve)


def _objects(obj: Any, seen: set[str]) -> Any:
    """Every object defined in the package (aliases skipped: their targets are visited)."""
    if obj.is_alias or obj.path in seen:
        return
    seen.add(obj.path)
    yield obj
    for member in obj.members.values():
        yield from _objects(member, seen)
