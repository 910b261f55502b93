"""The drill's AI endpoint: the provider simulator's OpenAI-compatible API in its own process.

``--ai ok`` points every ReplyDesk process at it (instance-level ``REPLYDESK_AI_*``), so the
burst's replies are categorised and drafted through it; ``--ai hang`` also makes every
Responses call hang until the webhook events are processed, then clears the fault so the
waiting jobs end. Side by side the two show whether a sick AI reaches ingestion or the read
API (issue 11: it must not: AI calls run only in jobs' prepare steps).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

from drill.services import REPLYDESK, free_port

SIM_KEY = "sk-drill-0123456789"  # the simulator accepts any non-empty key


class AiEndpoint:
    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.hanging = False

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """What the ReplyDesk processes need to use it (loopback http: the URL guard's opt-in)."""
        return {
            "REPLYDESK_AI_BASE_URL": f"{self.base}/openai",
            "REPLYDESK_AI_API_KEY": SIM_KEY,
            "REPLYDESK_OUTBOUND_ALLOW_PRIVATE": "true",
        }

    def start(self) -> None:
        log = (self.log_dir / "ai-sim.log").open("ab")
        self.proc = subprocess.Popen(
            [*REPLYDESK, "sim", "--port", str(self.port)], stdout=log, stderr=log
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self._call("GET", "/_sim/faults")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the AI simulator did not start")

    def hang(self) -> None:
        self._call(
            "POST", "/_sim/faults", {"provider": "openai", "endpoint": "responses", "hang": True}
        )
        self.hanging = True

    def release(self) -> None:
        self._call("DELETE", "/_sim/faults")
        self.hanging = False

    def calls(self) -> int:
        """Responses requests the simulator received (hung ones included)."""
        found = self._call("GET", "/_sim/requests?provider=openai")
        assert isinstance(found, dict)
        return sum(1 for r in found["items"] if str(r.get("endpoint", "")).startswith("responses"))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _call(self, method: str, path: str, body: object | None = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 (loopback http, built here)
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310
            raw = resp.read()
        return json.loads(raw) if raw else None
