"""A plain HTTP client for tests against live Daphne."""

import http.client
import json


def request(server, method, path, body=b""):
    """One HTTP request to ``server`` (a LiveServer); return (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        headers = {"Content-Type": "application/octet-stream"} if body else {}
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def request_json(server, method, path, body=b""):
    """One HTTP request whose answer is JSON; return (status, decoded body)."""
    status, headers, data = request(server, method, path, body)
    assert headers.get("Content-Type") == "application/json", (status, headers, data)
    return status, json.loads(data)
