/**
 * A real HTTP server that answers like the OpenAI and Anthropic APIs, with faults on demand.
 * Used by the tests, the benchmarks, the demo and by users for drills (`npm run ai-sim`).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

import type { Provider } from '../lib/provider';
import {
	classify,
	contextWindow,
	countInputTokens,
	countTokens,
	finishText,
	fromSchema,
	pickTool,
	PROSE_INSTEAD_OF_JSON,
	schemaMismatch,
	SIM_MODELS,
	textAnswer,
	toolArguments,
	toolResultsAnswer,
} from './answers';
import {
	extractDirective,
	FaultPlanner,
	FaultSpecError,
	parseFaultSpec,
	seededRandom,
	type FaultDecision,
	type FaultSpec,
	type HostileVariant,
} from './faults';
import {
	anthropicEvents,
	anthropicMessage,
	anthropicMessagesRequest,
	anthropicToolTurn,
	contentText,
	describeIssue,
	errorBody,
	HTML_ERROR_PAGE,
	messageText,
	modelList,
	openAiChatRequest,
	openAiChunks,
	openAiCompletion,
	openAiResponse,
	openAiResponsesRequest,
	openAiToolTurn,
	responsesAsChat,
	sseText,
	ToolRequestError,
	type Completion,
	type SseEvent,
	type ToolCall,
	type ToolTurn,
} from './wire';

export interface SimulatorOptions {
	/** 0 (default) picks a free port. */
	port?: number;
	host?: string;
	/** Keys that are accepted; 'any' accepts every non-empty key. Default: ['sim-key']. */
	apiKeys?: string[] | 'any';
	/** Fault spec applied to every request that brings none of its own (see faults.ts). */
	fault?: string;
	/** Seed for random faults and latency; repeatable runs. */
	seed?: number;
	/** Models listed by GET /v1/models (any model name is accepted on calls). */
	models?: readonly string[];
	/** Serve HTTPS with this key and certificate (PEM), e.g. a self-signed one for a benchmark. */
	tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface SimulatorCounters {
	/** Requests to the API routes that have finished (answered, failed, reset or abandoned by the client). */
	requests: number;
	inFlight: number;
	peakInFlight: number;
	/** TCP connections open right now (any route), and the most at once: what a client's cap must hold. */
	openConnections: number;
	peakOpenConnections: number;
	/** TCP connections accepted since the last reset: what a client that reuses connections keeps low. */
	connections: number;
	/** TLS handshakes completed since the last reset (full or resumed; 0 over plain HTTP). */
	tlsHandshakes: number;
	byFault: Record<string, number>;
	byStatus: Record<string, number>;
	byKey: Record<string, number>;
	byApiKey: Record<string, number>;
	byEndpoint: Record<string, number>;
	byModel: Record<string, number>;
	tokens: { input: number; output: number };
	/** Tool calls the model answered with (streamed or not). */
	toolCalls: number;
}

export interface Simulator {
	/** e.g. http://127.0.0.1:41234 */
	url: string;
	/** Base URL for the credential and for the official clients of OpenAI: `${url}/v1`. */
	baseUrl: string;
	port: number;
	counters(): SimulatorCounters;
	/** Clears the counters, the fail-first state and the inbox; the index is updated now and up. */
	reset(): void;
	/** The newest requests to the API routes (up to 1,000), oldest first: when each started and ended, and how. */
	requestLog(): RequestLogEntry[];
	/** Resolves once no request is in flight (e.g. after a client gave up on a hang), or after timeoutMs. */
	idle(timeoutMs?: number): Promise<void>;
	/** Replaces the default fault (undefined: none). Throws on a bad spec. */
	setFault(spec: string | undefined): void;
	/** What was POSTed to /_sim/inbox/<name> (callbacks, alerts), oldest first; all names without one. */
	inbox(name?: string): InboxEntry[];
	/** The time GET /_sim/index-status reports as the search index's last update; `down`: it answers 503. */
	setIndexUpdatedAt(at: Date, options?: { down?: boolean }): void;
	close(): Promise<void>;
}

export interface RequestLogEntry {
	route: string;
	/** x-sim-key header or the fault's key. */
	key?: string;
	fault: string;
	startedAt: number;
	/** When the server saw the request end (answer sent, or the client closed the connection). */
	endedAt?: number;
	/** HTTP status sent in full, a fault label, or `aborted` when the client closed the connection first. */
	outcome: string;
	/** The client's TCP port: with `ss -tnp` it names the process that sent the request (which worker). */
	remotePort?: number;
	/** When the connection that carried it closed (unset while a client keeps it alive). */
	connectionClosedAt?: number;
}

/** A request the sample workflows sent to the simulator's inbox (a stand-in for a callback or alert receiver). */
export interface InboxEntry {
	name: string;
	at: string;
	contentType?: string;
	/** The request's headers (lower-case names), e.g. a callback's Idempotency-Key. */
	headers: Record<string, string>;
	body: unknown;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;

function emptyCounters(): SimulatorCounters {
	return {
		requests: 0,
		inFlight: 0,
		peakInFlight: 0,
		openConnections: 0,
		peakOpenConnections: 0,
		connections: 0,
		tlsHandshakes: 0,
		byFault: {},
		byStatus: {},
		byKey: {},
		byApiKey: {},
		byEndpoint: {},
		byModel: {},
		tokens: { input: 0, output: 0 },
		toolCalls: 0,
	};
}

const bump = (map: Record<string, number>, key: string) => (map[key] = (map[key] ?? 0) + 1);

/** Counters may be printed and logged: never show a whole key. */
export function maskKey(key: string): string {
	return key.length <= 8 ? '***' : `${key.slice(0, 3)}…${key.slice(-4)}`;
}

function header(req: IncomingMessage, name: string): string | undefined {
	const v = req.headers[name];
	return Array.isArray(v) ? v[0] : v;
}

/** Anthropic takes x-api-key (and, in newer SDKs, a bearer token); OpenAI-compatible APIs a bearer token or Azure's api-key. */
function presentedKey(req: IncomingMessage, provider: Provider): string | undefined {
	const auth = header(req, 'authorization');
	const bearer = auth?.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : undefined;
	return provider === 'anthropic'
		? (header(req, 'x-api-key') ?? bearer)
		: (bearer ?? header(req, 'api-key'));
}

/** GET /v1/models serves both: the Anthropic client sends x-api-key and anthropic-version. */
function providerOf(req: IncomingMessage, path: string): Provider {
	if (path === '/v1/messages') return 'anthropic';
	return header(req, 'x-api-key') !== undefined || header(req, 'anthropic-version') !== undefined
		? 'anthropic'
		: 'openai';
}

function readBody(req: IncomingMessage): Promise<string> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		let size = 0;
		req.on('data', (chunk: Buffer) => {
			size += chunk.length;
			if (size > MAX_BODY_BYTES) {
				reject(new Error('too large'));
				req.destroy();
			} else chunks.push(chunk);
		});
		req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
		req.on('error', reject);
	});
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
	const apiKeys = options.apiKeys ?? ['sim-key'];
	const planner = new FaultPlanner(seededRandom(options.seed ?? Date.now()));
	const models = options.models ?? SIM_MODELS;
	let defaultFault: FaultSpec | undefined = options.fault
		? parseFaultSpec(options.fault)
		: undefined;
	let counters = emptyCounters();
	let inbox: InboxEntry[] = [];
	let indexUpdatedAt = new Date();
	let indexDown = false;
	const sockets = new Set<Socket>();
	let log: RequestLogEntry[] = [];

	const onRequest = (req: IncomingMessage, res: ServerResponse) => {
		handle(req, res).catch(() => {
			if (!res.headersSent)
				sendJson(res, 500, { error: { message: 'simulator error', type: 'server_error' } });
			else res.destroy();
		});
	};
	const server = options.tls
		? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, onRequest)
		: createServer(onRequest);
	server.on('secureConnection', () => counters.tlsHandshakes++);
	// A connection counts as open until the client closes it (its FIN or reset arrives): Node emits the
	// socket's 'close' only on a later turn of the event loop, after a new connection may have come in.
	let openConnections = 0;
	const onSocket = new WeakMap<import('node:net').Socket, RequestLogEntry[]>();
	server.on('connection', (socket) => {
		sockets.add(socket);
		counters.connections++;
		openConnections++;
		counters.openConnections = openConnections;
		counters.peakOpenConnections = Math.max(counters.peakOpenConnections, openConnections);
		let open = true;
		const closed = () => {
			if (!open) return;
			open = false;
			counters.openConnections = --openConnections;
		};
		socket.once('end', closed);
		socket.once('error', closed);
		socket.once('close', () => {
			closed();
			sockets.delete(socket);
		});
	});

	function sendJson(
		res: ServerResponse,
		status: number,
		body: unknown,
		headers: Record<string, string> = {},
	): void {
		const text = JSON.stringify(body);
		res.writeHead(status, {
			'content-type': 'application/json',
			'content-length': Buffer.byteLength(text),
			...headers,
		});
		res.end(text);
	}

	async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
		const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '') || '/';
		const route = `${req.method} ${path}`;

		if (path.startsWith('/_sim/')) return control(route, req, res);
		if (
			![
				'GET /v1/models',
				'POST /v1/chat/completions',
				'POST /v1/responses',
				'POST /v1/messages',
			].includes(route)
		) {
			return sendJson(res, 404, errorBody(providerOf(req, path), 404, `Unknown route ${route}`));
		}

		const provider = providerOf(req, path);
		const requestId = randomUUID().replace(/-/g, '').slice(0, 24);
		const idHeader: Record<string, string> =
			provider === 'anthropic'
				? { 'request-id': `req_${requestId}` }
				: { 'x-request-id': `req_${requestId}` };
		let outcome = 'aborted';
		counters.inFlight++;
		counters.peakInFlight = Math.max(counters.peakInFlight, counters.inFlight);
		const entry: RequestLogEntry = {
			route,
			fault: 'none',
			startedAt: Date.now(),
			outcome,
			remotePort: req.socket.remotePort,
		};
		if (log.length >= 1000) log.shift();
		log.push(entry);
		if (req.socket.destroyed) entry.connectionClosedAt = Date.now();
		else {
			// one close listener per connection, however many requests it carries
			const carried = onSocket.get(req.socket);
			if (carried) {
				carried.push(entry);
				if (carried.length > 1000) carried.shift();
			} else {
				const list = [entry];
				onSocket.set(req.socket, list);
				req.socket.once('close', () => {
					for (const e of list) e.connectionClosedAt = Date.now();
				});
			}
		}
		res.on('close', () => {
			counters.inFlight--;
			counters.requests++;
			bump(counters.byEndpoint, route);
			// a response that was not sent in full was abandoned by the client, whatever was planned
			if (!res.writableFinished && !['reset', 'truncated', 'stream-cut', 'hang'].includes(outcome))
				outcome = 'aborted';
			bump(counters.byStatus, outcome);
			entry.endedAt = Date.now();
			entry.outcome = outcome;
		});
		const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
			outcome = String(status);
			sendJson(res, status, body, { ...idHeader, ...headers });
		};
		const fail = (status: number, message?: string, code?: string) =>
			reply(status, errorBody(provider, status, message, code));

		let raw = '';
		if (req.method === 'POST') {
			try {
				raw = await readBody(req);
			} catch {
				return fail(413);
			}
		}

		const apiKey = presentedKey(req, provider);
		if (apiKey) bump(counters.byApiKey, maskKey(apiKey));
		if (!apiKey || (apiKeys !== 'any' && !apiKeys.includes(apiKey))) {
			const message =
				provider === 'anthropic'
					? apiKey
						? 'invalid x-api-key'
						: 'x-api-key header is required'
					: apiKey
						? `Incorrect API key provided: ${maskKey(apiKey)}.`
						: "You didn't provide an API key.";
			return fail(401, message);
		}
		if (provider === 'anthropic' && path === '/v1/messages' && !header(req, 'anthropic-version')) {
			return fail(400, 'anthropic-version: header is required');
		}

		let body: unknown = {};
		if (req.method === 'POST') {
			try {
				body = JSON.parse(raw);
			} catch {
				return fail(400, 'We could not parse the JSON body of your request.');
			}
		}
		// the Responses API is answered as the chat completion it asks for, in its own format
		const responses = route === 'POST /v1/responses';
		if (responses) {
			const r = openAiResponsesRequest.safeParse(body);
			if (!r.success) return fail(400, describeIssue(r.error));
			body = responsesAsChat(r.data);
		}

		const requested = (body as { model?: unknown }).model;
		if (typeof requested === 'string') bump(counters.byModel, requested);

		// Which fault applies: the request header, else a [[sim: …]] directive in the prompt, else the default.
		let spec: FaultSpec | undefined;
		const prompts = promptTexts(body);
		try {
			const fromHeader = header(req, 'x-sim-fault');
			const fromPrompt = prompts
				.map((t) => extractDirective(t).spec)
				.filter(Boolean)
				.join(';');
			spec = fromHeader
				? parseFaultSpec(fromHeader)
				: fromPrompt
					? parseFaultSpec(fromPrompt)
					: defaultFault;
		} catch (error) {
			return fail(400, (error as FaultSpecError).message);
		}
		const decision = planner.decide(spec);
		// Counted when decided, so a test sees a hang before the client has given up on it.
		const key = header(req, 'x-sim-key') ?? decision.key;
		if (key) bump(counters.byKey, key);
		bump(counters.byFault, labelOf(decision));
		entry.key = key;
		entry.fault = labelOf(decision);

		if (decision.delayMs > 0) {
			await new Promise<void>((resolve) => {
				const timer = setTimeout(resolve, decision.delayMs);
				res.once('close', () => {
					clearTimeout(timer);
					resolve();
				});
			});
			if (res.destroyed) return;
		}

		switch (decision.kind) {
			case 'hang':
				outcome = 'hang';
				return; // answered never; the socket closes when the client gives up or the simulator stops
			case 'reset':
				outcome = 'reset';
				req.socket.resetAndDestroy();
				return;
			case 'status': {
				const retryAfter = decision.retryAfterSec;
				return reply(
					decision.status!,
					errorBody(provider, decision.status!),
					retryAfter === undefined
						? {}
						: {
								'retry-after': String(retryAfter),
								'retry-after-ms': String(Math.round(retryAfter * 1000)),
							},
				);
			}
			case 'echo-key':
				// A gateway that quotes the request back: the key travels in the body.
				if (decision.status)
					return fail(decision.status, `Request rejected; received headers: ${echoedHeaders(req)}`);
				break;
			case 'html-error': {
				outcome = String(decision.status);
				const html = HTML_ERROR_PAGE(decision.status!);
				res.writeHead(decision.status!, {
					'content-type': 'text/html',
					'content-length': Buffer.byteLength(html),
				});
				res.end(html);
				return;
			}
		}

		if (route === 'GET /v1/models') return reply(200, modelList(provider, models));

		const parsed =
			provider === 'anthropic'
				? anthropicMessagesRequest.safeParse(body)
				: openAiChatRequest.safeParse(body);
		if (!parsed.success) return fail(400, describeIssue(parsed.error));
		// the Responses API is answered in one piece, and without tools (its tool items are read as text)
		if (responses && parsed.data.stream)
			return fail(400, 'stream: streaming is not supported by the simulator');
		const stream = parsed.data.stream === true;
		const streamOptions = (parsed.data as { stream_options?: { include_usage?: boolean } | null })
			.stream_options;
		if (streamOptions && !stream)
			return fail(400, "stream_options: 'stream_options' is only allowed when 'stream' is enabled");
		let turn: ToolTurn | undefined;
		if (!responses) {
			try {
				turn =
					provider === 'anthropic'
						? anthropicToolTurn(parsed.data as never)
						: openAiToolTurn(parsed.data as never);
			} catch (error) {
				if (error instanceof ToolRequestError) return fail(400, error.message);
				throw error;
			}
		}
		const model = parsed.data.model;

		const cleanPrompts = prompts.map((t) => extractDirective(t).text);
		// tool definitions are billed as input too: here, as their JSON text
		const tools = (parsed.data as { tools?: unknown[] }).tools;
		const inputTokens =
			countInputTokens(cleanPrompts) + (tools?.length ? countTokens(JSON.stringify(tools)) : 0);
		const window = contextWindow(model);
		if (decision.kind === 'context-length' || inputTokens > window) {
			const tokens = Math.max(inputTokens, window + 1);
			return provider === 'anthropic'
				? fail(400, `prompt is too long: ${tokens} tokens > ${window} maximum`)
				: fail(
						400,
						`This model's maximum context length is ${window} tokens. However, your messages resulted in ${tokens} tokens. Please reduce the length of the messages.`,
						'context_length_exceeded',
					);
		}

		const userText = lastUserText(provider, parsed.data);
		const json = jsonRequest(provider, parsed.data);
		const filtered = decision.kind === 'content-filter';
		// A tool call when tools are offered and wanted, and the conversation does not end with their results.
		let toolCalls: ToolCall[] | undefined;
		if (turn?.tools.length && turn.choice !== 'none' && !turn.results.length && !filtered) {
			const forced = typeof turn.choice === 'object' ? turn.choice.name : undefined;
			const tool = pickTool(turn.tools, userText, forced);
			const unique = randomUUID().replace(/-/g, '').slice(0, 24);
			toolCalls = [
				{
					id: provider === 'anthropic' ? `toolu_${unique}` : `call_${unique}`,
					name: tool.name,
					arguments: JSON.stringify(toolArguments(tool.schema, userText)),
				},
			];
		}
		let text: string;
		if (decision.kind === 'invalid-json-output') text = PROSE_INSTEAD_OF_JSON;
		else if (turn?.results.length) text = toolResultsAnswer(turn.results);
		else if (json && decision.kind === 'schema-mismatch')
			text = JSON.stringify(schemaMismatch(json.schema));
		else if (json)
			text = JSON.stringify(
				json.schema ? fromSchema(json.schema, classify(userText)) : classify(userText),
			);
		else text = textAnswer(userText);
		if (decision.kind === 'echo-key') text = `${text} (received headers: ${echoedHeaders(req)})`;

		const data = parsed.data as {
			max_tokens?: number;
			max_completion_tokens?: number;
			stop?: string | string[] | null;
			stop_sequences?: string[];
		};
		const stop =
			provider === 'anthropic' ? (data.stop_sequences ?? []) : data.stop ? [data.stop].flat() : [];
		const finished = finishText(text, data.max_completion_tokens ?? data.max_tokens, stop);
		const completion: Completion = toolCalls
			? {
					id: requestId,
					model,
					text: null,
					finish: 'tool',
					toolCalls,
					inputTokens,
					outputTokens: toolCalls.reduce((sum, t) => sum + countTokens(t.arguments), 0),
					empty: decision.kind === 'empty-choices',
				}
			: {
					id: requestId,
					model,
					text: filtered ? (provider === 'anthropic' ? null : '') : finished.text,
					finish: filtered ? 'content_filter' : finished.reason,
					stopSequence: finished.stopSequence,
					inputTokens,
					outputTokens: filtered ? 0 : countTokens(finished.text),
					empty: decision.kind === 'empty-choices',
				};
		counters.tokens.input += completion.inputTokens;
		counters.tokens.output += completion.outputTokens;
		if (!completion.empty) counters.toolCalls += completion.toolCalls?.length ?? 0;
		const created = Math.floor(Date.now() / 1000);
		const answer =
			provider === 'anthropic'
				? anthropicMessage(completion)
				: responses
					? openAiResponse(completion, created)
					: openAiCompletion(completion, created);

		if (decision.kind === 'hostile') {
			// a broken service ignores stream: true too, and sends this as one JSON body
			outcome = `hostile_${decision.hostile}`;
			return sendHostile(res, decision.hostile!, answer as Record<string, unknown>, idHeader);
		}
		if (stream) {
			const events =
				provider === 'anthropic'
					? anthropicEvents(completion)
					: openAiChunks(completion, created, streamOptions?.include_usage === true);
			const cut = decision.kind === 'stream-cut' || decision.kind === 'truncated';
			if (decision.kind === 'malformed-json') {
				// the event after the first one is not JSON
				const e = events[1];
				events[1] = { ...e, data: e.data.slice(0, -7) + '",,}' };
			}
			outcome = cut || decision.kind === 'malformed-json' ? decision.kind! : '200';
			return sendStream(res, events, idHeader, {
				spreadMs: decision.kind === 'trickle' ? (decision.trickleMs ?? 2000) : 0,
				cutAfter: cut ? cutPoint(events) : undefined,
			});
		}
		if (decision.kind === 'trickle') {
			outcome = '200';
			return trickle(res, JSON.stringify(answer), decision.trickleMs ?? 2000, idHeader);
		}
		if (decision.kind === 'malformed-json') {
			outcome = 'malformed-json';
			const broken = JSON.stringify(answer).slice(0, -7) + '",,}';
			res.writeHead(200, {
				'content-type': 'application/json',
				'content-length': Buffer.byteLength(broken),
				...idHeader,
			});
			res.end(broken);
			return;
		}
		if (decision.kind === 'truncated' || decision.kind === 'stream-cut') {
			outcome = decision.kind;
			const full = JSON.stringify(answer);
			res.writeHead(200, {
				'content-type': 'application/json',
				'content-length': Buffer.byteLength(full),
				...idHeader,
			});
			res.write(full.slice(0, Math.floor(full.length / 2)), () => res.destroy());
			return;
		}
		reply(200, answer);
	}

	function control(route: string, req: IncomingMessage, res: ServerResponse): Promise<void> | void {
		switch (route) {
			case 'GET /_sim/health':
				return sendJson(res, 200, { ok: true });
			case 'GET /_sim/counters':
				return sendJson(res, 200, counters);
			case 'GET /_sim/requests':
				return sendJson(res, 200, log);
			case 'POST /_sim/reset':
				resetAll();
				return sendJson(res, 200, { ok: true });
			case 'PUT /_sim/fault':
				return readBody(req).then((raw) => {
					try {
						const { fault } = JSON.parse(raw || '{}') as { fault?: string | null };
						defaultFault = fault ? parseFaultSpec(fault) : undefined;
						sendJson(res, 200, { fault: defaultFault?.source ?? null });
					} catch (error) {
						sendJson(res, 400, { error: { message: (error as Error).message } });
					}
				});
			// Stand-ins the sample workflows use: a search index's status endpoint and a receiver of
			// callbacks and alerts, so the demo and the tests need nothing else running.
			case 'GET /_sim/index-status':
				if (indexDown)
					return sendJson(res, 503, { error: { message: 'index status unavailable' } });
				return sendJson(res, 200, {
					index: 'documents',
					lastUpdatedAt: indexUpdatedAt.toISOString(),
				});
			case 'PUT /_sim/index-status':
				return readBody(req).then((raw) => {
					let body: { lastUpdatedAt?: string; down?: boolean };
					try {
						body = JSON.parse(raw || '{}') as typeof body;
					} catch {
						return sendJson(res, 400, { error: { message: 'the body is not JSON' } });
					}
					const at =
						body.lastUpdatedAt === undefined ? indexUpdatedAt : new Date(body.lastUpdatedAt);
					if (Number.isNaN(at.getTime()))
						return sendJson(res, 400, { error: { message: 'lastUpdatedAt is not a date' } });
					indexUpdatedAt = at;
					indexDown = body.down === true;
					sendJson(res, 200, { lastUpdatedAt: at.toISOString(), down: indexDown });
				});
			case 'GET /_sim/inbox':
				return sendJson(res, 200, inbox);
			default: {
				const name = /^\/_sim\/inbox\/([\w.-]+)$/.exec(route.slice(route.indexOf(' ') + 1))?.[1];
				if (name && req.method === 'GET')
					return sendJson(
						res,
						200,
						inbox.filter((e) => e.name === name),
					);
				if (name && req.method === 'POST')
					return readBody(req).then((raw) => {
						let body: unknown = raw;
						try {
							body = JSON.parse(raw);
						} catch {
							// kept as text
						}
						// a stand-in for tests and demos: the newest 1,000 entries are enough
						if (inbox.length >= 1000) inbox.shift();
						inbox.push({
							name,
							at: new Date().toISOString(),
							contentType: header(req, 'content-type'),
							headers: Object.fromEntries(
								Object.entries(req.headers).map(([k, v]) => [
									k,
									Array.isArray(v) ? v.join(', ') : String(v),
								]),
							),
							body,
						});
						sendJson(res, 200, { received: true });
					});
				return sendJson(res, 404, { error: { message: `Unknown control route ${route}` } });
			}
		}
	}

	function resetAll(): void {
		const inFlight = counters.inFlight;
		counters = emptyCounters();
		counters.inFlight = inFlight;
		counters.openConnections = counters.peakOpenConnections = openConnections;
		log = [];
		inbox = [];
		indexUpdatedAt = new Date();
		indexDown = false;
		planner.reset();
	}

	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
	});
	const { port } = server.address() as AddressInfo;
	const host =
		options.host && options.host !== '0.0.0.0' && options.host !== '::'
			? options.host
			: '127.0.0.1';
	const url = `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;

	return {
		url,
		baseUrl: `${url}/v1`,
		port,
		counters: () => structuredClone(counters),
		requestLog: () => structuredClone(log),
		reset: resetAll,
		idle: async (timeoutMs = 2000) => {
			const deadline = Date.now() + timeoutMs;
			while (counters.inFlight > 0 && Date.now() < deadline)
				await new Promise((r) => setTimeout(r, 5));
		},
		setFault: (spec) => {
			defaultFault = spec ? parseFaultSpec(spec) : undefined;
		},
		inbox: (name) => structuredClone(name ? inbox.filter((e) => e.name === name) : inbox),
		setIndexUpdatedAt: (at, options = {}) => {
			indexUpdatedAt = at;
			indexDown = options.down === true;
		},
		close: () =>
			new Promise<void>((resolve) => {
				server.close(() => resolve());
				for (const socket of sockets) socket.destroy();
			}),
	};
}

function labelOf(decision: FaultDecision): string {
	if (!decision.kind) return decision.delayMs > 0 ? 'latency' : 'none';
	if (decision.kind === 'hostile') return `hostile_${decision.hostile}`;
	return decision.kind === 'status' ? `status_${decision.status}` : decision.kind;
}

/** The request's headers as a gateway that quotes them back would show them (keys included). */
function echoedHeaders(req: IncomingMessage): string {
	const rest = { ...req.headers };
	delete rest.host;
	delete rest['content-length'];
	return JSON.stringify(rest);
}

/** Headers now, then the body in about 20 pieces spread over `ms`: a service that is answering, slowly. */
function trickle(
	res: ServerResponse,
	body: string,
	ms: number,
	headers: Record<string, string>,
): void {
	res.writeHead(200, {
		'content-type': 'application/json',
		'content-length': Buffer.byteLength(body),
		...headers,
	});
	res.flushHeaders();
	const pieces = 20;
	const size = Math.ceil(body.length / pieces);
	let sent = 0;
	const timer = setInterval(
		() => {
			if (res.destroyed) return clearInterval(timer);
			res.write(body.slice(sent, sent + size));
			sent += size;
			if (sent >= body.length) {
				clearInterval(timer);
				res.end();
			}
		},
		Math.max(1, Math.floor(ms / pieces)),
	);
	res.once('close', () => clearInterval(timer));
}

/**
 * Server-sent events, one at a time (spread over spreadMs, if given). With cutAfter the connection
 * closes once that many are out, with no end to the stream: a service that dies half way.
 */
function sendStream(
	res: ServerResponse,
	events: SseEvent[],
	headers: Record<string, string>,
	options: { spreadMs: number; cutAfter?: number },
): void {
	res.writeHead(200, {
		'content-type': 'text/event-stream',
		'cache-control': 'no-cache',
		...headers,
	});
	res.flushHeaders();
	const count = options.cutAfter ?? events.length;
	const gap = options.spreadMs / events.length;
	let sent = 0;
	let timer: NodeJS.Timeout | undefined;
	res.once('close', () => clearTimeout(timer));
	const next = (): void => {
		if (res.destroyed) return;
		const last = ++sent >= count;
		const cut = last && options.cutAfter !== undefined;
		res.write(sseText(events[sent - 1]), cut ? () => res.destroy() : undefined);
		if (!last) timer = setTimeout(next, gap);
		else if (!cut) res.end();
	};
	next();
}

/** Where stream-cut cuts: after the first half of the answer's pieces (at least one), else after the first event. */
function cutPoint(events: SseEvent[]): number {
	const pieces = events.flatMap((e, i) => (e.piece ? [i] : []));
	return pieces.length ? pieces[Math.ceil(pieces.length / 2) - 1] + 1 : 1;
}

const HUGE_BODY_BYTES = 40 * 1024 * 1024;

/** What a broken or hostile service sends instead of a proper answer. */
function sendHostile(
	res: ServerResponse,
	variant: HostileVariant,
	answer: Record<string, unknown>,
	headers: Record<string, string>,
): void {
	const json = (value: unknown) => Buffer.from(JSON.stringify(value));
	const withUsage = (usage: Record<string, unknown>) =>
		json({ ...answer, usage: 'usage' in answer ? usage : undefined });
	const usageKeys =
		'choices' in answer
			? ['prompt_tokens', 'completion_tokens']
			: ['input_tokens', 'output_tokens'];
	const usage = (a: unknown, b: unknown) => ({ [usageKeys[0]]: a, [usageKeys[1]]: b });
	let body: Buffer;
	switch (variant) {
		case 'not-object':
			body = json([1, 2, 3]);
			break;
		case 'null':
			body = Buffer.from('null');
			break;
		case 'choices-string':
			body = json('choices' in answer ? { ...answer, choices: 'x' } : { ...answer, content: 'x' });
			break;
		case 'usage-strings':
			body = withUsage(usage('many', 'NaN'));
			break;
		case 'usage-negative':
			body = withUsage(usage(-1_000_000, -5));
			break;
		case 'usage-huge':
			body = withUsage(usage(1e308, 1e20));
			break;
		case 'non-utf8': {
			// the answer text with bytes that are not UTF-8 in the middle of it
			const text = JSON.stringify(answer);
			const at = text.indexOf('Category');
			body = Buffer.concat([
				Buffer.from(text.slice(0, at)),
				Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
				Buffer.from(text.slice(at)),
			]);
			break;
		}
		case 'huge': {
			// a valid answer behind 40 MB of whitespace, sent as fast as the client takes it
			res.writeHead(200, { 'content-type': 'application/json', ...headers });
			const chunk = Buffer.alloc(1024 * 1024, 0x20);
			let left = HUGE_BODY_BYTES / chunk.length;
			const pump = (): void => {
				while (left > 0) {
					left--;
					if (!res.write(chunk)) return void res.once('drain', pump);
				}
				res.end(JSON.stringify(answer));
			};
			res.once('close', () => (left = 0));
			return pump();
		}
	}
	res.writeHead(200, {
		'content-type': 'application/json',
		'content-length': body.length,
		...headers,
	});
	res.end(body);
}

/** Every text in the request (system and messages) in order; faults and token counts read them. */
function promptTexts(body: unknown): string[] {
	if (typeof body !== 'object' || body === null) return [];
	const b = body as { system?: unknown; messages?: unknown };
	const texts: string[] = [];
	if (typeof b.system === 'string') texts.push(b.system);
	else if (Array.isArray(b.system)) texts.push(contentText(b.system as never));
	if (Array.isArray(b.messages))
		for (const m of b.messages as unknown[]) texts.push(messageText(m));
	return texts;
}

function lastUserText(
	_provider: Provider,
	data: { messages: Array<{ role: string; content?: unknown }> },
): string {
	const user = [...data.messages].reverse().find((m) => m.role === 'user');
	return extractDirective(contentText((user?.content ?? '') as never)).text;
}

/** JSON wanted? OpenAI says so in response_format; Anthropic in output_format or by asking for JSON in the system prompt. */
function jsonRequest(
	provider: Provider,
	data: Record<string, unknown>,
): { schema?: unknown } | undefined {
	if (provider === 'openai') {
		const rf = data.response_format as
			| { type: string; json_schema?: { schema?: unknown } }
			| undefined;
		if (rf?.type === 'json_object') return {};
		if (rf?.type === 'json_schema') return { schema: rf.json_schema?.schema };
		return undefined;
	}
	const of = data.output_format as { schema?: unknown } | undefined;
	if (of) return { schema: of.schema };
	const system =
		typeof data.system === 'string' ? data.system : contentText((data.system ?? '') as never);
	return /\bjson\b/i.test(system) ? {} : undefined;
}
