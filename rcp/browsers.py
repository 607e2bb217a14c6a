"""A browser's user-agent string in words: "Chrome 156 sur Linux" / "Chrome 156 on Linux".

The parsing is ua-parser's (the uap-core rules, kept up to date on PyPI); the raw string is
for tools, never what a user reads ("Mon compte" → "Sessions actives").
"""

from __future__ import annotations

from functools import lru_cache

from rcp.i18n import _

# Systems whose major version tells the reader something ("Windows 10", "Android 14").
_VERSIONED_SYSTEMS = frozenset({"Windows", "Android", "iOS", "iPadOS"})


@lru_cache(maxsize=256)
def _parsed(user_agent: str) -> tuple[str, str]:
    """(browser, system) of a user agent, "" for what is not recognised."""
    from ua_parser import parse  # the rules load on first use (about half a second)

    result = parse(user_agent[:1000])
    browser = system = ""
    if result.user_agent is not None and result.user_agent.family != "Other":
        browser = result.user_agent.family
        if result.user_agent.major:
            browser += f" {result.user_agent.major}"
    if result.os is not None and result.os.family != "Other":
        system = result.os.family
        if system in _VERSIONED_SYSTEMS and result.os.major:
            system += f" {result.os.major}"
    return browser, system


def describe(user_agent: str | None) -> str:
    """The browser and system in the current language; "Navigateur inconnu" when neither is
    recognised (a script, an empty header)."""
    browser, system = _parsed((user_agent or "").strip())
    if browser and system:
        return _("{browser} sur {system}").format(browser=browser, system=system)
    if browser:
        return browser
    if system:
        return _("Navigateur inconnu sur {system}").format(system=system)
    return _("Navigateur inconnu")
