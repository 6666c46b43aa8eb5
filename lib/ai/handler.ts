/**
 * One item's AI call with its policies (policy.ts): an answer without a call (the cache), else
 * callAi, where every attempt enters each policy in order and releases them once it settled;
 * then every policy's `done` with the call's result, for every item (cached, simulated and
 * refused ones too), so a ledger sees them all.
 *
 * State never fails the AI call: a hook that throws (a store that is down) is skipped with a
 * warning "AI Call: <step> skipped, the store failed". Only `enter` refuses, with an AiCallError
 * (returned or thrown); a cancelled execution goes on up from any hook.
 */
import type { BackoffOptions } from '../backoff';
import type { CallLimiter } from '../limit';
import {
	callAi,
	type CallOutcome,
	type CallPolicy,
	type RetryRecord,
	type Transport,
} from './call';
import { AiCallError, type FailureClass } from './failure';
import type {
	AiPolicy,
	AttemptContext,
	AttemptResult,
	CallContext,
	CallOutcomeKind,
	CallResult,
	Entry,
} from './policy';
import { addCosts, costOf, type Cost, type Price } from './pricing';

export type Answered = Extract<CallOutcome, { ok: true }>;

export interface AiHandlerOptions {
	/** In order: `answer` asks them in this order, and every attempt enters them in it. */
	policies: AiPolicy[];
	transport: Transport;
	/** Retries, timeouts and skipped store steps; meta holds the item's identifiers. */
	warn: (message: string, meta: Record<string, unknown>) => void;
	priceOverrides?: Record<string, Price>;
	/** Named in a skipped store step's warning (the store's label, never a secret). */
	storeLabel?: string;
	now?: () => number;
	random?: () => number;
}

export interface RunSettings {
	totalTimeoutMs: number;
	maxRetries: number;
	backoff: BackoffOptions;
	limiter: CallLimiter;
	validate?: (value: unknown) => string | undefined;
	/**
	 * The item fails without a call or cache: its own values cannot make a request ('failed'), or
	 * an outage drill ('simulated'). The policies' `done` still sees it.
	 */
	noCall?: { error: AiCallError; outcome: 'failed' | 'simulated' };
	/** A streamed call (call.request.stream): each piece of the answer as it arrives (callAi's onDelta). */
	onDelta?: CallPolicy['onDelta'];
	/** A fresh answer as the item shows it, and as `done` (the cache) keeps it. */
	shape: (outcome: Answered, cost: Cost) => Record<string, unknown>;
}

interface Common {
	result: CallResult;
	/** The retries that were waited out, in order. */
	retries: RetryRecord[];
	/** Every policy's `done` fields, merged (for `ai.*` or `error.*`). */
	extra: Record<string, unknown>;
}

export type HandlerResult =
	| (Common & {
			ok: true;
			/** From an answer policy (the cache): no attempt was made. */
			cached: boolean;
			/** shape()'s record, or the answer policy's. */
			answer: Record<string, unknown>;
	  })
	| (Common & { ok: false; error: AiCallError });

export interface AiHandler {
	run(call: CallContext, settings: RunSettings): Promise<HandlerResult>;
}

type Hook = 'answer' | 'enter' | 'release' | 'done';
const VERB: Record<Hook, string> = {
	answer: 'read',
	enter: 'check',
	release: 'update',
	done: 'write',
};

export function createAiHandler(options: AiHandlerOptions): AiHandler {
	const { policies, transport, warn } = options;
	const now = options.now ?? Date.now;
	const overrides = options.priceOverrides ?? {};

	return {
		async run(call, settings) {
			const meta = {
				workflowId: call.workflow.id || undefined,
				executionId: call.executionId,
				node: call.node,
				item: call.item,
			};
			const cancelled = () => call.signal?.aborted === true;
			const skipped = (policy: AiPolicy, hook: Hook, error: unknown) =>
				warn(
					`AI Call: ${policy.steps?.[hook] ?? `${policy.name} ${VERB[hook]}`} skipped, the store failed`,
					{
						...meta,
						store: options.storeLabel,
						error: error instanceof Error ? error.message : String(error),
					},
				);
			/** A hook's value, or undefined when it failed (warned); a cancellation goes on up. */
			const guarded = async <T>(
				policy: AiPolicy,
				hook: Hook,
				fn: () => Promise<T>,
			): Promise<T | undefined> => {
				try {
					return await fn();
				} catch (error) {
					if (cancelled()) throw error;
					skipped(policy, hook, error);
					return undefined;
				}
			};
			const [first] = call.targets;
			const zeroCost = (model: string) => costOf(model, 0, 0, overrides, call.costTag);
			const noAttempts = (outcome: CallOutcomeKind, model: string, provider: string) => ({
				outcome,
				provider,
				model,
				inputTokens: 0,
				outputTokens: 0,
				cost: zeroCost(model),
				latencyMs: 0,
				attempts: 0,
				retries: 0,
				timeouts: 0,
				fallbackUsed: false,
				at: now(),
			});
			const done = async (result: CallResult, answer?: Record<string, unknown>) => {
				const extra: Record<string, unknown> = {};
				for (const policy of policies) {
					if (!policy.done) continue;
					const fields = await guarded(policy, 'done', () => policy.done!(call, result, answer));
					if (fields) Object.assign(extra, fields);
				}
				return extra;
			};

			if (settings.noCall) {
				const { error, outcome } = settings.noCall;
				const result: CallResult = {
					...noAttempts(outcome, first.model, first.provider),
					failureClass: error.failureClass,
				};
				return { ok: false, error, result, retries: [], extra: await done(result) };
			}

			const started = now();
			let looked = false;
			for (const policy of policies) {
				if (!policy.answer) continue;
				const answer = await guarded(policy, 'answer', () => policy.answer!(call));
				if (answer === null) looked = true;
				if (!answer) continue;
				const model = typeof answer.model === 'string' ? answer.model : first.model;
				const provider = typeof answer.provider === 'string' ? answer.provider : first.provider;
				const result: CallResult = {
					...noAttempts('cached', model, provider),
					latencyMs: now() - started,
					cache: 'hit',
				};
				return {
					ok: true,
					cached: true,
					answer,
					result,
					retries: [],
					extra: await done(result, answer),
				};
			}

			// Every answer's cost at its own model's price (a fallback may cost more than the model).
			let cost: Cost | undefined;
			let timeouts = 0;
			/** Enters every policy in order; a refusal releases those already entered. */
			const enter = async (attempt: AttemptContext): Promise<Entry> => {
				const entered: Array<{ policy: AiPolicy; release: (r: AttemptResult) => Promise<void> }> =
					[];
				// A release never stops the others, nor the item: a failure is warned, also when cancelled.
				const releaseAll = async (result: AttemptResult) => {
					for (const { policy, release } of entered) {
						try {
							await release(result);
						} catch (error) {
							skipped(policy, 'release', error);
						}
					}
				};
				for (const policy of policies) {
					if (!policy.enter) continue;
					let entry: Entry;
					try {
						entry = await policy.enter(call, attempt);
					} catch (error) {
						if (cancelled() && !(error instanceof AiCallError)) {
							await releaseAll({ cancelled: true, inputTokens: 0, outputTokens: 0 });
							throw error;
						}
						if (!(error instanceof AiCallError)) {
							skipped(policy, 'enter', error);
							continue;
						}
						entry = error;
					}
					if (entry instanceof AiCallError) {
						await releaseAll({ refused: true, inputTokens: 0, outputTokens: 0 });
						return entry;
					}
					if (entry?.release) entered.push({ policy, release: entry.release.bind(entry) });
				}
				return {
					release: async (result) => {
						if (!result.error && !result.refused && !result.cancelled) {
							const c = costOf(
								attempt.target.model,
								result.inputTokens,
								result.outputTokens,
								overrides,
								call.costTag,
							);
							cost = cost ? addCosts(cost, c) : c;
						}
						await releaseAll(result);
					},
				};
			};

			const outcome = await callAi(
				call.request,
				call.targets,
				{
					attemptTimeoutMs: call.attemptTimeoutMs,
					totalTimeoutMs: settings.totalTimeoutMs,
					maxRetries: settings.maxRetries,
					backoff: settings.backoff,
					limiter: settings.limiter,
					validate: settings.validate,
					onDelta: settings.onDelta,
					signal: call.signal,
					now: options.now,
					random: options.random,
					enter,
					onRetry: (r) =>
						warn('AI Call: retrying after a transient failure', {
							...meta,
							attempt: r.attempt,
							class: r.class,
							httpStatus: r.httpStatus,
							waitMs: r.waitMs,
							model: r.model,
						}),
					onTimeout: (t) => {
						timeouts++;
						warn('AI Call: attempt timed out', {
							...meta,
							attempt: t.attempt,
							class: 'timeout',
							timeoutMs: t.timeoutMs,
							model: t.model,
						});
					},
				},
				transport,
			);
			const finalCost = cost ?? zeroCost(outcome.target.model);
			const result: CallResult = {
				outcome: outcome.ok ? 'success' : 'failed',
				...(outcome.ok ? {} : { failureClass: outcome.error.failureClass }),
				provider: outcome.target.provider,
				model: outcome.target.model,
				inputTokens: outcome.inputTokens,
				outputTokens: outcome.outputTokens,
				cost: finalCost,
				latencyMs: outcome.latencyMs,
				attempts: outcome.attempts,
				retries: outcome.retries.length,
				timeouts,
				fallbackUsed: outcome.fallbackUsed,
				...(outcome.fallbackClass ? { fallbackClass: outcome.fallbackClass } : {}),
				...(outcome.retries.length ? { retryClasses: countClasses(outcome.retries) } : {}),
				...(looked ? { cache: 'miss' as const } : {}),
				at: now(),
			};
			if (!outcome.ok) {
				return {
					ok: false,
					error: outcome.error,
					result,
					retries: outcome.retries,
					extra: await done(result),
				};
			}
			const answer = settings.shape(outcome, finalCost);
			return {
				ok: true,
				cached: false,
				answer,
				result,
				retries: outcome.retries,
				extra: await done(result, answer),
			};
		},
	};
}

function countClasses(retries: RetryRecord[]): Partial<Record<FailureClass, number>> {
	const counts: Partial<Record<FailureClass, number>> = {};
	for (const r of retries) counts[r.class] = (counts[r.class] ?? 0) + 1;
	return counts;
}
