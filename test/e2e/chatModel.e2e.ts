import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { installPackage, N8nApi, startN8n, type RunningN8n } from '../../scripts/n8n-runtime';
import { startSimulator, type Simulator } from '../../simulator';
import { eventually, printLogsOnFailure } from './helpers';

// n8n's AI Agent (v3.1, as n8n 2.41.1 adds it) with the AI Call Chat Model and n8n's Calculator
// tool, in real n8n with the package from its npm tarball. The model's credential is an
// OpenAI-compatible simulator; its fallback model sits behind a second credential, an Anthropic
// simulator: the tool call goes over both wire formats. Every call lands in the usage ledger,
// which the AI Usage node reports per cost tag.

type Json = Record<string, unknown>;

const API_KEY = 'sk-e2e-agent-openai-7781';
const ANTHROPIC_KEY = 'sk-ant-e2e-agent-5512';

let n8n: RunningN8n;
let api: N8nApi;
/** The model's service (OpenAI-compatible). */
let openai: Simulator;
/** The fallback's service (Anthropic). */
let anthropic: Simulator;
let userFolder: string;
const credentials: Record<string, { id: string; name: string }> = {};

const T = {
	webhook: ['n8n-nodes-base.webhook', 2.1],
	respond: ['n8n-nodes-base.respondToWebhook', 1.5],
	agent: ['@n8n/n8n-nodes-langchain.agent', 3.1],
	calculator: ['@n8n/n8n-nodes-langchain.toolCalculator', 1],
	chatModel: ['n8n-nodes-ai-patterns.aiCallChatModel', 1],
	chain: ['@n8n/n8n-nodes-langchain.chainLlm', 1.9],
	aiUsage: ['n8n-nodes-ai-patterns.aiUsage', 1],
} as const;

function node(name: string, [type, typeVersion]: readonly [string, number], parameters: Json) {
	return {
		id: randomUUID(),
		name,
		type,
		typeVersion,
		position: [0, 0],
		parameters,
		...(type === T.webhook[0] ? { webhookId: randomUUID() } : {}),
	};
}
const main = (target: string, index = 0) => ({ node: target, type: 'main', index });

/**
 * POST {question, customer, tag} → AI Agent (model: AI Call Chat Model, tool: Calculator) →
 * {output} on success, {error} from the Agent's error output. The model: sim-standard, fallback
 * sim-large on the Anthropic credential for server errors; a budget per customer.
 */
function agentWorkflow(path: string, budgetLimitUsd: number, { streaming = false } = {}) {
	const chatModel = {
		...node('AI Call Chat Model', T.chatModel, {
			model: { __rl: true, mode: 'id', value: 'sim-standard' },
			fallbacks: {
				fallback: [{ model: 'sim-large', on: ['server_error', 'timeout'], credential: 'fallback' }],
			},
			useFallbackCredential: true,
			budgets: {
				budget: [
					{
						budgetName: `e2e-agent-${path}`,
						budgetScope: 'key',
						budgetKey: '={{ $json.body.customer }}',
						budgetPeriod: 'day',
						budgetTimeZone: 'UTC',
						budgetLimitUsd,
						budgetWarnPercent: 80,
					},
				],
			},
			options: {
				maxTokens: 200,
				maxRetries: 2,
				baseDelayMs: 50,
				maxDelayMs: 5000,
				costTag: '={{ $json.body.tag }}',
			},
		}),
		credentials: {
			aiServiceApi: credentials.openai,
			aiServiceFallbackApi: credentials.anthropic,
		},
	};
	return {
		name: `agent ${path}`,
		nodes: [
			node('POST', T.webhook, {
				httpMethod: 'POST',
				path,
				// streaming: the Agent sends its answer as it comes (n8n's chunked JSON lines)
				responseMode: streaming ? 'streaming' : 'responseNode',
				options: {},
			}),
			{
				...node('AI Agent', T.agent, {
					promptType: 'define',
					text: '={{ $json.body.question }}',
					options: {},
				}),
				onError: 'continueErrorOutput',
			},
			chatModel,
			node('Calculator', T.calculator, {}),
			node('Answer', T.respond, {
				respondWith: 'json',
				responseBody: '={{ { output: $json.output } }}',
				options: {},
			}),
			node('Failure', T.respond, {
				respondWith: 'json',
				responseBody: '={{ { error: $json.error } }}',
				options: { responseCode: 502 },
			}),
		],
		connections: {
			POST: { main: [[main('AI Agent')]] },
			'AI Agent': { main: [[main('Answer')], [main('Failure')]] },
			'AI Call Chat Model': {
				ai_languageModel: [[{ node: 'AI Agent', type: 'ai_languageModel', index: 0 }]],
			},
			Calculator: { ai_tool: [[{ node: 'AI Agent', type: 'ai_tool', index: 0 }]] },
		},
	};
}

/** POST {question, tag} → Basic LLM Chain with the chat model (no tools, no fallback) → {text}. */
function chainWorkflow() {
	return {
		name: 'chain agent-test/chain',
		nodes: [
			node('POST', T.webhook, {
				httpMethod: 'POST',
				path: 'agent-test/chain',
				responseMode: 'responseNode',
				options: {},
			}),
			node('Basic LLM Chain', T.chain, {
				promptType: 'define',
				text: '={{ $json.body.question }}',
			}),
			{
				...node('AI Call Chat Model', T.chatModel, {
					model: { __rl: true, mode: 'id', value: 'sim-standard' },
					options: { maxRetries: 1, baseDelayMs: 50, costTag: '={{ $json.body.tag }}' },
				}),
				credentials: { aiServiceApi: credentials.openai },
			},
			node('Answer', T.respond, {
				respondWith: 'json',
				responseBody: '={{ { text: $json.text } }}',
				options: {},
			}),
		],
		connections: {
			POST: { main: [[main('Basic LLM Chain')]] },
			'Basic LLM Chain': { main: [[main('Answer')]] },
			'AI Call Chat Model': {
				ai_languageModel: [[{ node: 'Basic LLM Chain', type: 'ai_languageModel', index: 0 }]],
			},
		},
	};
}

/** GET ?tag= → AI Usage Report for that cost tag over the last hour. */
function reportWorkflow() {
	return {
		name: 'agent usage report',
		nodes: [
			node('GET report', T.webhook, {
				path: 'agent-test/report',
				responseMode: 'responseNode',
				options: {},
			}),
			node('Report', T.aiUsage, {
				operation: 'report',
				window: 'lastHour',
				groupBy: 'model',
				filterTag: '={{ $json.query.tag }}',
			}),
			node('Respond report', T.respond, { respondWith: 'allIncomingItems', options: {} }),
		],
		connections: {
			'GET report': { main: [[main('Report')]] },
			Report: { main: [[main('Respond report')]] },
		},
	};
}

interface ReportRow {
	group: { model: string | null };
	calls: number;
	succeeded: number;
	failed: number;
	attempts: number;
	retries: number;
	fallbacks: number;
	inputTokens: number;
	outputTokens: number;
	costUsd: number;
	failuresByClass: Record<string, number>;
}

async function ask(
	path: string,
	body: { question: string; customer: string; tag: string },
): Promise<{ status: number; json: { output?: string; error?: string } }> {
	const res = await fetch(`${n8n.url}/webhook/${path}`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify(body),
	});
	const text = await res.text();
	try {
		return { status: res.status, json: JSON.parse(text) };
	} catch {
		throw new Error(`POST ${path}: ${res.status} ${text}`);
	}
}

/** The ledger's rows for a tag, once they hold `calls` calls (the ledger flushes within a second or so). */
async function report(tag: string, calls: number): Promise<ReportRow[]> {
	return eventually(`${calls} calls in the ledger for tag ${tag}`, async () => {
		const res = await fetch(`${n8n.url}/webhook/agent-test/report?tag=${encodeURIComponent(tag)}`);
		const rows = (await res.json()) as ReportRow[] | ReportRow;
		const list = (Array.isArray(rows) ? rows : [rows]).filter((r) => r.calls);
		return list.reduce((n, r) => n + r.calls, 0) >= calls ? list : undefined;
	});
}

/** n8n's streamed webhook answer: one JSON object per line, {type: begin | item | end | error, content}. */
async function askStreaming(body: Json): Promise<{
	status: number;
	chunks: Array<{ type: string; content?: string; at: number }>;
}> {
	const res = await fetch(`${n8n.url}/webhook/agent-test/stream`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify(body),
	});
	const chunks: Array<{ type: string; content?: string; at: number }> = [];
	const decoder = new TextDecoder();
	let buffer = '';
	for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
		buffer += decoder.decode(piece, { stream: true });
		let nl: number;
		while ((nl = buffer.indexOf('\n')) !== -1) {
			const line = buffer.slice(0, nl).trim();
			buffer = buffer.slice(nl + 1);
			if (line) chunks.push({ ...(JSON.parse(line) as { type: string }), at: Date.now() });
		}
	}
	if (buffer.trim()) chunks.push({ ...(JSON.parse(buffer) as { type: string }), at: Date.now() });
	return { status: res.status, chunks };
}

const chatRequests = (sim: Simulator) =>
	sim.counters().byEndpoint['POST /v1/chat/completions'] ?? 0;
const messageRequests = (sim: Simulator) => sim.counters().byEndpoint['POST /v1/messages'] ?? 0;
const byModel = (rows: ReportRow[], model: string) => rows.find((r) => r.group.model === model);

describe('AI Agent with the AI Call Chat Model in real n8n', () => {
	beforeAll(async () => {
		userFolder = mkdtempSync(join(tmpdir(), 'n8n-e2e-agent-'));
		await installPackage(userFolder, { mode: 'pack' });
		openai = await startSimulator({ apiKeys: [API_KEY] });
		anthropic = await startSimulator({ apiKeys: [ANTHROPIC_KEY] });
		n8n = await startN8n({ userFolder });
		api = new N8nApi(n8n.url);
		await api.setupOwner();
		for (const [key, name, data] of [
			['openai', 'AI Service', { provider: 'openai', baseUrl: openai.baseUrl, apiKey: API_KEY }],
			[
				'anthropic',
				'AI Service (Anthropic)',
				{ provider: 'anthropic', baseUrl: anthropic.baseUrl, apiKey: ANTHROPIC_KEY },
			],
		] as const) {
			const type = key === 'openai' ? 'aiServiceApi' : 'aiServiceFallbackApi';
			credentials[key] = { id: (await api.createCredential(name, type, data)).id, name };
		}
		await api.importWorkflow(agentWorkflow('agent-test/ask', 1));
		await api.importWorkflow(agentWorkflow('agent-test/stream', 1, { streaming: true }));
		// a budget below one call's worst case: every call is refused before it is sent
		await api.importWorkflow(agentWorkflow('agent-test/ask-tight', 0.00001));
		await api.importWorkflow(reportWorkflow());
		await api.importWorkflow(chainWorkflow());
	}, 600_000);

	afterAll(async () => {
		await n8n?.stop();
		await openai?.close();
		await anthropic?.close();
		if (userFolder) rmSync(userFolder, { recursive: true, force: true });
	});

	beforeEach(() => {
		for (const sim of [openai, anthropic]) {
			sim.reset();
			sim.setFault(undefined);
		}
	});
	printLogsOnFailure(() => n8n);

	it('answers with the tool: the model calls the Calculator, the Agent runs it, the model answers with its result; both calls in the ledger with their cost', async () => {
		const tag = `e2e-answer-${Date.now()}`;
		const reply = await ask('agent-test/ask', { question: '6 * 7', customer: 'acme', tag });
		expect(reply.status).toBe(200);
		expect(reply.json.output).toContain('42');
		// one call that asked for the tool, one that answered with its result
		expect(chatRequests(openai)).toBe(2);
		expect(openai.counters().toolCalls).toBe(1);
		const [row] = await report(tag, 2);
		expect(row).toMatchObject({
			group: { model: 'sim-standard' },
			calls: 2,
			succeeded: 2,
			retries: 0,
		});
		expect(row.costUsd).toBeGreaterThan(0);
		expect(row.inputTokens).toBeGreaterThan(0);
	});

	it('a 429 with Retry-After is waited out and retried inside the model: the Agent answers, the ledger shows the retry', async () => {
		openai.setFault('fail-first=1;status=429;retry-after=1');
		const tag = `e2e-429-${Date.now()}`;
		const started = Date.now();
		const reply = await ask('agent-test/ask', { question: '6 * 7', customer: 'acme', tag });
		expect(reply.status).toBe(200);
		expect(reply.json.output).toContain('42');
		expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // Retry-After: 1 s
		expect(chatRequests(openai)).toBe(3);
		const [row] = await report(tag, 2);
		expect(row).toMatchObject({ calls: 2, succeeded: 2, attempts: 3, retries: 1, fallbacks: 0 });
	});

	it('a 500 storm on the model: retried, then the fallback model on the Anthropic credential answers, tool call included', async () => {
		openai.setFault('status=500');
		const tag = `e2e-storm-${Date.now()}`;
		const reply = await ask('agent-test/ask', { question: '6 * 7', customer: 'acme', tag });
		expect(reply.status).toBe(200);
		expect(reply.json.output).toContain('42');
		// each of the two calls: 1 attempt + 2 retries at the model, then the fallback
		expect(chatRequests(openai)).toBe(6);
		expect(messageRequests(anthropic)).toBe(2);
		expect(anthropic.counters().toolCalls).toBe(1);
		const rows = await report(tag, 2);
		const fallback = byModel(rows, 'sim-large');
		expect(fallback).toMatchObject({ calls: 2, succeeded: 2, retries: 4, fallbacks: 2 });
		expect(fallback!.attempts).toBe(8);
		expect(fallback!.costUsd).toBeGreaterThan(0);
	});

	it("a spent budget refuses the Agent's call before anything is sent: the Agent's error output names budget_exceeded", async () => {
		const tag = `e2e-budget-${Date.now()}`;
		const reply = await ask('agent-test/ask-tight', { question: '6 * 7', customer: 'acme', tag });
		expect(reply.status).toBe(502);
		expect(reply.json.error).toMatch(/^budget_exceeded: /);
		// the customer's budget: its key came from the Agent's item ({{ $json.body.customer }})
		expect(reply.json.error).toContain('"acme"');
		expect(chatRequests(openai)).toBe(0);
		const [row] = await report(tag, 1);
		expect(row).toMatchObject({ calls: 1, failed: 1, attempts: 0, costUsd: 0 });
		expect(row.failuresByClass).toEqual({ budget_exceeded: 1 });
	});

	it('streams: the Agent sends the answer in pieces as the service streams it, after a tool call and a retried 429', async () => {
		// the answer's events spread over 1.5 s: pieces must reach the caller before the end
		openai.setFault('fail-first=1;status=429;retry-after=1');
		const tag = `e2e-stream-${Date.now()}`;
		const { status, chunks } = await askStreaming({ question: '6 * 7', customer: 'acme', tag });
		expect(status).toBe(200);
		const items = chunks.filter((c) => c.type === 'item');
		expect(items.length).toBeGreaterThan(1);
		expect(items.map((c) => c.content).join('')).toContain('42');
		expect(chunks.at(-1)?.type).toBe('end');
		// both calls streamed (the tool call too), the first after one retry
		expect(openai.counters().toolCalls).toBe(1);
		expect(chatRequests(openai)).toBe(3);
		const [row] = await report(tag, 2);
		expect(row).toMatchObject({ calls: 2, succeeded: 2, retries: 1 });
		expect(row.outputTokens).toBeGreaterThan(0);
	});

	it('streams pieces before the answer is complete (a slow stream)', async () => {
		openai.setFault('trickle=2000');
		const { chunks } = await askStreaming({
			question: 'Hello there',
			customer: 'acme',
			tag: 'e2e-slow',
		});
		const items = chunks.filter((c) => c.type === 'item');
		expect(items.length).toBeGreaterThan(2);
		// the first piece arrived well before the last: not one answer cut up at the end
		expect(items.at(-1)!.at - items[0].at).toBeGreaterThan(500);
	});

	it("an item whose budget key is empty fails the Agent's call as bad_request naming the field, without a call; the next item is answered", async () => {
		const tag = `e2e-nokey-${Date.now()}`;
		const reply = await ask('agent-test/ask', { question: '6 * 7', customer: '', tag });
		expect(reply.status).toBe(502);
		expect(reply.json.error).toMatch(/^bad_request: .*Key/);
		expect(chatRequests(openai)).toBe(0);
		const next = await ask('agent-test/ask', { question: '6 * 7', customer: 'acme', tag });
		expect(next.json.output).toContain('42');
	});

	it('a Basic LLM Chain takes the model too: its answer, a 503 retried, one call in the ledger', async () => {
		openai.setFault('fail-first=1;status=503;retry-after=0');
		const tag = `e2e-chain-${Date.now()}`;
		const res = await fetch(`${n8n.url}/webhook/agent-test/chain`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ question: 'My invoice shows the wrong amount', tag }),
		});
		expect(res.status).toBe(200);
		expect(((await res.json()) as { text: string }).text).toMatch(/Category: invoice/);
		expect(chatRequests(openai)).toBe(2);
		const [row] = await report(tag, 1);
		expect(row).toMatchObject({ calls: 1, succeeded: 1, attempts: 2, retries: 1 });
	});

	it('no key leaves n8n: not in answers, errors or the log, even when the service echoes it', async () => {
		openai.setFault('echo-key');
		const tag = `e2e-echo-${Date.now()}`;
		const reply = await ask('agent-test/ask', { question: '6 * 7', customer: 'acme', tag });
		expect(JSON.stringify(reply.json)).not.toContain(API_KEY);
		const streamed = await askStreaming({ question: 'Hello there', customer: 'acme', tag });
		expect(JSON.stringify(streamed.chunks)).toContain('[redacted]');
		expect(JSON.stringify(streamed.chunks)).not.toContain(API_KEY);
		expect(n8n.logTail(2000)).not.toContain(API_KEY);
	});
});
