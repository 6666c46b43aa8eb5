import {
	NodeConnectionTypes,
	NodeOperationError,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';

import { cachePolicies } from '../../lib/ai/cache';
import { AiCallError, TRANSIENT } from '../../lib/ai/failure';
import type { Answered, HandlerResult } from '../../lib/ai/handler';
import type { CallContext } from '../../lib/ai/policy';
import type { Cost } from '../../lib/ai/pricing';
import { LimitRefusal } from '../../lib/ai/sharedLimit';
import { CallLimiter } from '../../lib/limit';
import {
	AI_CREDENTIALS,
	AI_SUBTITLE,
	budgetsConfigured,
	createAiRuntime,
	priceOverridesOf,
	requireFallbackCredential,
	retriesOf,
	searchModels,
} from '../shared/aiRuntime';
import { readItemSettings, readNodeSettings, type ItemSettings } from './settings';
import { properties } from './properties';

/** How long reading item settings runs before it lets answers in (see execute). */
const READ_SLICE_MS = 4;

export class AiCall implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'AI Call',
		name: 'aiCall',
		icon: { light: 'file:aiCall.svg', dark: 'file:aiCall.dark.svg' },
		group: ['transform'],
		// 1.1: Store defaults to Auto (1 keeps the Local File, so saved workflows keep their store)
		version: [1, 1.1],
		defaultVersion: 1.1,
		subtitle: AI_SUBTITLE,
		description:
			'Call an AI model (OpenAI-compatible or Anthropic) with timeouts, smart retries, fallback models, cost tracking and classified failures',
		defaults: { name: 'AI Call' },
		usableAsTool: undefined, // not an agent tool (no "AI Call Tool"): that needs its own design and tests
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Success', 'Failed'],
		credentials: AI_CREDENTIALS,
		properties,
	};

	methods = { listSearch: { searchModels } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		if (!items.length) return [[], []];
		const node = this.getNode();
		const settings = readNodeSettings(this);

		// Item 0 first: a mistake in a fixed value is every item's and stops the node before any call.
		// The other items are read as the calls go (see the end), so that n8n's expression work for
		// them overlaps the calls in flight instead of delaying the first one.
		const prepared: ItemSettings[] = [];
		const prepare = (i: number): ItemSettings => {
			const s = readItemSettings(this, i);
			requireFallbackCredential(node, s, settings, i);
			return (prepared[i] = s);
		};
		prepare(0);
		const priceOverrides = priceOverridesOf(node, settings, 0);

		const stateOn = settings.responseCache !== 'off' || settings.keepLastGood;
		const { handler, redact, store, targets } = await createAiRuntime(this, {
			settings,
			priceOverrides,
			budgetsOn: budgetsConfigured(this),
			usesFor: (item) => prepared[item].budgets,
			firstNeedsStore: stateOn,
			first: stateOn
				? (store) =>
						cachePolicies({
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
						})
				: undefined,
		});
		const signal = this.getExecutionCancelSignal();
		const workflow = this.getWorkflow();

		const limiter = new CallLimiter(settings.maxConcurrency, settings.requestsPerMinute);

		const runItem = async (i: number): Promise<[0 | 1, INodeExecutionData]> => {
			const s = prepared[i];
			const call: CallContext = {
				item: i,
				request: s.request,
				targets: targets(s.model, s.fallbacks),
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
