import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as editor from '../../scripts/editor-browser';
import type { Canvas, EditorBrowser, Problems } from '../../scripts/editor-browser';
import {
	importSamples,
	installPackage,
	N8nApi,
	startN8n,
	type ImportedSample,
	type RunningN8n,
} from '../../scripts/n8n-runtime';
import { startSimulator, type Simulator } from '../../simulator';
import { printLogsOnFailure } from './helpers';

// The editor is a large single-page app on a 2-core machine: a UI step that timed out is tried once more
// (the failure is logged); a real defect fails both times.
jest.retryTimes(1, { logErrorsBeforeRetry: true });

// What a person sees in the real n8n editor (headless Chromium) with the package installed from
// its npm tarball: the nodes found and added through the node creator, their panels, the sample
// workflows' canvases, a run of the fallback drill from the editor and the credential dialog. A
// sub-node (the AI Call Chat Model) is added where a user adds a chat model: from the AI Agent's
// Chat Model slot.

/**
 * Every node by its name and two words a user may search for instead; `action`: what a user picks
 * when the node lists actions.
 */
const NODES: Array<{ name: string; aliases: string[]; action?: string }> = [
	{ name: 'AI Call', aliases: ['LLM', 'OpenAI'] },
	{ name: 'Freshness Check', aliases: ['stale', 'freshness'] },
	{ name: 'Completeness Check', aliases: ['validate', 'required fields'] },
	{ name: 'Idempotency Guard', aliases: ['dedupe', 'webhook duplicate'] },
	{ name: 'Fallback Router', aliases: ['fallback', 'degraded'] },
	{ name: 'Job Queue', aliases: ['background job', 'async job'], action: 'Submit a job' },
	{ name: 'Queue Depth Check', aliases: ['backlog', 'queue length'] },
	{ name: 'AI Usage', aliases: ['cost per outcome', 'spend'], action: 'Record a business outcome' },
];
/**
 * The sub-nodes: no main input, they plug into a root node's slot. n8n's "What happens next?"
 * search lists them too (by `aliases` there); picked there, n8n adds a chat model as the model of
 * a new Basic LLM Chain (with its chat trigger), as it does its own `reference` chat model. Where a
 * user adds one: the `slot` ("+" under the input of connection `type`) of n8n's `root` node, whose
 * creator opens on `heading` and finds it by `slotAliases` too; `subtitle` is what its canvas node
 * shows under its name with the defaults.
 */
const SUB_NODES = [
	{
		name: 'AI Call Chat Model',
		aliases: ['fallback model', 'budget'],
		reference: 'OpenAI Chat Model',
		root: 'AI Agent',
		slot: 'Chat Model',
		type: 'ai_languageModel',
		heading: 'Language Models',
		slotAliases: ['budget', 'fallback', 'fallback model', 'OpenAI', 'Anthropic'],
		subtitle: 'gpt-4o-mini · Interactive',
		credential: 'AI Service',
	},
];
/** The package's nodes by folder (dist/nodes/QueueDepthCheck → "queuedepthcheck"), for the guard below. */
const SHIPPED = (
	JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as {
		n8n: { nodes: string[] };
	}
).n8n.nodes.map((path) => path.split('/')[2].toLowerCase());
/** Operations as the panel lists them, and their outputs (OUTPUTS in each node's source). */
const JOB_QUEUE_OUTPUTS: Array<[string, string[]]> = [
	['Submit', ['New', 'Existing', 'Invalid']],
	['Claim Due Jobs', ['Run', 'Deliver', 'To a Person']],
	['Complete', ['Recorded', 'Unrecorded']],
	['Retry Later', ['Queued', 'Not Queued']],
	['Acknowledge', ['Confirmed', 'Unconfirmed']],
	['Get', ['Found', 'Not Found']],
];
const AI_USAGE_OUTPUTS: Array<[string, string[]]> = [
	['Record Outcome', ['Recorded', 'Invalid']],
	['Report', ['Report']],
	['Check Budget', ['Within', 'Warn', 'Exceeded', 'Invalid']],
	['Prometheus Metrics', ['Metrics']],
	['Dashboard Page', ['Page']],
	['Watch State Changes', ['Changes']],
];
const BY_OPERATION = [
	{
		node: 'Job Queue',
		action: 'Submit a job',
		outputs: JOB_QUEUE_OUTPUTS,
		subtitle: (operation: string) => `${operation} · ai-jobs`,
	},
	{
		node: 'AI Usage',
		action: 'Record a business outcome',
		outputs: AI_USAGE_OUTPUTS,
		subtitle: (operation: string) => operation,
	},
];
const KEY = 'sk-e2e-key-0042';
const WORKFLOWS = join(__dirname, '../../workflows');

interface SampleJson {
	nodes: Array<{ name: string; type: string }>;
	connections: Record<string, { main: Array<Array<{ node: string }> | null> }>;
}
const sampleJson = (file: string): SampleJson =>
	JSON.parse(readFileSync(join(WORKFLOWS, file), 'utf8')) as SampleJson;
const SAMPLE_FILES = readdirSync(WORKFLOWS)
	.filter((f) => f.endsWith('.json'))
	.sort();

let n8n: RunningN8n;
let sim: Simulator;
let userFolder: string;
let samples: ImportedSample[];
let browser: EditorBrowser;

beforeAll(async () => {
	userFolder = mkdtempSync(join(tmpdir(), 'n8n-e2e-editor-'));
	await installPackage(userFolder, { mode: 'pack' });
	sim = await startSimulator({ apiKeys: [KEY] });
	n8n = await startN8n({ userFolder });
	const api = new N8nApi(n8n.url);
	await api.setupOwner();
	// a user who adds an AI Call has a credential already: n8n selects it in the new node
	const ai = await api.createCredential('AI Service', 'aiServiceApi', {
		provider: 'openai',
		baseUrl: sim.baseUrl,
		apiKey: KEY,
	});
	const rabbit = await api.createCredential('RabbitMQ', 'rabbitmq', {
		hostname: '127.0.0.1',
		port: 5672,
		username: 'guest',
		password: 'guest',
		vhost: '/',
	});
	samples = await importSamples(api, {
		credentials: {
			aiServiceApi: { id: ai.id, name: 'AI Service' },
			rabbitmq: { id: rabbit.id, name: 'RabbitMQ' },
		},
		simUrl: sim.url,
		activate: () => false,
	});
	browser = await editor.launchEditorBrowser();
	await editor.signIn(browser.page, n8n.url);
}, 900_000);

afterAll(async () => {
	await browser?.close();
	await n8n?.stop();
	await sim?.close();
	if (userFolder) rmSync(userFolder, { recursive: true, force: true });
});

printLogsOnFailure(() => n8n);

const page = () => browser.page;

describe('the nodes in the node creator', () => {
	it('covers every node the package ships', () => {
		expect(
			[...NODES, ...SUB_NODES].map((n) => n.name.replace(/ /g, '').toLowerCase()).sort(),
		).toEqual([...SHIPPED].sort());
	});

	it.each([...NODES, ...SUB_NODES])(
		'finds $name by its name and by $aliases',
		async ({ name, aliases }) => {
			await editor.newWorkflowWithTrigger(page(), n8n.url);
			expect(await editor.openNodeCreator(page(), 'plus')).toBe('What happens next?');
			const found: Record<string, boolean> = {};
			for (const query of [name, ...aliases])
				found[query] = (await editor.searchNodes(page(), query)).includes(name);
			expect(found).toEqual(Object.fromEntries([name, ...aliases].map((q) => [q, true])));
		},
	);

	it.each(NODES)(
		'adds $name from the search; its panel and its canvas node show no issue, no "undefined", no label cut off',
		async ({ name, action }) => {
			await editor.newWorkflowWithTrigger(page(), n8n.url);
			expect(await editor.openNodeCreator(page(), 'key')).toBe('What happens next?');
			expect(await editor.searchNodes(page(), name)).toContain(name);
			await editor.addFromSearch(page(), name, { action });
			expect(await editor.panelProblems(page())).toEqual({ issues: [], undefinedText: [] });
			await editor.closePanel(page());
			const onCanvas = await editor.canvasNodeProblems(page(), name);
			const node = (await editor.measureCanvas(page())).nodes.find((n) => n.name === name);
			expect({
				issues: onCanvas.issues,
				undefinedText: onCanvas.undefinedText,
				labelsCutOff: node?.handleLabels.filter((h) => h.cut).map((h) => h.text),
			}).toEqual({ issues: [], undefinedText: [], labelsCutOff: [] });
		},
	);
});

/** The connections on the canvas as "source → target (connection type)", sorted. */
const links = (canvas: Canvas) =>
	canvas.edges.map((e) => `${e.source} → ${e.target} (${e.sourceHandle?.split('/')[1]})`).sort();

describe.each(SUB_NODES)(
	'the $name, a sub-node',
	({ name, reference, root, slot, type, heading, slotAliases, subtitle, credential }) => {
		it(`is listed in the ${root}'s ${slot} slot, found there by its name and by ${slotAliases.join(', ')}; added, it is the ${root}'s ${slot}: its credential selected, "${subtitle}" under it, no issue, no "undefined", no label cut off`, async () => {
			await editor.newWorkflowWithTrigger(page(), n8n.url);
			await editor.openNodeCreator(page(), 'plus');
			expect(await editor.searchNodes(page(), root)).toContain(root);
			await editor.addFromSearch(page(), root);
			await editor.closePanel(page());
			// the root asks for its model: the issue the new sub-node must clear
			expect(await editor.canvasNodeIssues(page(), root)).toEqual([
				`No node connected to required input "${slot}"`,
			]);

			// n8n slides its language models in over "Other AI Nodes": the heading settled
			expect(await editor.openNodeCreatorFromInput(page(), root, type)).toBe(heading);
			const listed = await editor.listedNodes(page());
			const found: Record<string, boolean> = {};
			for (const query of [name, ...slotAliases])
				found[query] = (await editor.searchNodes(page(), query)).includes(name);
			expect({ listed: listed.includes(name), found }).toEqual({
				listed: true,
				found: Object.fromEntries([name, ...slotAliases].map((q) => [q, true])),
			});

			await editor.addFromSearch(page(), name);
			const panel = {
				problems: await editor.panelProblems(page()),
				credentials: await editor.panelCredentials(page()),
			};
			await editor.closePanel(page());
			const canvas = await editor.measureCanvas(page());
			const node = canvas.nodes.find((n) => n.name === name);
			const own = await editor.canvasNodeProblems(page(), name);
			expect({
				panel,
				links: links(canvas).filter((l) => l.startsWith(`${name} →`)),
				subtitle: node?.label?.text.split('\n')[1],
				labelsCutOff: node?.handleLabels.filter((h) => h.cut).map((h) => h.text),
				problems: { issues: own.issues, undefinedText: own.undefinedText },
				rootIssues: await editor.canvasNodeIssues(page(), root),
				slotOffersAnother: await editor.inputSlotOffersAdd(page(), root, type),
			}).toEqual({
				panel: { problems: { issues: [], undefinedText: [] }, credentials: [credential] },
				links: [`${name} → ${root} (${type})`],
				subtitle,
				labelsCutOff: [],
				problems: { issues: [], undefinedText: [] },
				rootIssues: [],
				slotOffersAnother: false,
			});
		});

		it(`picked from "What happens next?", it is added as n8n adds its own ${reference}: as the model of a new Basic LLM Chain, here without an issue`, async () => {
			const added: Record<string, unknown> = {};
			for (const model of [reference, name]) {
				await editor.newWorkflowWithTrigger(page(), n8n.url);
				expect(await editor.openNodeCreator(page(), 'key')).toBe('What happens next?');
				expect(await editor.searchNodes(page(), model)).toContain(model);
				await editor.addFromSearch(page(), model);
				const panel = await editor.panelProblems(page());
				await editor.closePanel(page());
				const canvas = await editor.measureCanvas(page());
				const node = canvas.nodes.find((n) => n.name === model);
				const own = await editor.canvasNodeProblems(page(), model);
				added[model] = {
					links: links(canvas),
					...(model === name && {
						panel,
						subtitle: node?.label?.text.split('\n')[1],
						labelsCutOff: node?.handleLabels.filter((h) => h.cut).map((h) => h.text),
						problems: { issues: own.issues, undefinedText: own.undefinedText },
					}),
				};
			}
			const chain = (model: string) => [
				`${model} → Basic LLM Chain (ai_languageModel)`,
				'When chat message received → Basic LLM Chain (main)',
			];
			const none = { issues: [], undefinedText: [] };
			expect(added).toEqual({
				[reference]: { links: chain(reference) },
				[name]: {
					links: chain(name),
					panel: none,
					subtitle,
					labelsCutOff: [],
					problems: none,
				},
			});
		});
	},
);

/** n8n may draw no label for a node's only output: then its name is as good as shown. */
const shownOutputs = (texts: string[], expected: string[]) =>
	expected.length === 1 && texts.length === 0 ? expected : texts;

describe.each(BY_OPERATION)(
	'a fresh $node',
	({ node: name, action, outputs: expected, subtitle }) => {
		it('shows the outputs of each operation on the canvas, whole, and no issue', async () => {
			await editor.newWorkflowWithTrigger(page(), n8n.url);
			await editor.openNodeCreator(page(), 'plus');
			await editor.searchNodes(page(), name);
			await editor.addFromSearch(page(), name, { action });
			const seen: Record<string, unknown> = {};
			for (const [operation] of expected) {
				if (!(await page().getByTestId('ndv').isVisible())) await editor.openNode(page(), name);
				const field = await editor.selectParameterOption(page(), 'operation', operation);
				const panel = await editor.panelProblems(page());
				await editor.closePanel(page());
				const node = (await editor.measureCanvas(page())).nodes.find((n) => n.name === name);
				const outputs = node?.handleLabels.filter((h) => h.handle.startsWith('outputs/')) ?? [];
				const { issues, undefinedText } = await editor.canvasNodeProblems(page(), name);
				seen[operation] = {
					field,
					subtitle: node?.label?.text.split('\n')[1],
					outputs: shownOutputs(
						outputs.map((h) => h.text),
						expected.find(([op]) => op === operation)![1],
					),
					cutOff: outputs.filter((h) => h.cut).map((h) => h.text),
					problems: { panel, canvas: { issues, undefinedText } },
				};
			}
			const none = { issues: [], undefinedText: [] };
			expect(seen).toEqual(
				Object.fromEntries(
					expected.map(([operation, outputs]) => [
						operation,
						{
							field: operation,
							subtitle: subtitle(operation),
							outputs,
							cutOff: [],
							problems: { panel: none, canvas: none },
						},
					]),
				),
			);
		});
	},
);

describe('the sample workflows on the canvas', () => {
	const opened = async (file: string) => {
		const sample = samples.find((s) => s.file === file);
		expect({ file, error: sample?.error }).toEqual({ file, error: undefined });
		await editor.openWorkflow(page(), n8n.url, sample!.id!);
		await editor.zoomToFit(page());
		return editor.measureCanvas(page());
	};

	it.each(SAMPLE_FILES)(
		'%s: no node, name, handle label or sticky note overlaps another, no label is cut off, no connection runs through a node',
		async (file) => {
			const canvas = await opened(file);
			const json = sampleJson(file);
			const drawn = json.nodes.filter((n) => n.type !== 'n8n-nodes-base.stickyNote');
			expect(canvas.nodes.map((n) => n.name).sort()).toEqual(drawn.map((n) => n.name).sort());
			expect(canvas.stickies).toHaveLength(json.nodes.length - drawn.length);
			expect(editor.canvasProblems(canvas)).toEqual([]);
		},
	);

	it.each(SAMPLE_FILES)('%s: no node shows an issue marker or "undefined"', async (file) => {
		const canvas = await opened(file);
		const problems: Record<string, Problems> = {};
		for (const { name } of canvas.nodes) {
			const { issues, undefinedText } = await editor.canvasNodeProblems(page(), name);
			if (issues.length || undefinedText.length) problems[name] = { issues, undefinedText };
		}
		expect(problems).toEqual({});
	});
});

describe('the fallback drill run from the editor', () => {
	it('"Execute workflow" sends an item down every output of the Fallback Router', async () => {
		const file = 'fallback-drill.json';
		const sample = samples.find((s) => s.file === file)!;
		await editor.openWorkflow(page(), n8n.url, sample.id!);
		sim.reset();
		await editor.executeFromTrigger(page(), 'Every morning');
		const outputs = sampleJson(file).connections['Fallback Router'].main;
		expect(outputs).toHaveLength(4);
		const counts = await editor.edgeCounts(page(), 'Fallback Router');
		const shown = Object.fromEntries(
			outputs.map((links, i) => [`output ${i}`, counts[links?.[0]?.node ?? '']]),
		);
		expect(shown).toEqual({
			'output 0': '1 item',
			'output 1': '1 item',
			'output 2': '1 item',
			'output 3': '1 item',
		});
		// the run got past the check of every branch
		expect(await editor.edgeCounts(page(), 'Passed?')).toEqual({ 'Respond 200': '1 item' });
		expect(sim.counters().requests).toBe(1); // the warm-up; the outage is simulated
	});
});

describe('the AI Service credential dialog', () => {
	it('tests the credential OK against the simulator', async () => {
		const result = await editor.testCredentialInDialog(page(), n8n.url, {
			baseUrl: sim.baseUrl,
			apiKey: KEY,
			name: 'AI Service (dialog, good key)',
		});
		expect(result).toEqual({ ok: true, message: 'Connection tested successfully' });
	});

	it('shows why a wrong key fails', async () => {
		const result = await editor.testCredentialInDialog(page(), n8n.url, {
			baseUrl: sim.baseUrl,
			apiKey: 'sk-wrong',
			name: 'AI Service (dialog, wrong key)',
		});
		expect(result).toEqual({
			ok: false,
			message: expect.stringContaining('rejected the API key (401'),
		});
	});
});
