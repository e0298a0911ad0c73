"""How long an agent's `complete` takes, through the instance workflow and the audit sink
(issue 28): the end and the seal are the run's last batch, and the API answers once the
run has returned. No raw shape: run it on two commits to compare them.

Each instance is started, left 0.3 s for its start's batch to be stored (not timed),
then completed; one at a time, the first three as warm-up.

    .venv/bin/python bench/bench_finish.py [--instances 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from stack import bench_stack

NAME = "bench-finish"
TEMPLATE = f"""
id: {NAME}
steps:
  - id: act
    policy:
      requires_human_approval: false
"""
WARM_UP = 3


async def main(n: int) -> None:
    load = os.getloadavg()[0]
    async with bench_stack(NAME) as stack:
        from gantral.core import GantralCore
        from gantral.domain.actors import Actor, ActorKind
        from gantral.policy.loading import load_template
        from gantral.policy.registry import InMemoryRegistry
        from gantral.workflows.messages import Finish, FinishKind

        registry = InMemoryRegistry()
        await registry.put_template(load_template(TEMPLATE))
        core = GantralCore(stack.client, stack.settings, registry)
        agent = Actor(id="bench-agent", kind=ActorKind.AGENT)
        took = []
        for i in range(WARM_UP + n):
            view, _ = await core.start_instance(
                workflow_id=NAME, workflow_version=None, owning_team_id="bench",
                trigger_context={}, idempotency_key=None, actor=agent,
            )  # fmt: skip
            await asyncio.sleep(0.3)
            t = time.perf_counter()
            await core.finish(view.instance_id, Finish(kind=FinishKind.COMPLETE, actor=agent))
            if i >= WARM_UP:
                took.append(time.perf_counter() - t)
    took.sort()
    p50, p90 = took[len(took) // 2], took[min(len(took) - 1, int(0.9 * len(took)))]
    end = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.1f} at the start and {end:.1f} at the "
          "end; API core, worker and sink in this process")  # fmt: skip
    print(f"complete, one at a time ({n}): p50 {1000 * p50:.1f} ms, p90 {1000 * p90:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=30, help="instances completed")
    asyncio.run(main(parser.parse_args().instances))
