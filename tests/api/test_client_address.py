"""Whose address a request is counted under: X-Forwarded-For only from configured proxies."""

from __future__ import annotations

import pytest

from broadcaster.api.client_address import forwarded_client
from broadcaster.config import Settings


@pytest.mark.parametrize(
    ("peer", "header", "proxies", "expected"),
    [
        ("127.0.0.1", "198.51.100.7", [], "127.0.0.1"),  # nobody trusted: the header is just words
        ("10.0.0.9", "198.51.100.7", ["127.0.0.1"], "10.0.0.9"),  # not from the proxy
        ("127.0.0.1", "198.51.100.7", ["127.0.0.1"], "198.51.100.7"),
        ("10.0.0.2", "198.51.100.7, 10.0.0.1", ["10.0.0.0/24"], "198.51.100.7"),  # a chain of our proxies
        ("10.0.0.2", "6.6.6.6, 198.51.100.7", ["10.0.0.0/24"], "198.51.100.7"),  # the client's own claim is ignored
        ("127.0.0.1", "not-an-address", ["127.0.0.1"], "127.0.0.1"),
        ("127.0.0.1", None, ["127.0.0.1"], "127.0.0.1"),
        ("::1", "2001:db8::5", ["::1"], "2001:db8::5"),
    ],
)
def test_forwarded_client(peer: str, header: str | None, proxies: list[str], expected: str) -> None:
    assert forwarded_client(peer, header, proxies) == expected


def test_a_proxy_setting_that_is_no_address_is_refused_in_vietnamese() -> None:
    with pytest.raises(ValueError, match="không phải địa chỉ IP"):
        Settings(trusted_proxies=["proxy.example"])
