import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import pkg from '../../package.json';
import { canvasInfo, descriptionOf, outputsOf } from './canvas';
import type { SampleNode, SampleWorkflow } from './canvas';

// The sample workflows as users import them: built from scripts/workflows, named for the npm
// package, and wired so that no item of our nodes can vanish. They run in real n8n in
// test/e2e/workflows.e2e.ts.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildAll } = require('../../scripts/build-workflows') as {
	buildAll(): Array<{ file: string; text: string }>;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const layout = require('../../scripts/workflows/layout') as {
	problems(w: SampleWorkflow, info: typeof canvasInfo, options?: { loops?: string[] }): string[];
	fitZoom(
		w: SampleWorkflow,
		info: typeof canvasInfo,
		canvas: { width: number; height: number },
	): { zoom: number };
	markdownHeight(content: string, width: number): number;
};

/** Connections meant to run right to left: retry loops. */
const LOOPS: Record<string, string[]> = {
	'webhook-pipeline.json': ['Still running? -> Claim key'],
};
/**
 * The editor's canvas in a 1600 × 1000 browser window: minus n8n's side bar and header (an
 * estimate; the browser suite measures the real one).
 */
/** 16 px names at 0.5 are 8 px on screen, 14 px sticky text 7 px: about the least a person still reads. */
const MIN_ZOOM = 0.5;
const CANVAS = { width: 1600 - 200, height: 1000 - 120 };

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

const ourNodeNames = pkg.n8n.nodes.map((path) =>
	path
		.split('/')
		.pop()!
		.replace(/\.node\.js$/, '')
		.replace(/^./, (c) => c.toLowerCase()),
);

it('has the nine samples the README describes', () => {
	expect(files.sort()).toEqual([
		'async-queue-rabbitmq.json',
		'async-queue.json',
		'fallback-drill.json',
		'freshness-monitor.json',
		'observability.json',
		'queue-monitor.json',
		'support-agent.json',
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
		// n8n's own: its base nodes and its AI nodes (the Agent, tools)
		const ours = workflow.nodes.filter(
			(n) => !/^(n8n-nodes-base|@n8n\/n8n-nodes-langchain)\./.test(n.type),
		);
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
		for (const [from, byType] of Object.entries(workflow.connections)) {
			expect(byName.has(from)).toBe(true);
			for (const [type, outputs] of Object.entries(byType))
				for (const link of outputs.flat()) {
					expect(byName.has(link.node)).toBe(true);
					targets.add(link.node);
					// a sub-node (a chat model, a tool) is reached through the root node it supplies
					if (type !== 'main') targets.add(from);
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
			if (!descriptionOf(node.type)) continue;
			// from the node's description, as the editor computes it (outputs may be an expression)
			const count = outputsOf(node as unknown as SampleNode).length;
			const supplies = Object.keys(workflow.connections[node.name] ?? {}).filter(
				(type) => type !== 'main',
			);
			// a sub-node has no main output: it must supply its root node instead
			if (descriptionOf(node.type)!.inputs.length === 0 && !count) {
				expect({ node: node.name, supplies }).toEqual({
					node: node.name,
					supplies: descriptionOf(node.type)!.outputs,
				});
				continue;
			}
			expect({ node: node.name, count: count > 0 }).toEqual({ node: node.name, count: true });
			const main = workflow.connections[node.name]?.main ?? [];
			for (let output = 0; output < count; output++)
				expect({ node: node.name, output, wired: (main[output] ?? []).length > 0 }).toEqual({
					node: node.name,
					output,
					wired: true,
				});
		}
	});

	it('reads on the canvas: no node over another node or its name, none on a sticky, stickies sized to their text, flow left to right, edges not behind nodes', () => {
		const sample = workflow as unknown as SampleWorkflow;
		expect(layout.problems(sample, canvasInfo, { loops: LOOPS[file] ?? [] })).toEqual([]);
	});

	it('zoom to fit in a 1600 × 1000 window keeps the text readable', () => {
		const { zoom } = layout.fitZoom(workflow as unknown as SampleWorkflow, canvasInfo, CANVAS);
		// node names are 16 px and sticky text 14 px at zoom 1
		expect(zoom).toBeGreaterThanOrEqual(MIN_ZOOM);
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

it('names the RabbitMQ queue once, in the trigger, and the other RabbitMQ nodes read it from there', () => {
	const nodes = load('async-queue-rabbitmq.json').nodes.filter((n) =>
		n.type.startsWith('n8n-nodes-base.rabbitmq'),
	);
	const trigger = nodes.filter((n) => n.type === 'n8n-nodes-base.rabbitmqTrigger');
	expect(trigger).toHaveLength(1);
	expect(String(trigger[0].parameters.queue)).toMatch(/^[\w.-]+$/); // a plain name: `.params` reads it unevaluated
	const others = nodes.filter((n) => n !== trigger[0]);
	expect(others.length).toBeGreaterThan(0);
	for (const n of others)
		expect(n.parameters.queue).toBe(`={{ $('${trigger[0].name}').params.queue }}`);
});

it('the canvas check catches a node moved onto another, onto a sticky, and a back edge', () => {
	const sample = load('fallback-drill.json') as unknown as SampleWorkflow;
	const moved = (name: string, position: [number, number]): SampleWorkflow => ({
		...sample,
		nodes: sample.nodes.map((n) => (n.name === name ? { ...n, position } : n)),
	});
	const at = (name: string) => sample.nodes.find((n) => n.name === name)!.position;
	const [x, y] = at('Reached cached');
	// 100 px below: the old layout's spacing, the next node covers this one's name
	expect(layout.problems(moved('Reached queue', [x, y + 100]), canvasInfo)).toContainEqual(
		expect.stringMatching(/"Reached queue" .* covers the name of "Reached cached"/),
	);
	const about = sample.nodes.find((n) => n.name === 'About')!;
	expect(
		layout.problems(
			moved('Drill question', [about.position[0] + 20, about.position[1] + 20]),
			canvasInfo,
		),
	).toContainEqual(expect.stringMatching(/"Drill question" sits on the sticky note "About"/));
	const [fx, fy] = at('Every morning');
	expect(layout.problems(moved('Fallback Router', [fx, fy + 400]), canvasInfo)).toContainEqual(
		expect.stringMatching(/"Simulated outage \(AI Call\)" → "Fallback Router" runs right to left/),
	);
	const tall = {
		...sample,
		nodes: sample.nodes.map((n) =>
			n.name === 'About'
				? { ...n, parameters: { ...n.parameters, height: 2 * Number(n.parameters.height) } }
				: n,
		),
	};
	expect(layout.problems(tall, canvasInfo)).toContainEqual(
		expect.stringMatching(/sticky "About" is \d+ px tall for/),
	);
});
