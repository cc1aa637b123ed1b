"""The message naming who holds the DuckDB file is printed and logged: it names the process without
the secrets its command line may carry."""

from __future__ import annotations

import subprocess
import sys
import time

from amili_pipelines.warehouse.duckdb.connection import describe_lock_holder


def test_the_lock_holder_is_named_without_the_secrets_on_its_command_line():
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "--password", "hunter2",
                               "--dsn=postgresql://ops:s3cret@db/amili", "--api-key=AKIA-XYZ", "daily"])
    try:
        time.sleep(0.2)
        text = describe_lock_holder(f"IO Error: Could not set lock on file: Conflicting lock is held in "
                                    f"{sys.executable} (PID {holder.pid}) by user root")
    finally:
        holder.kill()
        holder.wait()
    assert text.startswith(f"PID {holder.pid} (") and "import time" in text and "daily" in text
    for secret in ("hunter2", "s3cret", "AKIA-XYZ"):
        assert secret not in text, text
