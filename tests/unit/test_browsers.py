"""User-agent strings in words (ua-parser), in the current language."""

from __future__ import annotations

from rcp import browsers, i18n

CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


def test_a_browser_and_its_system_in_french_and_english() -> None:
    assert browsers.describe(CHROME_LINUX) == "Chrome 156 sur Linux"
    assert browsers.describe(FIREFOX_WINDOWS) == "Firefox 128 sur Windows 10"
    assert browsers.describe(SAFARI_IPHONE) == "Mobile Safari 17 sur iOS 17"
    with i18n.using("en"):
        assert browsers.describe(CHROME_LINUX) == "Chrome 156 on Linux"
        assert browsers.describe("") == "Unknown browser"


def test_what_is_not_a_browser_is_an_unknown_browser() -> None:
    assert browsers.describe("") == "Navigateur inconnu"
    assert browsers.describe(None) == "Navigateur inconnu"
    assert browsers.describe("python-httpx/0.28.1") == "Navigateur inconnu"
