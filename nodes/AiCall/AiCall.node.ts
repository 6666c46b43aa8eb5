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
import { callAi, type CallOutcome, type Target, type Transport } from '../../lib/ai/call';
import { AiCallError, TRANSIENT, type FailureClass } from '../../lib/ai/failure';
import { addCosts, costOf, parsePriceOverrides, type Cost } from '../../lib/ai/pricing';
import { parseModelList } from '../../lib/ai/wire';
import { CircuitBreaker } from '../../lib/breaker';
import { hashValue } from '../../lib/hash';
import { CallLimiter } from '../../lib/limit';
import { LimitRefusal, SharedLimit, type Admission } from '../../lib/ai/sharedLimit';
import { normaliseBaseUrl, type Provider } from '../../lib/provider';
import { createRedactor, credentialSecrets } from '../../lib/redact';
import { openStore, storeCredentials } from '../shared/store';
import { readItemSettings, readNodeSettings, type ItemSettings } from './settings';
import { properties } from './properties';

const PRIMARY = 'aiServiceApi';
const FALLBACK = 'aiServiceFallbackApi';

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

/** Spend per execution and node, so a budget holds across the runs of a loop in one execution. */
const spentUsd = new Map<string, { usd: number; at: number }>();
function spendKey(ctx: IExecuteFunctions): string {
	const now = Date.now();
	for (const [k, v] of spentUsd) if (now - v.at > 86_400_000) spentUsd.delete(k);
	return `${ctx.getExecutionId()}:${ctx.getNode().id}`;
}

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

		// Configuration mistakes stop the node, naming the parameter and the item; nothing is called yet.
		const prepared: ItemSettings[] = items.map((_, i) => readItemSettings(this, i));
		let priceOverrides: ReturnType<typeof parsePriceOverrides>;
		try {
			priceOverrides = parsePriceOverrides(settings.priceOverrides);
		} catch (error) {
			throw new NodeOperationError(node, (error as Error).message, { itemIndex: 0 });
		}
		for (const [i, s] of prepared.entries()) {
			if (s.fallbacks.some((f) => f.credential === 'fallback') && !endpoints.fallback) {
				throw new NodeOperationError(
					node,
					'A fallback model uses the fallback credential: turn on "Fallbacks Use Another Credential" and choose one',
					{ itemIndex: i },
				);
			}
		}

		const store =
			settings.responseCache !== 'off' ||
			settings.keepLastGood ||
			settings.circuitBreaker ||
			settings.sharedLimit
				? await openStore(this)
				: undefined;
		const sharedLimit =
			store && settings.sharedLimit ? new SharedLimit(store, settings.sharedLimit) : undefined;
		const limiter = new CallLimiter(settings.maxConcurrency, settings.requestsPerMinute);
		const key = spendKey(this);
		const budget = settings.budgetUsd;
		const spend = (usd: number) =>
			spentUsd.set(key, { usd: (spentUsd.get(key)?.usd ?? 0) + usd, at: Date.now() });
		const spent = () => spentUsd.get(key)?.usd ?? 0;
		const signal = this.getExecutionCancelSignal();
		const logMeta = (i: number) => ({
			workflowId: this.getWorkflow().id,
			executionId: this.getExecutionId(),
			node: node.name,
			item: i,
		});
		/** n8n's default log format prints only the message: the identifiers go into the text too. */
		const warn = (message: string, meta: IDataObject) => {
			const clean = { ...meta, ...(meta.error ? { error: redact.text(String(meta.error)) } : {}) };
			this.logger.warn(redact.text(logText(message, clean)), clean);
		};

		const transport = n8nTransport(this, {
			primary: decryptedPrimary,
			fallback: decryptedFallback,
		});

		const stateOn = settings.responseCache !== 'off' || settings.keepLastGood;
		const breakers = new Map<string, CircuitBreaker>();
		const breakerFor = (t: Target): CircuitBreaker | undefined => {
			if (!store || !settings.circuitBreaker) return undefined;
			const name = settings.breaker.name
				? `${settings.breaker.name}:${t.model}`
				: `${t.baseUrl}:${t.model}`;
			let breaker = breakers.get(name);
			if (!breaker)
				breakers.set(name, (breaker = new CircuitBreaker(store, name, settings.breaker)));
			return breaker;
		};
		/** Cache, last good answers and breaker must not stop the AI call when the store is down: warn and go on. */
		const tolerant = async <T>(
			what: string,
			i: number,
			fn: () => Promise<T>,
		): Promise<T | undefined> => {
			try {
				return await fn();
			} catch (error) {
				warn(`AI Call: ${what} skipped, the store failed`, {
					...logMeta(i),
					store: store?.label,
					error: (error as Error).message,
				});
				return undefined;
			}
		};

		const runItem = async (i: number): Promise<[0 | 1, INodeExecutionData]> => {
			const s = prepared[i];
			const { provider } = endpoints.primary;
			const cacheRef = stateOn
				? {
						namespace: s.cacheNamespace,
						key:
							s.cacheKey ??
							hashValue({ provider, baseUrl: endpoints.primary.baseUrl, request: s.request }),
					}
				: undefined;
			const fail = (error: AiCallError, extra: IDataObject): [1, INodeExecutionData] => [
				1,
				failedItem(i, error, { ...extra, cache: cacheRef }),
			];
			// An item whose own values cannot make a request fails alone, naming the field.
			if (s.inputError)
				return fail(s.inputError, { attempts: 0, retries: [], provider, model: s.model });
			if (s.simulate) {
				const error = new AiCallError(
					s.simulateClass,
					'Simulated outage (drill): no call was made',
				);
				return fail(error, { attempts: 0, retries: [], provider, model: s.model, simulated: true });
			}
			if (store && cacheRef && settings.responseCache !== 'off' && !s.forceRefresh) {
				const started = Date.now();
				const hit = await tolerant('cache read', i, () =>
					store.get<IDataObject>(cacheRef.namespace, cacheRef.key),
				);
				if (hit) {
					const { storedAt, ...answer } = hit;
					return [
						0,
						success(i, s, {
							...answer,
							usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
							cost: { ...costOf(String(answer.model), 0, 0, priceOverrides, s.costTag) },
							latencyMs: Date.now() - started,
							attempts: 0,
							retries: [],
							fallbackUsed: false,
							cached: true,
							cachedAt: new Date(Number(storedAt)).toISOString(),
						}),
					];
				}
			}
			// Every answer's cost at its own model's price (a fallback may cost more than the model).
			let cost: Cost | undefined;
			let probe = false;
			const targets: Target[] = [
				{ model: s.model, credential: 'primary', ...endpoints.primary },
				...s.fallbacks.map((f) => ({
					model: f.model,
					credential: f.credential,
					on: new Set(f.on),
					...(f.credential === 'fallback' ? endpoints.fallback! : endpoints.primary),
				})),
			];
			const outcome = await callAi(
				s.request,
				targets,
				{
					attemptTimeoutMs: s.attemptTimeoutMs,
					totalTimeoutMs: s.totalTimeoutMs,
					maxRetries: s.maxRetries,
					backoff: { baseMs: s.baseDelayMs, maxMs: s.maxDelayMs },
					limiter,
					validate: s.validate,
					signal,
					onUsage: (model, input, output) => {
						const c = costOf(model, input, output, priceOverrides, s.costTag);
						spend(c.totalUsd);
						cost = cost ? addCosts(cost, c) : c;
					},
					beforeAttempt: async (t) => {
						if (budget > 0 && spent() >= budget) {
							return new AiCallError(
								'budget_exceeded',
								`The budget of ${budget} USD for this execution is spent (${spent().toFixed(4)} USD)`,
							);
						}
						const breaker = breakerFor(t);
						const verdict =
							breaker && (await tolerant('circuit breaker check', i, () => breaker.allow()));
						probe = verdict?.allowed === true && verdict.probe;
						if (verdict && !verdict.allowed) {
							return new AiCallError(
								'circuit_open',
								`The circuit breaker for ${t.model} is open after repeated failures; no call was made`,
								undefined,
								verdict.retryAfterMs,
							);
						}
						return undefined;
					},
					admit: sharedLimit
						? async (_t, estimate) => {
								let admission: Admission | undefined;
								try {
									// a slot outlives a crashed holder by the attempt timeout, plus slack for the store
									admission = await sharedLimit.admit(
										estimate,
										s.attemptTimeoutMs + 30_000,
										signal,
									);
								} catch (error) {
									// an AiCallError for callAi's loop (the item goes to Failed), or the cancellation: not a node error
									// eslint-disable-next-line @n8n/community-nodes/require-node-api-error
									if (error instanceof LimitRefusal || signal?.aborted) throw error;
									warn('AI Call: shared limit skipped, the store failed', {
										...logMeta(i),
										store: store?.label,
										error: (error as Error).message,
									});
									return undefined;
								}
								return {
									...admission,
									release: async (o) =>
										void (await tolerant('shared limit release', i, () => admission.release(o))),
								};
							}
						: undefined,
					afterAttempt: async (t, error) => {
						// refused before it left n8n: says nothing about the service
						if (error?.failureClass === 'egress_blocked') return;
						const breaker = breakerFor(t);
						// Only transient failures say the service is unwell; a 400 is an answer.
						const healthy = !error || !TRANSIENT.has(error.failureClass);
						if (breaker)
							await tolerant('circuit breaker update', i, () => breaker.record(healthy, probe));
					},
					onRetry: (r) =>
						warn('AI Call: retrying after a transient failure', {
							...logMeta(i),
							attempt: r.attempt,
							class: r.class,
							httpStatus: r.httpStatus,
							waitMs: r.waitMs,
							model: r.model,
						}),
					onTimeout: (t) =>
						warn('AI Call: attempt timed out', {
							...logMeta(i),
							attempt: t.attempt,
							class: 'timeout',
							timeoutMs: t.timeoutMs,
							model: t.model,
						}),
				},
				transport,
			);
			cost ??= costOf(outcome.target.model, 0, 0, priceOverrides, s.costTag);
			if (!outcome.ok) {
				return fail(outcome.error, {
					...summary(outcome),
					provider: outcome.target.provider,
					model: outcome.target.model,
				});
			}
			const result: IDataObject = {
				// the model's words stay; only the credential's own secrets are taken out
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
				...summary(outcome),
				fallbackUsed: outcome.fallbackUsed,
				cached: false,
			};
			if (s.request.responseFormat !== 'text')
				result.json = redact.exact(outcome.json) as IDataObject;
			if (store && cacheRef) {
				const stored = { ...result, storedAt: Date.now() };
				if (settings.responseCache !== 'off') {
					await tolerant('cache write', i, () =>
						store.set(cacheRef.namespace, cacheRef.key, stored, s.cacheTtlMs),
					);
				}
				if (settings.keepLastGood) {
					await tolerant('last good answer write', i, () =>
						store.set(
							`${cacheRef.namespace}:last-good`,
							cacheRef.key,
							stored,
							s.lastGoodRetentionMs,
						),
					);
				}
			}
			return [0, success(i, s, result)];
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

		const failedItem = (i: number, error: AiCallError, extra: IDataObject): INodeExecutionData => {
			const failed: INodeExecutionData = {
				json: {
					...items[i].json,
					error: {
						class: error.failureClass,
						message: redact.text(error.message),
						httpStatus: error.httpStatus ?? null,
						provider: extra.provider,
						model: extra.model,
						attempts: extra.attempts,
						retries: extra.retries,
						retryable: TRANSIENT.has(error.failureClass as FailureClass),
						retryAfterMs: error.retryAfterMs ?? null,
						...(extra.simulated ? { simulated: true } : {}),
						...(extra.cache ? { cache: extra.cache } : {}),
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

		// All items start together; the limiter caps calls in flight. Outputs keep input order.
		let results: Array<[0 | 1, INodeExecutionData]>;
		try {
			results = await Promise.all(items.map((_, i) => runItem(i)));
		} catch (error) {
			// a cancelled execution or an unexpected fault: its message leaves redacted as well
			if (error instanceof NodeOperationError) {
				error.message = redact.text(error.message);
				// eslint-disable-next-line @n8n/community-nodes/require-node-api-error -- already n8n's error, redacted
				throw error;
			}
			throw new NodeOperationError(node, redact.text((error as Error).message ?? String(error)));
		}
		const outputs: INodeExecutionData[][] = [[], []];
		for (const [output, item] of results) outputs[output].push(item);
		return outputs;
	}
}

function summary(outcome: CallOutcome): IDataObject {
	return {
		attempts: outcome.attempts,
		retries: outcome.retries.map(({ attempt, class: cls, httpStatus, waitMs }) => ({
			attempt,
			class: cls,
			httpStatus,
			waitMs,
		})),
	};
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
