// Drives the simulator with the official npm client `@civitai/client` through its SDK
// functions (queryWorkflows, getWorkflow, getWorkflowStep) and prints what it got as JSON on
// stdout, for tests/e2e/test_npm_client.py to validate against the OpenAPI document.
//
// Reads the simulator's URL and token from SIM_URL and SIM_TOKEN; never prints the token.
// Run as `node --import ./register.mjs drive.mjs` (the package needs a bundler's resolution).
import { createCivitaiClient, getWorkflow, getWorkflowStep, queryWorkflows } from '@civitai/client';

const baseUrl = process.env.SIM_URL;
const auth = process.env.SIM_TOKEN;
if (!baseUrl || !auth) {
  console.error('SIM_URL and SIM_TOKEN must be set');
  process.exit(2);
}
const client = createCivitaiClient({ baseUrl, auth });
const maxPages = Number(process.env.MAX_PAGES || 50);

function unwrap(what, result) {
  if (result.error !== undefined || !result.response?.ok) {
    const status = result.response ? `HTTP ${result.response.status}` : 'no response';
    throw new Error(`${what}: ${status} ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

const pages = [];
let cursor;
for (let n = 0; n < maxPages; n++) {
  const query = { take: 100, hideMatureContent: false, ...(cursor ? { cursor } : {}) };
  const page = unwrap('queryWorkflows', await queryWorkflows({ client, query }));
  pages.push(page);
  cursor = page.next;
  if (!cursor) break;
}

// One workflow of each step type seen, fetched again, and each of its steps.
const chosen = new Map();
for (const page of pages) {
  for (const workflow of page.items) {
    for (const step of workflow.steps) {
      if (!chosen.has(step.$type)) chosen.set(step.$type, workflow.id);
    }
  }
}
const workflows = [];
const steps = [];
for (const workflowId of new Set(chosen.values())) {
  const workflow = unwrap('getWorkflow', await getWorkflow({ client, path: { workflowId } }));
  workflows.push(workflow);
  for (const { name } of workflow.steps) {
    const path = { workflowId, stepName: name };
    steps.push({ workflowId, step: unwrap('getWorkflowStep', await getWorkflowStep({ client, path })) });
  }
}
process.stdout.write(JSON.stringify({ pages, workflows, steps }));
