"""The Celery app of bench/queue_compare.py: one no-op task that counts itself.

The worker (``celery -A celery_noop worker``) prints ``CELERY_DONE <n> <first> <last>``
(wall-clock seconds of the first and the last task) once it has run BENCH_TASKS tasks, then
exits; the bench reads that line. Broker: RabbitMQ (BENCH_AMQP_URL), no result backend.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from celery import Celery

app = Celery(
    "celery_noop", broker=os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
)
app.conf.update(
    task_ignore_result=True,
    task_acks_late=os.environ.get("BENCH_ACKS_LATE") == "1",
    worker_prefetch_multiplier=int(os.environ.get("BENCH_PREFETCH", "4")),
    task_default_queue=os.environ.get("BENCH_QUEUE", "bench_noop"),
    broker_connection_retry_on_startup=True,
    worker_redirect_stdouts=False,  # the CELERY_DONE line goes to stdout as it is
)

_lock = threading.Lock()
_count = 0
_first = 0.0
TARGET = int(os.environ.get("BENCH_TASKS", "0"))


@app.task(name="bench.noop")
def noop() -> None:
    global _count, _first
    with _lock:
        _count += 1
        if _count == 1:
            _first = time.time()
        if _count == TARGET:
            print(f"CELERY_DONE {_count} {_first} {time.time()}", flush=True)
            sys.stdout.flush()
            os._exit(0)
