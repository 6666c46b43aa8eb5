import type { Readable } from 'node:stream';

import {
	NodeConnectionTypes,
	NodeOperationError,
	type ICredentialDataDecryptedObject,
	type ICredentialsDecrypted,
	type IDataObject,
	type IExecuteFunctions,
	type ILoadOptionsFunctions,
	type INodeExecutionData,
	type INodeListSearchResult,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';

import { readBodyText } from '../../lib/ai/body';
import { breakerPolicy } from '../../lib/ai/breakerPolicy';
import { BudgetBook } from '../../lib/ai/budget';
import { budgetPolicy } from '../../lib/ai/budgetPolicy';
import { cachePolicies } from '../../lib/ai/cache';
import type { RetryRecord, Transport, TransportRequest } from '../../lib/ai/call';
import { executionBudget } from '../../lib/ai/executionBudget';
import { AiCallError, TRANSIENT } from '../../lib/ai/failure';
import { createAiHandler, type Answered, type HandlerResult } from '../../lib/ai/handler';
import { ledgerFor } from '../../lib/ai/ledger';
import { ledgerPolicy } from '../../lib/ai/ledgerPolicy';
import { limitPolicy } from '../../lib/ai/limitPolicy';
import { CRASH_SLACK_MS, type AiPolicy, type CallContext } from '../../lib/ai/policy';
import { parsePriceOverrides, type Cost } from '../../lib/ai/pricing';
import { LimitRefusal, SharedLimit } from '../../lib/ai/sharedLimit';
import { undiciTransport, type EgressFilter } from '../../lib/ai/transport';
import { parseModelList } from '../../lib/ai/wire';
import { CallLimiter } from '../../lib/limit';
import {
	authHeaders,
	normaliseBaseUrl,
	type AiServiceCredentials,
	type Provider,
} from '../../lib/provider';
import { createRedactor, credentialSecrets } from '../../lib/redact';
import type { StateStore } from '../../lib/stores';
import { hasExpression, rawParameter } from '../shared/parameters';
import { openStore, storeCredentials } from '../shared/store';
import { readItemSettings, readNodeSettings, type ItemSettings } from './settings';
import { properties } from './properties';

const PRIMARY = 'aiServiceApi';
const FALLBACK = 'aiServiceFallbackApi';
/** How long reading item settings runs before it lets answers in (see execute). */
const READ_SLICE_MS = 4;

// A constant, not a literal in the description: n8n's lint rule on credential names cannot read a spread.
const CREDENTIALS = [
	{ name: PRIMARY, required: true },
	// "/": the editor draws all credentials above the last parameter one names without it (see storeCredentials)
	{
		name: FALLBACK,
		required: true,
		displayOptions: { show: { '/useFallbackCredential': [true] } },
	},
	...storeCredentials,
];

/**
 * "gpt-4o-mini · Interactive". $parameter gives a resource locator's value (an object only when
 * saved without __rl); an expression model is already resolved, to nothing on the canvas.
 */
const SUBTITLE =
	'={{ (() => { let m; try { m = $parameter["model"]; } catch (e) { m = "="; }' +
	' if (m && typeof m === "object") m = m.value;' +
	' m = typeof m === "string" ? m.trim() : "";' +
	' return (m === "=" ? "model from expression" : m || "no model") + " · " +' +
	' ({ realtime: "Real-Time", interactive: "Interactive", batch: "Batch", custom: "Custom Timeout" }[$parameter["timeoutPreset"]] || "Interactive"); })() }}';

export class AiCall implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'AI Call',
		name: 'aiCall',
		icon: { light: 'file:aiCall.svg', dark: 'file:aiCall.dark.svg' },
		group: ['transform'],
		// 1.1: Store defaults to Auto (1 keeps the Local File, so saved workflows keep their store)
		version: [1, 1.1],
		defaultVersion: 1.1,
		subtitle: SUBTITLE,
		description:
			'Call an AI model (OpenAI-compatible or Anthropic) with timeouts, smart retries, fallback models, cost tracking and classified failures',
		defaults: { name: 'AI Call' },
		usableAsTool: undefined, // not an agent tool (no "AI Call Tool"): that needs its own design and tests
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Success', 'Failed'],
		credentials: CREDENTIALS,
		properties,
	};

	methods = {
		listSearch: {
			async searchModels(
				this: ILoadOptionsFunctions,
				filter?: string,
			): Promise<INodeListSearchResult> {
				const credentials = await this.getCredentials(PRIMARY);
				const baseUrl = normaliseBaseUrl(
					credentials.baseUrl as string,
					credentials.provider as Provider,
				);
				const text = (await this.helpers.httpRequestWithAuthentication.call(this, PRIMARY, {
					method: 'GET',
					url: `${baseUrl}/models`,
					encoding: 'text',
					json: false,
				})) as string;
				const ids = parseModelList(text).filter(
					(id) => !filter || id.toLowerCase().includes(filter.toLowerCase()),
				);
				return { results: ids.sort().map((id) => ({ name: id, value: id })) };
			},
		},
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		if (!items.length) return [[], []];
		const node = this.getNode();
		const settings = readNodeSettings(this);
		const primary = await this.getCredentials(PRIMARY);
		const fallback = settings.useFallbackCredential
			? await this.getCredentials(FALLBACK)
			: undefined;
		const endpoint = (c: IDataObject) => ({
			provider: (c.provider as Provider) ?? 'openai',
			baseUrl: normaliseBaseUrl(c.baseUrl as string, (c.provider as Provider) ?? 'openai'),
		});
		const endpoints = {
			primary: endpoint(primary),
			fallback: fallback ? endpoint(fallback) : undefined,
		};
		const decrypted = (
			type: string,
			data: ICredentialDataDecryptedObject | undefined,
		): ICredentialsDecrypted | undefined => {
			const ref = node.credentials?.[type];
			return data && ref ? { id: ref.id ?? '', name: ref.name, type, data } : undefined;
		};
		const decryptedPrimary = decrypted(PRIMARY, primary);
		const decryptedFallback = decrypted(FALLBACK, fallback);
		// Secrets never leave the node: every error message and log line is redacted on its way out.
		const redact = createRedactor([...credentialSecrets(primary), ...credentialSecrets(fallback)]);

		// Item 0 first: a mistake in a fixed value is every item's and stops the node before any call.
		// The other items are read as the calls go (see the end), so that n8n's expression work for
		// them overlaps the calls in flight instead of delaying the first one.
		const prepared: ItemSettings[] = [];
		const prepare = (i: number): ItemSettings => {
			const s = readItemSettings(this, i);
			if (s.fallbacks.some((f) => f.credential === 'fallback') && !endpoints.fallback) {
				throw new NodeOperationError(
					node,
					'A fallback model uses the fallback credential: turn on "Fallbacks Use Another Credential" and choose one',
					{ itemIndex: i },
				);
			}
			return (prepared[i] = s);
		};
		prepare(0);
		let priceOverrides: ReturnType<typeof parsePriceOverrides>;
		try {
			priceOverrides = parsePriceOverrides(settings.priceOverrides);
		} catch (error) {
			throw new NodeOperationError(node, (error as Error).message, { itemIndex: 0 });
		}

		const stateOn = settings.responseCache !== 'off' || settings.keepLastGood;
		const budgetsOn = budgetsConfigured(this);
		const needStore = stateOn || settings.circuitBreaker || settings.sharedLimit || budgetsOn;
		let store: StateStore | undefined;
		if (needStore) store = await openStore(this);
		else if (settings.usageLedger) {
			// the ledger alone must never stop a call: without its store the calls go on, unrecorded
			try {
				store = await openStore(this);
			} catch (error) {
				this.logger.warn(
					`AI Call: the usage ledger is off for this run, its store failed (${redact.text((error as Error).message)})`,
				);
			}
		}
		const signal = this.getExecutionCancelSignal();
		const workflow = this.getWorkflow();
		/** n8n's default log format prints only the message: the identifiers go into the text too. */
		const warn = (message: string, meta: Record<string, unknown>) => {
			const clean: IDataObject = {
				...(meta as IDataObject),
				...(meta.error ? { error: redact.text(String(meta.error)) } : {}),
			};
			this.logger.warn(redact.text(logText(message, clean)), clean);
		};

		const storeWarn = (message: string) => this.logger.warn(redact.text(message));
		// The lifecycle's order: cache answers first; each attempt enters the breaker, then the
		// execution budget, then the shared limit.
		const policies: AiPolicy[] = [];
		if (store && stateOn) {
			policies.push(
				...cachePolicies({
					store,
					entryFor: ({ item }) => {
						const s = prepared[item];
						return {
							namespace: s.cacheNamespace,
							key: s.cacheKey,
							ttlMs: settings.responseCache !== 'off' ? s.cacheTtlMs : undefined,
							forceRefresh: s.forceRefresh,
							lastGoodMs: settings.keepLastGood ? s.lastGoodRetentionMs : undefined,
						};
					},
				}),
			);
		}
		if (store && settings.circuitBreaker)
			policies.push(
				breakerPolicy({
					store,
					name: settings.breaker.name,
					options: settings.breaker,
					warn: storeWarn,
				}),
			);
		policies.push(
			executionBudget({
				key: `${this.getExecutionId()}:${node.id}`,
				budgetUsd: settings.budgetUsd,
				overrides: priceOverrides,
			}),
		);
		if (store && settings.sharedLimit)
			policies.push(
				limitPolicy(
					new SharedLimit(store, settings.sharedLimit),
					settings.usageLedger
						? (fields) => ledgerFor(store).tallyLimit(settings.sharedLimit!.name, fields)
						: undefined,
				),
			);
		// after the limit's wait: a reservation is held only while the attempt runs
		if (store && budgetsOn)
			policies.push(
				budgetPolicy({
					book: new BudgetBook(store),
					usesFor: (item) => prepared[item].budgets,
					overrides: priceOverrides,
					holdMs: (attemptTimeoutMs) => attemptTimeoutMs + CRASH_SLACK_MS,
					warn: storeWarn,
					onWarning: (state, item) =>
						warn(
							`AI Call: budget "${state.name}"${state.scopeKey ? ` for "${state.scopeKey.slice(0, 80)}"` : ''} passed its warn threshold: ${state.percent.toFixed(1)} % of its ${state.limitUsd ? `${state.limitUsd} USD` : `${state.limitTokens} tokens`} this ${state.period}`,
							{
								workflowId: String(workflow.id ?? '') || undefined,
								executionId: this.getExecutionId(),
								node: node.name,
								item,
							},
						),
				}),
			);
		if (store && settings.usageLedger) {
			const writer = ledgerFor(store);
			writer.warn = (message) => this.logger.warn(redact.text(message));
			policies.push(ledgerPolicy(writer, settings.usageEventTtlMs));
		}

		const handler = createAiHandler({
			policies,
			transport: transportFor(
				this,
				{ primary, fallback },
				{ primary: decryptedPrimary, fallback: decryptedFallback },
			),
			warn,
			priceOverrides,
			storeLabel: store?.label,
		});
		const limiter = new CallLimiter(settings.maxConcurrency, settings.requestsPerMinute);

		const runItem = async (i: number): Promise<[0 | 1, INodeExecutionData]> => {
			const s = prepared[i];
			const call: CallContext = {
				item: i,
				request: s.request,
				targets: [
					{ model: s.model, credential: 'primary', ...endpoints.primary },
					...s.fallbacks.map((f) => ({
						model: f.model,
						credential: f.credential,
						on: new Set(f.on),
						...(f.credential === 'fallback' ? endpoints.fallback! : endpoints.primary),
					})),
				],
				costTag: s.costTag,
				workflow: { id: String(workflow.id ?? ''), name: String(workflow.name ?? '') },
				executionId: this.getExecutionId(),
				node: node.name,
				attemptTimeoutMs: s.attemptTimeoutMs,
				signal,
			};
			const r = await handler.run(call, {
				totalTimeoutMs: s.totalTimeoutMs,
				maxRetries: s.maxRetries,
				backoff: { baseMs: s.baseDelayMs, maxMs: s.maxDelayMs },
				limiter,
				validate: s.validate,
				// An item whose own values cannot make a request fails alone, naming the field.
				noCall: s.inputError
					? { error: s.inputError, outcome: 'failed' }
					: s.simulate
						? {
								error: new AiCallError(
									s.simulateClass,
									'Simulated outage (drill): no call was made',
								),
								outcome: 'simulated',
							}
						: undefined,
				shape: (outcome, cost) => answerOf(outcome, cost, s),
			});
			if (!r.ok) return [1, failedItem(i, r)];
			const result = r.cached
				? {
						...r.answer,
						usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
						cost: { ...r.result.cost },
						latencyMs: r.result.latencyMs,
						attempts: 0,
						retries: [],
						fallbackUsed: false,
						cached: true,
					}
				: r.answer;
			return [0, success(i, s, { ...result, ...r.extra } as IDataObject)];
		};

		/** The answer as the item shows it and the cache keeps it; only the credential's secrets are taken out. */
		const answerOf = (outcome: Answered, cost: Cost, s: ItemSettings): IDataObject => {
			const answer: IDataObject = {
				text: redact.exact(outcome.answer.text),
				model: outcome.answer.model,
				provider: outcome.target.provider,
				finishReason: outcome.answer.finishReason,
				usage: {
					inputTokens: outcome.inputTokens,
					outputTokens: outcome.outputTokens,
					totalTokens: outcome.inputTokens + outcome.outputTokens,
				},
				cost: { ...cost },
				latencyMs: outcome.latencyMs,
				attempts: outcome.attempts,
				retries: retriesOf(outcome.retries),
				fallbackUsed: outcome.fallbackUsed,
				cached: false,
			};
			if (s.request.responseFormat !== 'text')
				answer.json = redact.exact(outcome.json) as IDataObject;
			return answer;
		};

		/** Which store served the cache, last good answer, breaker or limit (Auto resolves to one). */
		const withStore = (result: IDataObject): IDataObject =>
			store ? { ...result, store: store.kind } : result;
		const success = (i: number, s: ItemSettings, result: IDataObject): INodeExecutionData => {
			const merge = s.outputMode === 'merge';
			const item: INodeExecutionData = {
				json: merge
					? { ...items[i].json, [s.outputField]: withStore(result) }
					: { [s.outputField]: withStore(result) },
				pairedItem: { item: i },
			};
			if (merge && items[i].binary) item.binary = items[i].binary;
			return item;
		};

		const failedItem = (
			i: number,
			r: Extract<HandlerResult, { ok: false }>,
		): INodeExecutionData => {
			const { error, result } = r;
			const failed: INodeExecutionData = {
				json: {
					...items[i].json,
					error: {
						class: error.failureClass,
						message: redact.text(error.message),
						httpStatus: error.httpStatus ?? null,
						provider: result.provider,
						model: result.model,
						attempts: result.attempts,
						retries: retriesOf(r.retries),
						retryable: TRANSIENT.has(error.failureClass),
						retryAfterMs: error.retryAfterMs ?? null,
						// what the attempts cost: every item's cost adds up to the spend
						cost: { ...result.cost },
						...(result.outcome === 'simulated' ? { simulated: true } : {}),
						...(r.extra as IDataObject), // the cache entry's name (cache), budgets' states
						...(store ? { store: store.kind } : {}),
						// our own limit said no: nothing is wrong with the service (a retry need not count as a failure)
						...(error instanceof LimitRefusal ? { sharedLimit: error.limit } : {}),
					},
				},
				pairedItem: { item: i },
			};
			if (items[i].binary) failed.binary = items[i].binary;
			return failed;
		};

		// Every item starts as soon as its settings are read; the limiter caps calls in flight. Reading
		// yields to the event loop every few milliseconds, so answers are taken in and slots refilled
		// while the rest are read. The first fault stops reading; the calls already started settle.
		const started: Array<Promise<[0 | 1, INodeExecutionData]>> = [];
		let fault: unknown;
		let sliceStart = performance.now();
		for (let i = 0; i < items.length; i++) {
			if (performance.now() - sliceStart > READ_SLICE_MS) {
				await new Promise(setImmediate);
				sliceStart = performance.now();
				// a started call's fault arrives only while reading yields
				if (fault !== undefined) break;
			}
			try {
				if (!prepared[i]) prepare(i);
			} catch (error) {
				fault = error;
				break;
			}
			const run = runItem(i);
			run.catch((error: unknown) => (fault ??= error));
			started.push(run);
		}
		const results = await Promise.allSettled(started);
		if (fault !== undefined) {
			// a cancelled execution, an item's settings that stop the node, or an unexpected fault:
			// its message leaves redacted as well
			if (fault instanceof NodeOperationError) {
				fault.message = redact.text(fault.message);
				// eslint-disable-next-line @n8n/community-nodes/require-node-api-error -- already n8n's error, redacted
				throw fault;
			}
			throw new NodeOperationError(node, redact.text((fault as Error).message ?? String(fault)));
		}
		const outputs: INodeExecutionData[][] = [[], []];
		for (const r of results) {
			const [output, item] = (r as PromiseFulfilledResult<[0 | 1, INodeExecutionData]>).value;
			outputs[output].push(item);
		}
		return outputs;
	}
}

/** The retries as the item shows them (the model is in the log lines). */
function retriesOf(retries: RetryRecord[]): IDataObject[] {
	return retries.map(({ attempt, class: cls, httpStatus, waitMs }) => ({
		attempt,
		class: cls,
		httpStatus,
		waitMs,
	}));
}

type Credential = TransportRequest['credential'];
type CredentialData = {
	primary: ICredentialDataDecryptedObject;
	fallback?: ICredentialDataDecryptedObject;
};
const dataOf = (data: CredentialData, c: Credential) =>
	(c === 'fallback' ? data.fallback : data.primary) ?? {};

/**
 * The package's keep-alive transport (lib/ai/transport.ts) with n8n's egress filter where n8n
 * offers one to nodes that bring their own client (this.helpers.getSecureEgressFilter), else n8n's
 * request helper. N8N_AI_PATTERNS_TRANSPORT=helper chooses the helper (a comparison, an escape
 * hatch). The key headers come from the one function the credential's authenticate uses.
 */
function transportFor(
	ctx: IExecuteFunctions,
	data: CredentialData,
	decrypted: { primary?: ICredentialsDecrypted; fallback?: ICredentialsDecrypted },
): Transport {
	const egressFilter = (ctx.helpers as { getSecureEgressFilter?: () => EgressFilter })
		.getSecureEgressFilter;
	if (typeof egressFilter !== 'function' || process.env.N8N_AI_PATTERNS_TRANSPORT === 'helper')
		return n8nTransport(ctx, data, decrypted);
	const headers: Partial<Record<Credential, Record<string, string>>> = {};
	return undiciTransport({
		egress: egressFilter.call(ctx.helpers),
		headers: (c) =>
			(headers[c] ??= authHeaders(dataOf(data, c) as unknown as AiServiceCredentials)),
		ignoreSsl: (c) => dataOf(data, c).ignoreSslIssues === true,
	});
}

/**
 * Calls through n8n's request helper (proxy, SSRF protection, credential auth) so that an abort
 * really closes the socket. n8n 2.41.1's httpRequestWithAuthentication overwrites
 * `requestOptions.abortSignal` with `this.getExecutionCancelSignal()` (n8n-core
 * request-helpers/authentication.js) and forwards it to axios as its `signal`; so the helper is
 * called on a view of the context whose cancel signal is the attempt's own (deadline or
 * cancellation). The body is read as a stream with a size cap, and destroyed on abort.
 */
function n8nTransport(
	ctx: IExecuteFunctions,
	data: CredentialData,
	decrypted: { primary?: ICredentialsDecrypted; fallback?: ICredentialsDecrypted },
): Transport {
	return async ({ url, body, credential, timeoutMs, signal }) => {
		const attemptCtx = Object.create(ctx, {
			getExecutionCancelSignal: { value: () => signal },
		}) as IExecuteFunctions;
		const response = (await ctx.helpers.httpRequestWithAuthentication.call(
			attemptCtx,
			credential === 'fallback' ? FALLBACK : PRIMARY,
			{
				method: 'POST',
				url,
				body,
				json: true,
				encoding: 'stream',
				returnFullResponse: true,
				ignoreHttpStatusErrors: true,
				// axios' socket idle timeout, a second guard for a service that sends nothing at all
				timeout: timeoutMs,
				abortSignal: signal,
				skipSslCertificateValidation: dataOf(data, credential).ignoreSslIssues === true,
			},
			// decrypted once per run, instead of once per call inside the helper
			{ credentialsDecrypted: credential === 'fallback' ? decrypted.fallback : decrypted.primary },
		)) as { statusCode: number; headers: IDataObject; body: Readable };
		return {
			status: response.statusCode,
			headers: response.headers,
			text: await readBodyText(response.body, response.statusCode, signal),
		};
	};
}

/** Log fields in the order an operator reads them, with their labels in the message text. */
const LOG_FIELDS: Array<[key: string, label: string, unit?: string]> = [
	['workflowId', 'workflow'],
	['executionId', 'execution'],
	['node', 'node'],
	['item', 'item'],
	['model', 'model'],
	['attempt', 'attempt'],
	['class', 'class'],
	['httpStatus', 'HTTP'],
	['waitMs', 'wait', ' ms'],
	['timeoutMs', 'timeout', ' ms'],
	['store', 'store'],
	['error', 'error'],
];

/** "AI Call: retrying … (workflow 7, execution 12, node "AI Call", item 3, model m, attempt 1, class server_error, HTTP 500, wait 120 ms)" */
function logText(message: string, meta: IDataObject): string {
	const parts = LOG_FIELDS.filter(([key]) => meta[key] !== undefined && meta[key] !== null).map(
		([key, label, unit = '']) =>
			`${label} ${key === 'node' ? JSON.stringify(meta[key]) : String(meta[key])}${unit}`,
	);
	return parts.length ? `${message} (${parts.join(', ')})` : message;
}

/** Whether the node has budgets (known before any item is read: items are read as calls go). */
function budgetsConfigured(ctx: IExecuteFunctions): boolean {
	const raw = rawParameter(ctx, 'budgets') as { budget?: unknown[] } | string | undefined;
	return typeof raw === 'string' ? hasExpression(raw) : !!raw?.budget?.length;
}
