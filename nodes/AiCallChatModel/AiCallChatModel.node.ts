import { supplyModel } from '@n8n/ai-node-sdk';
import {
	NodeConnectionTypes,
	NodeOperationError,
	type IExecuteFunctions,
	type INode,
	type INodeType,
	type INodeTypeDescription,
	type ISupplyDataFunctions,
	type SupplyData,
} from 'n8n-workflow';

import { toGenerateResult } from '../../lib/ai/chatMessages';
import { TRANSIENT } from '../../lib/ai/failure';
import type { HandlerResult } from '../../lib/ai/handler';
import { LimitRefusal } from '../../lib/ai/sharedLimit';
import type { AiAnswer } from '../../lib/ai/wire';
import { CallLimiter } from '../../lib/limit';
import type { Redactor } from '../../lib/redact';
import { readItemSettings, readNodeSettings } from '../AiCall/settings';
import {
	AI_CREDENTIALS,
	AI_SUBTITLE,
	budgetsConfigured,
	createAiRuntime,
	priceOverridesOf,
	requireFallbackCredential,
	searchModels,
} from '../shared/aiRuntime';
import { ProtectedChatModel } from './model';
import { properties } from './properties';

/**
 * One limiter per execution and node: the agent asks for the model once per item, and "Max Calls
 * in Flight" is the node's, across items. Keyed by the execution's cancel signal (one object per
 * execution), so it goes when the execution does.
 */
const limiters = new WeakMap<object, Map<string, CallLimiter>>();
const NO_SIGNAL = {};

export class AiCallChatModel implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'AI Call Chat Model',
		name: 'aiCallChatModel',
		icon: { light: 'file:aiCallChatModel.svg', dark: 'file:aiCallChatModel.dark.svg' },
		group: ['transform'],
		version: [1],
		subtitle: AI_SUBTITLE,
		description: 'Chat model with retries, fallbacks, budgets and cost',
		defaults: { name: 'AI Call Chat Model' },
		inputs: [],
		outputs: [NodeConnectionTypes.AiLanguageModel],
		outputNames: ['Model'],
		credentials: AI_CREDENTIALS,
		properties,
	};

	methods = { listSearch: { searchModels } };

	async supplyData(this: ISupplyDataFunctions, itemIndex: number): Promise<SupplyData> {
		// The parts of the context used here are the same for a sub-node as for a node's execute.
		const ctx = this as unknown as IExecuteFunctions;
		const node = this.getNode();
		const settings = readNodeSettings(ctx, itemIndex);
		// Configuration mistakes stop here, naming the parameter; the item's own values (an empty
		// budget key) fail each of the agent's calls instead, as bad_request naming the field.
		const s = readItemSettings(ctx, itemIndex, true);
		requireFallbackCredential(node, s, settings, itemIndex);
		const priceOverrides = priceOverridesOf(node, settings, itemIndex);
		const runtime = await createAiRuntime(ctx, {
			settings,
			priceOverrides,
			budgetsOn: budgetsConfigured(ctx),
			usesFor: () => s.budgets,
			itemIndex,
		});
		const { handler, redact } = runtime;
		const targets = runtime.targets(s.model, s.fallbacks);
		const cancel = this.getExecutionCancelSignal();
		const byNode = limiters.get(cancel ?? NO_SIGNAL) ?? new Map<string, CallLimiter>();
		limiters.set(cancel ?? NO_SIGNAL, byNode);
		let limiter = byNode.get(node.id);
		if (!limiter)
			byNode.set(
				node.id,
				(limiter = new CallLimiter(settings.maxConcurrency, settings.requestsPerMinute)),
			);
		const workflow = this.getWorkflow();

		const model = new ProtectedChatModel(
			targets[0].provider,
			s.model,
			async (messages, tools, signal, onText) => {
				// a streamed answer's text leaves redacted too, a secret split across pieces included
				const streamRedact = onText ? redact.stream() : undefined;
				const r = await handler.run(
					{
						item: itemIndex,
						request: {
							...s.request,
							messages,
							...(tools.length ? { tools } : {}),
							...(onText ? { stream: true } : {}),
						},
						targets,
						costTag: s.costTag,
						workflow: { id: String(workflow.id ?? ''), name: String(workflow.name ?? '') },
						executionId: this.getExecutionId(),
						node: node.name,
						attemptTimeoutMs: s.attemptTimeoutMs,
						signal: signal && cancel ? AbortSignal.any([signal, cancel]) : (signal ?? cancel),
					},
					{
						totalTimeoutMs: s.totalTimeoutMs,
						maxRetries: s.maxRetries,
						backoff: { baseMs: s.baseDelayMs, maxMs: s.maxDelayMs },
						limiter: limiter!,
						noCall: s.inputError ? { error: s.inputError, outcome: 'failed' } : undefined,
						onDelta: streamRedact
							? (delta) => {
									if (delta.type !== 'text') return;
									const text = streamRedact.push(delta.text);
									if (text) onText!(text);
								}
							: undefined,
						shape: (outcome, cost) => ({
							text: redact.exact(outcome.answer.text),
							toolCalls: (outcome.answer.toolCalls ?? []).map((c) => ({
								...c,
								arguments: redact.exact(c.arguments),
							})),
							finishReason: outcome.answer.finishReason,
							model: outcome.answer.model,
							cost: { ...cost },
						}),
					},
				);
				const rest = streamRedact?.end();
				if (rest) onText!(rest);
				if (!r.ok) throw callError(node, itemIndex, r, redact);
				const a = r.answer as Pick<AiAnswer, 'text' | 'toolCalls' | 'finishReason'>;
				if (r.retries.length || r.result.fallbackUsed)
					this.addExecutionHints({
						message: `${node.name}: ${r.retries.length} retr${r.retries.length === 1 ? 'y' : 'ies'}${r.result.fallbackUsed ? `, answered by fallback ${r.result.model} after ${r.result.fallbackClass}` : ''}`,
						location: 'outputPane',
					});
				return toGenerateResult(a, r.result, {
					cost: r.result.cost,
					attempts: r.result.attempts,
					retries: r.result.retries,
					fallbackUsed: r.result.fallbackUsed,
					answeredBy: r.result.model,
				});
			},
		);
		return supplyModel(this, model);
	}
}

/**
 * The agent's model call failed: "<class>: <message> (retry after <ms> ms)", what the Fallback
 * Router reads back from the Agent's error output (which keeps only the message); the attempts,
 * retries, fallback and cost in the description. Redacted, as everything the node writes.
 */
function callError(
	node: INode,
	itemIndex: number,
	r: Extract<HandlerResult, { ok: false }>,
	redact: Redactor,
): NodeOperationError {
	const { error, result } = r;
	const wait =
		error.retryAfterMs !== undefined ? ` (retry after ${Math.round(error.retryAfterMs)} ms)` : '';
	const description = [
		`model ${result.model}, ${result.attempts} attempt${result.attempts === 1 ? '' : 's'}`,
		r.retries.length
			? `${r.retries.length} retried (${[...new Set(r.retries.map((x) => x.class))].join(', ')})`
			: '',
		result.fallbackUsed ? `fallback used after ${result.fallbackClass}` : '',
		TRANSIENT.has(error.failureClass) ? 'transient: worth retrying later' : '',
		error instanceof LimitRefusal ? `shared limit "${error.limit}"` : '',
		`cost ${result.cost.totalUsd} USD`,
	]
		.filter(Boolean)
		.join('; ');
	return new NodeOperationError(
		node,
		redact.text(`${error.failureClass}: ${error.message}${wait}`),
		{
			itemIndex,
			description: redact.text(description),
		},
	);
}
