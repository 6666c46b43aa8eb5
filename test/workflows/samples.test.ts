import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import pkg from '../../package.json';

// The sample workflows as users import them: built from scripts/workflows, named for the npm
// package, and wired so that no item of our nodes can vanish. They run in real n8n in
// test/e2e/workflows.e2e.ts.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildAll } = require('../../scripts/build-workflows') as {
	buildAll(): Array<{ file: string; text: string }>;
};

interface WorkflowNode {
	name: string;
	type: string;
	typeVersion: number;
	id: string;
	parameters: Record<string, unknown>;
	webhookId?: string;
}
interface WorkflowJson {
	name: string;
	nodes: WorkflowNode[];
	connections: Record<string, { main: Array<Array<{ node: string; index: number }>> }>;
}

const dir = join(__dirname, '../../workflows');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
const load = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as WorkflowJson;

/** Outputs each of our routing nodes has (the Guard's Complete and Release have one). */
const OUTPUTS: Record<string, (n: WorkflowNode) => number> = {
	aiCall: () => 2,
	completenessCheck: () => 2,
	freshnessCheck: () => 3,
	fallbackRouter: () => 4,
	idempotencyGuard: (n) => ((n.parameters.operation ?? 'claim') === 'claim' ? 4 : 1),
};

const ourNodeNames = pkg.n8n.nodes.map((path) =>
	path
		.split('/')
		.pop()!
		.replace(/\.node\.js$/, '')
		.replace(/^./, (c) => c.toLowerCase()),
);

it('has the six samples the README describes', () => {
	expect(files.sort()).toEqual([
		'async-queue-rabbitmq.json',
		'async-queue.json',
		'fallback-drill.json',
		'freshness-monitor.json',
		'sync-request-response.json',
		'webhook-pipeline.json',
	]);
});

it('the committed JSON is what scripts/workflows builds (run npm run workflows)', () => {
	const built = buildAll();
	expect(built.map((b) => b.file).sort()).toEqual(files.sort());
	for (const { file, text } of built)
		expect({ file, text }).toEqual({ file, text: readFileSync(join(dir, file), 'utf8') });
});

describe.each(files)('%s', (file) => {
	const workflow = load(file);
	const byName = new Map(workflow.nodes.map((n) => [n.name, n]));

	it('names our nodes by the npm package, as an install from the community-nodes page does', () => {
		const ours = workflow.nodes.filter((n) => !n.type.startsWith('n8n-nodes-base.'));
		expect(ours.length).toBeGreaterThan(0);
		for (const node of ours) {
			const [prefix, name] = node.type.split('.');
			expect({ node: node.name, prefix }).toEqual({ node: node.name, prefix: pkg.name });
			expect(ourNodeNames).toContain(name);
		}
	});

	it('explains itself in sticky notes: the pattern and what to change to adopt it', () => {
		const notes = workflow.nodes.filter((n) => n.type === 'n8n-nodes-base.stickyNote');
		expect(notes.map((n) => n.name)).toEqual(['About', 'Adopt']);
		expect(String(notes[1].parameters.content)).toMatch(/To adopt/);
	});

	it('connects only nodes that exist, and every node is reached from a trigger', () => {
		const targets = new Set<string>();
		for (const [from, { main }] of Object.entries(workflow.connections)) {
			expect(byName.has(from)).toBe(true);
			for (const link of main.flat()) {
				expect(byName.has(link.node)).toBe(true);
				targets.add(link.node);
			}
		}
		const triggers = workflow.nodes.filter((n) => /trigger|webhook$/i.test(n.type));
		expect(triggers.length).toBeGreaterThan(0);
		for (const node of workflow.nodes) {
			if (node.type === 'n8n-nodes-base.stickyNote' || triggers.includes(node)) continue;
			expect({ node: node.name, reached: targets.has(node.name) }).toEqual({
				node: node.name,
				reached: true,
			});
		}
	});

	it('wires every output of our nodes, so no item is dropped', () => {
		for (const node of workflow.nodes) {
			const count = OUTPUTS[node.type.split('.')[1]]?.(node);
			if (!count) continue;
			const main = workflow.connections[node.name]?.main ?? [];
			for (let output = 0; output < count; output++)
				expect({ node: node.name, output, wired: (main[output] ?? []).length > 0 }).toEqual({
					node: node.name,
					output,
					wired: true,
				});
		}
	});

	it('answers every webhook through Respond to Webhook nodes, with unique ids', () => {
		for (const hook of workflow.nodes.filter((n) => n.type === 'n8n-nodes-base.webhook')) {
			expect(hook.parameters.responseMode).toBe('responseNode');
			expect(hook.webhookId).toBeTruthy();
		}
		const ids = workflow.nodes.map((n) => n.id);
		expect(new Set(ids).size).toBe(ids.length);
	});
});

it('no two samples serve the same webhook', () => {
	const routes = files.flatMap((file) =>
		load(file)
			.nodes.filter((n) => n.type === 'n8n-nodes-base.webhook')
			.map((n) => `${String(n.parameters.httpMethod)} ${String(n.parameters.path)}`),
	);
	expect(new Set(routes).size).toBe(routes.length);
});
