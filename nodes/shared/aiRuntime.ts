/**
 * What the AI Call and the AI Call Chat Model share around lib/ai's handler: the credentials and
 * their endpoints, the redactor, the store, the policies in their order, the transport and the log
 * lines. One owner, so that both nodes protect a call the same way.
 */
import type { Readable } from 'node:stream';

import {
	NodeOperationError,
	type ICredentialDataDecryptedObject,
	type ICredentialsDecrypted,
	type IDataObject,
	type IExecuteFunctions,
	type ILoadOptionsFunctions,
	type INode,
	type INodeListSearchResult,
} from 'n8n-workflow';

import { readBodyText } from '../../lib/ai/body';
import { breakerPolicy } from '../../lib/ai/breakerPolicy';
import { BudgetBook, type BudgetUse } from '../../lib/ai/budget';
import { budgetPolicy } from '../../lib/ai/budgetPolicy';
import type { RetryRecord, Target, Transport, TransportRequest } from '../../lib/ai/call';
import { executionBudget } from '../../lib/ai/executionBudget';
import { createAiHandler, type AiHandler } from '../../lib/ai/handler';
import { ledgerFor } from '../../lib/ai/ledger';
import { ledgerPolicy } from '../../lib/ai/ledgerPolicy';
import { limitPolicy } from '../../lib/ai/limitPolicy';
import { CRASH_SLACK_MS, type AiPolicy } from '../../lib/ai/policy';
import { parsePriceOverrides, type Price } from '../../lib/ai/pricing';
import { SharedLimit, type SharedLimitSettings } from '../../lib/ai/sharedLimit';
import { undiciTransport, type EgressFilter } from '../../lib/ai/transport';
import { parseModelList } from '../../lib/ai/wire';
import {
	authHeaders,
	normaliseBaseUrl,
	type AiServiceCredentials,
	type Provider,
} from '../../lib/provider';
import { createRedactor, credentialSecrets, type Redactor } from '../../lib/redact';
import type { StateStore } from '../../lib/stores';
import { hasExpression, rawParameter } from './parameters';
import { openStore, storeCredentials } from './store';

export const PRIMARY = 'aiServiceApi';
export const FALLBACK = 'aiServiceFallbackApi';

// A constant, not a literal in the description: n8n's lint rule on credential names cannot read a spread.
export const AI_CREDENTIALS = [
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
export const AI_SUBTITLE =
	'={{ (() => { let m; try { m = $parameter["model"]; } catch (e) { m = "="; }' +
	' if (m && typeof m === "object") m = m.value;' +
	' m = typeof m === "string" ? m.trim() : "";' +
	' return (m === "=" ? "model from expression" : m || "no model") + " · " +' +
	' ({ realtime: "Real-Time", interactive: "Interactive", batch: "Batch", custom: "Custom Timeout" }[$parameter["timeoutPreset"]] || "Interactive"); })() }}';

/** A fallback model on the second credential needs it turned on: a configuration mistake. */
export function requireFallbackCredential(
	node: INode,
	s: { fallbacks: Array<{ credential: 'primary' | 'fallback' }> },
	settings: { useFallbackCredential: boolean },
	itemIndex: number,
): void {
	if (s.fallbacks.some((f) => f.credential === 'fallback') && !settings.useFallbackCredential)
		throw new NodeOperationError(
			node,
			'A fallback model uses the fallback credential: turn on "Fallbacks Use Another Credential" and choose one',
			{ itemIndex },
		);
}

/** Options → Price Overrides as prices; a broken value stops the node naming it. */
export function priceOverridesOf(
	node: INode,
	settings: { priceOverrides?: Parameters<typeof parsePriceOverrides>[0] },
	itemIndex: number,
): Record<string, Price> {
	try {
		return parsePriceOverrides(settings.priceOverrides);
	} catch (error) {
		throw new NodeOperationError(node, (error as Error).message, { itemIndex });
	}
}

export interface Endpoint {
	provider: Provider;
	baseUrl: string;
}

/** The node settings the runtime needs (the AI Call's readNodeSettings gives them). */
export interface RuntimeSettings {
	useFallbackCredential: boolean;
	circuitBreaker: boolean;
	breaker: Parameters<typeof breakerPolicy>[0]['options'] & { name?: string };
	sharedLimit?: SharedLimitSettings;
	budgetUsd: number;
	usageLedger: boolean;
	usageEventTtlMs: number;
}

export interface RuntimeOptions {
	settings: RuntimeSettings;
	priceOverrides: Record<string, Price>;
	budgetsOn: boolean;
	/** The budgets an item counts against. */
	usesFor: (item: number) => BudgetUse[];
	/** Policies that answer before the others (the AI Call's cache), given the store. */
	first?: (store: StateStore) => AiPolicy[];
	/** Whether the store is needed for `first`. */
	firstNeedsStore?: boolean;
	/** The item for the store parameters (a sub-node reads them for the root's item). */
	itemIndex?: number;
}

export interface AiRuntime {
	handler: AiHandler;
	endpoints: { primary: Endpoint; fallback?: Endpoint };
	redact: Redactor;
	store?: StateStore;
	/** A warning with the identifiers in its text (n8n's default log format prints only the message). */
	warn: (message: string, meta: Record<string, unknown>) => void;
	/** The model and fallbacks as the handler's targets. */
	targets: (
		model: string,
		fallbacks: Array<{ model: string; credential: 'primary' | 'fallback'; on: readonly string[] }>,
	) => Target[];
}

/**
 * Credentials, store, policies and transport for one node run. `ctx` is the node's context: an
 * IExecuteFunctions, or a sub-node's ISupplyDataFunctions (it offers the same methods used here).
 */
export async function createAiRuntime(
	ctx: IExecuteFunctions,
	options: RuntimeOptions,
): Promise<AiRuntime> {
	const { settings, priceOverrides, budgetsOn } = options;
	const node = ctx.getNode();
	const primary = await ctx.getCredentials(PRIMARY, options.itemIndex);
	const fallback = settings.useFallbackCredential
		? await ctx.getCredentials(FALLBACK, options.itemIndex)
		: undefined;
	const endpoint = (c: IDataObject): Endpoint => ({
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
	// Secrets never leave the node: every error message and log line is redacted on its way out.
	const redact = createRedactor([...credentialSecrets(primary), ...credentialSecrets(fallback)]);

	const needStore =
		options.firstNeedsStore || settings.circuitBreaker || !!settings.sharedLimit || budgetsOn;
	let store: StateStore | undefined;
	if (needStore) store = await openStore(ctx);
	else if (settings.usageLedger) {
		// the ledger alone must never stop a call: without its store the calls go on, unrecorded
		try {
			store = await openStore(ctx);
		} catch (error) {
			ctx.logger.warn(
				`AI Call: the usage ledger is off for this run, its store failed (${redact.text((error as Error).message)})`,
			);
		}
	}
	const workflow = ctx.getWorkflow();
	const warn = (message: string, meta: Record<string, unknown>) => {
		const clean: IDataObject = {
			...(meta as IDataObject),
			...(meta.error ? { error: redact.text(String(meta.error)) } : {}),
		};
		ctx.logger.warn(redact.text(logText(message, clean)), clean);
	};
	const storeWarn = (message: string) => ctx.logger.warn(redact.text(message));

	// The lifecycle's order: answers first (the cache); each attempt enters the breaker, then the
	// execution budget, then the shared limit, then the budgets.
	const policies: AiPolicy[] = [];
	if (store && options.first) policies.push(...options.first(store));
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
			key: `${ctx.getExecutionId()}:${node.id}`,
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
				usesFor: options.usesFor,
				overrides: priceOverrides,
				holdMs: (attemptTimeoutMs) => attemptTimeoutMs + CRASH_SLACK_MS,
				warn: storeWarn,
				onWarning: (state, item) =>
					warn(
						`AI Call: budget "${state.name}"${state.scopeKey ? ` for "${state.scopeKey.slice(0, 80)}"` : ''} passed its warn threshold: ${state.percent.toFixed(1)} % of its ${state.limitUsd ? `${state.limitUsd} USD` : `${state.limitTokens} tokens`} this ${state.period}`,
						{
							workflowId: String(workflow.id ?? '') || undefined,
							executionId: ctx.getExecutionId(),
							node: node.name,
							item,
						},
					),
			}),
		);
	if (store && settings.usageLedger) {
		const writer = ledgerFor(store);
		writer.warn = (message) => ctx.logger.warn(redact.text(message));
		policies.push(ledgerPolicy(writer, settings.usageEventTtlMs));
	}

	const handler = createAiHandler({
		policies,
		transport: transportFor(
			ctx,
			{ primary, fallback },
			{ primary: decrypted(PRIMARY, primary), fallback: decrypted(FALLBACK, fallback) },
		),
		warn,
		priceOverrides,
		storeLabel: store?.label,
	});
	return {
		handler,
		endpoints,
		redact,
		store,
		warn,
		targets: (model, fallbacks) => [
			{ model, credential: 'primary', ...endpoints.primary },
			...fallbacks.map((f) => ({
				model: f.model,
				credential: f.credential,
				on: new Set(f.on) as Target['on'],
				...(f.credential === 'fallback' ? endpoints.fallback! : endpoints.primary),
			})),
		],
	};
}

/** Whether the node has budgets, known from the configuration alone (before any item is read). */
export function budgetsConfigured(ctx: IExecuteFunctions): boolean {
	const raw = rawParameter(ctx, 'budgets') as { budget?: unknown[] } | string | undefined;
	return typeof raw === 'string' ? hasExpression(raw) : !!raw?.budget?.length;
}

/** The model list in the editor: the primary credential's /models, filtered as the user types. */
export async function searchModels(
	this: ILoadOptionsFunctions,
	filter?: string,
): Promise<INodeListSearchResult> {
	const credentials = await this.getCredentials(PRIMARY);
	const baseUrl = normaliseBaseUrl(credentials.baseUrl as string, credentials.provider as Provider);
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
}

/** The retries as an item or a run shows them (the model is in the log lines). */
export function retriesOf(retries: RetryRecord[]): IDataObject[] {
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
	return async ({ url, body, credential, timeoutMs, signal, onChunk }) => {
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
			text: await readBodyText(response.body, response.statusCode, signal, { onChunk }),
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
