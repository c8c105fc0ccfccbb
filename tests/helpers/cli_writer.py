"""A writer process for tests/test_store_server.py: random mend commands against one store.

    cli_writer.py SEED COUNT     run COUNT random commands (new, advance, back, check, note,
                                 update, report, resolve, reopen) through the CLI's main(),
                                 on $MEND_STORE as $MEND_USER

Prints one JSON line per command: its name, incident id, exit status and what it printed.
"""

from __future__ import annotations

import io
import json
import random
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tui.cli import main

COMMANDS = ("new", "advance", "back", "check", "note", "update", "report", "resolve", "reopen")
ITEMS = ("ack-client-told", "apology", "cause-named")


def main_loop(seed: int, count: int) -> None:
    rng = random.Random(seed)
    highest = 1
    for n in range(count):
        command = "new" if n < 2 else rng.choice(COMMANDS)
        target = str(rng.randint(1, highest + 2))
        unique = f"{seed}-{n}"
        argv = {
            "new": ["new", f"incident {unique}", "--client", "Acme"],
            "advance": ["advance", target, "--force", "--reason", unique],
            "back": ["back", target],
            "check": ["check", target, rng.choice(ITEMS)] + (["--uncheck"] if rng.random() < 0.3 else []),
            "note": ["note", target, unique],
            "update": ["update", target, f"update {unique}"],
            "report": ["report", target, "--what-happened", unique],
            "resolve": ["resolve", target, "--force", "--reason", unique],
            "reopen": ["reopen", target, "--reason", unique],
        }[command]
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            status = main(argv)
        printed = out.getvalue().strip()
        if command == "new" and status == 0:
            highest = max(highest, int(printed.removeprefix("INC-")))
            target = printed.removeprefix("INC-")
        print(json.dumps({"command": command, "id": f"INC-{target}", "status": status, "out": printed,
                          "err": err.getvalue().strip()}), flush=True)


if __name__ == "__main__":
    main_loop(int(sys.argv[1]), int(sys.argv[2]))
