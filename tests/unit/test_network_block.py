import socket

import pytest


def test_outbound_connection_is_blocked(network_guard):
    with pytest.raises(network_guard), socket.create_connection(("10.255.255.1", 80), timeout=1):
        pass


def test_name_lookup_is_blocked(network_guard):
    with pytest.raises(network_guard):
        socket.getaddrinfo("huggingface.co", 443)


def test_loopback_is_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    with socket.create_connection(server.getsockname(), timeout=1):
        pass
    server.close()
