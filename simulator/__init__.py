"""A stand-in for the Civitai Orchestration API: a real HTTP server on 127.0.0.1.

Serves, in the API's own shapes and from data generated deterministically from a seed:

    GET /v2/consumer/workflows                      cursor paging + every documented filter
    GET /v2/consumer/workflows/{id}                 wait=, hideMatureContent= (202 while running)
    GET /v2/consumer/workflows/{id}/steps/{name}
    GET /v1/consumer/jobs/{id}?detailed=            v1 job with lastEvent.context scan scores
    GET /v2/consumer/blobs/{id}                     308 -> /v2/consumer/blobs/content/{token}
    GET /v2/consumer/blobs/content/{token}          bytes, no auth
    POST /_simulator/advance, GET|POST /_simulator/faults, GET /_simulator/stats

    with SimulatorServer(SimulatorConfig(days=2, workflows_per_day=50)) as server:
        server.url, server.account.workflows(day), server.faults.rate_429 = 0.2

`SimulatedAccount` is the ground truth the tests compare the pipeline's output against: the
served documents (`workflows(day)`, `job(id)`) and, from the generator's own records, every
blob at any depth with its JSON path (`blob_truth`), every moderation verdict
(`verdict_truth`), every scan score on the 0-100 scale (`scan_truth`, the forms and the scale
rule in `simulator.scancontext`) and every job's failure / blocked reason (`job_truth`).

The data: the 45 step types of the OpenAPI document (builders in `simulator.steptypes`) plus
one newer type, output-cache hits sharing blob ids across workflows, running workflows in
every non-final status (`simulator.running`), Buzz refunds and fees (`simulator.money`).
"""

from simulator.account import SimulatedAccount
from simulator.config import Faults, SimulatorConfig
from simulator.server import SimulatorServer

__all__ = ["Faults", "SimulatedAccount", "SimulatorConfig", "SimulatorServer"]
