"""A separate process that runs auto-assignment passes against a database, for tests of two
servers assigning at once: ``python -m tests.support.assigner_process URL ROUNDS [reverse]``
(``reverse`` takes the queues in the other order, so two processes meet on the same agents
from different queues).

It starts when told to (a line on stdin), so two processes begin together, and prints how many
tickets it assigned.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from carecentre.app import running
from carecentre.auto_assign import auto_queues
from carecentre.metrics import Metrics
from carecentre.settings import load_settings


async def main(url: str, rounds: int, reverse: bool) -> int:
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            {},
            data_dir=Path(folder),
            database_url=url,
            secret_key="test-secret-key-not-for-production",
            run_supervision=False,
        )
        async with running(settings, Metrics(), migrate=False, dispatch=False) as svc:
            assert svc.supervision is not None
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
            total = 0
            async with svc.db.read() as session:
                queues = await session.run_sync(auto_queues)
            for _ in range(rounds):
                for queue_id in reversed(queues) if reverse else queues:
                    total += await svc.supervision.assign_queue(queue_id)
            return total


if __name__ == "__main__":
    reverse = sys.argv[3:] == ["reverse"]
    print(asyncio.run(main(sys.argv[1], int(sys.argv[2]), reverse)), flush=True)
