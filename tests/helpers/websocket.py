"""A minimal WebSocket client on a plain socket, for tests against live Daphne."""

import base64
import json
import os
import socket
import struct


class RawWebSocket:
    """A minimal WebSocket client on a plain socket: handshake, frames, close."""

    def __init__(self, port, path, origin=None, host=None, headers=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host or f'127.0.0.1:{port}'}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if origin is not None:
            lines.append(f"Origin: {origin}")
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            part = self.sock.recv(65536)
            if not part:
                break
            self.buffer += part
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0].split()
        self.status = int(status_line[1]) if len(status_line) > 1 else 0

    def send(self, payload, opcode=0x2):
        """Send one masked frame (binary by default)."""
        header = bytes([0x80 | opcode])
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read(self, count):
        while len(self.buffer) < count:
            part = self.sock.recv(65536)
            if not part:
                raise ConnectionError("the server closed the connection")
            self.buffer += part
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def receive(self):
        """Read one frame; return (opcode, payload)."""
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        return first & 0x0F, self._read(length)

    def receive_json(self):
        """Read frames until a text frame; return it decoded from JSON."""
        while True:
            opcode, payload = self.receive()
            if opcode == 0x1:
                return json.loads(payload)

    def close(self):
        self.sock.close()
