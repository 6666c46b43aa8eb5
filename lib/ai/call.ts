/**
 * One item's AI call: per-attempt timeout, total time budget, retries with full-jitter backoff on
 * transient classes only (honouring Retry-After), fallback models by class, and JSON output
 * checked against a schema with one repair round. Framework-free: the node supplies the transport.
 */
import type { Provider } from '../provider';
import { fullJitter, sleep, type BackoffOptions } from '../backoff';
import type { CallLimiter } from '../limit';
import type { AttemptContext, Entry } from './policy';
import { estimateTokens } from './sharedLimit';
import { createStreamReader, type StreamDelta } from './stream';
import { AiCallError, classifyThrown, retryAfterMs, type FailureClass } from './failure';
import {
	buildRequest,
	parseResponse,
	type AiAnswer,
	type AiRequest,
	type ChatMessage,
} from './wire';

export interface TransportRequest {
	url: string;
	body: Record<string, unknown>;
	/** Which credential authenticates this call. */
	credential: 'primary' | 'fallback';
	/** The attempt's time limit (the signal aborts then); a socket idle timeout for the transport. */
	timeoutMs: number;
	/**
	 * Aborts at the attempt's deadline or when the execution is cancelled. The transport must then
	 * close the connection and settle at once: the attempt's limiter slot is held until it settles.
	 */
	signal: AbortSignal;
	/** A streamed request: the 2xx body's text as it arrives (the whole text is returned too). */
	onChunk?: (text: string) => void;
}

export interface TransportResponse {
	status: number;
	headers: Record<string, unknown>;
	text: string;
}

export type Transport = (request: TransportRequest) => Promise<TransportResponse>;

export interface Target {
	model: string;
	provider: Provider;
	baseUrl: string;
	credential: 'primary' | 'fallback';
	/** Fallbacks only: the classes of the previous failure that send the call here. */
	on?: ReadonlySet<FailureClass>;
}

export interface RetryRecord {
	attempt: number;
	class: FailureClass;
	httpStatus: number | null;
	waitMs: number;
	model: string;
}

export interface CallPolicy {
	attemptTimeoutMs: number;
	totalTimeoutMs: number;
	maxRetries: number;
	backoff: BackoffOptions;
	limiter: CallLimiter;
	/**
	 * Right before every attempt, inside its limiter slot: an AiCallError refuses it (nothing is
	 * sent, no retry, the fallbacks may take over); otherwise the entry's release is called once the
	 * attempt settled, with its error or its tokens (the handler composes the policies into this).
	 */
	enter?: (attempt: AttemptContext) => Promise<Entry>;
	/** Validates parsed JSON output; returns what is wrong, or undefined. */
	validate?: (value: unknown) => string | undefined;
	onRetry?: (retry: RetryRecord) => void;
	onTimeout?: (info: { attempt: number; model: string; timeoutMs: number }) => void;
	/**
	 * With request.stream: each piece of the answer as it arrives. Once a piece went out, a failure
	 * of that attempt is final (no retry, no fallback): the consumer has already shown it.
	 */
	onDelta?: (delta: StreamDelta) => void;
	/** The execution's cancel signal. */
	signal?: AbortSignal;
	random?: () => number;
	now?: () => number;
}

interface Common {
	attempts: number;
	retries: RetryRecord[];
	latencyMs: number;
	target: Target;
	fallbackUsed: boolean;
	/** What sent the call to the fallback that answered or failed last. */
	fallbackClass?: FailureClass;
	inputTokens: number;
	outputTokens: number;
}

export type CallOutcome =
	| (Common & { ok: true; answer: AiAnswer; json?: unknown })
	| (Common & { ok: false; error: AiCallError });

/** An attempt the caller's `enter` refused: carries its error through the retry loop. */
class Refusal extends Error {
	constructor(readonly error: AiCallError) {
		super(error.message);
	}
}

/** Deeper JSON than this is refused: n8n copies and saves items recursively and would overflow its stack. */
export const MAX_JSON_DEPTH = 100;

/** Nesting depth of a parsed JSON value, counted without recursion, stopping past `limit`. */
function depthOver(value: unknown, limit: number): boolean {
	const stack: Array<[unknown, number]> = [[value, 1]];
	while (stack.length) {
		const [v, depth] = stack.pop()!;
		if (typeof v !== 'object' || v === null) continue;
		if (depth > limit) return true;
		for (const child of Object.values(v)) stack.push([child, depth + 1]);
	}
	return false;
}

/** JSON out of a model answer; tolerates a ```json fence around it. */
export function parseJsonOutput(
	text: string,
): { ok: true; value: unknown } | { ok: false; reason: string } {
	const fenced = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/i.exec(text);
	let value: unknown;
	try {
		value = JSON.parse(fenced ? fenced[1] : text);
	} catch (error) {
		return { ok: false, reason: `not valid JSON (${(error as Error).message})` };
	}
	if (depthOver(value, MAX_JSON_DEPTH)) {
		return { ok: false, reason: `JSON nested deeper than ${MAX_JSON_DEPTH} levels` };
	}
	return { ok: true, value };
}

/** Whether an answer is Server-Sent Events (a service may answer a stream request with plain JSON). */
function isEventStream(response: TransportResponse): boolean {
	const type = response.headers['content-type'];
	return /text\/event-stream/i.test(Array.isArray(type) ? type.join(',') : String(type ?? ''));
}

export async function callAi(
	request: AiRequest,
	targets: Target[],
	policy: CallPolicy,
	transport: Transport,
): Promise<CallOutcome> {
	const now = policy.now ?? Date.now;
	// The clock starts at the first attempt, not while the item waits for a free slot: with 1,000
	// items and 5 slots, the last ones would otherwise spend their budget in the queue.
	let start: number | undefined;
	const elapsed = () => (start === undefined ? 0 : now() - start);
	let attempts = 0;
	let inputTokens = 0;
	let outputTokens = 0;
	const retries: RetryRecord[] = [];
	let lastError: AiCallError | undefined;
	let target = targets[0];
	let fallbackUsed = false;
	let fallbackClass: FailureClass | undefined;
	/** A streamed piece reached the consumer: nothing can be taken back by trying again. */
	let emitted = false;
	const streaming = request.stream === true && policy.onDelta !== undefined;

	const common = (): Common => ({
		attempts,
		retries,
		latencyMs: elapsed(),
		target,
		fallbackUsed,
		...(fallbackClass ? { fallbackClass } : {}),
		inputTokens,
		outputTokens,
	});
	const fail = (error: AiCallError): CallOutcome => ({ ok: false, error, ...common() });

	if (!request.messages.some((m) => m.content.trim())) {
		return fail(
			new AiCallError(
				'bad_request',
				'The prompt is empty: give a user prompt or messages with text',
			),
		);
	}

	/** One HTTP exchange with the per-attempt timeout; throws AiCallError. */
	const exchange = async (t: Target, messages: ChatMessage[]): Promise<AiAnswer> => {
		const { path, body } = buildRequest(t.provider, { ...request, model: t.model, messages });
		return policy.limiter.run(async () => {
			const maxOutputTokens = request.maxTokens ?? 1024;
			const estimatedTokens = estimateTokens(messages, maxOutputTokens, request.tools);
			const entry = await policy.enter?.({
				target: t,
				attempt: attempts + 1,
				estimatedTokens,
				estimatedInputTokens: estimatedTokens - maxOutputTokens,
				maxOutputTokens,
			});
			if (entry instanceof AiCallError) throw new Refusal(entry);
			let answer: AiAnswer;
			try {
				answer = await send(t, path, body);
			} catch (error) {
				// not an AiCallError: the execution was cancelled (send classifies everything else)
				await entry?.release?.(
					error instanceof AiCallError
						? { error, inputTokens: 0, outputTokens: 0 }
						: { cancelled: true, inputTokens: 0, outputTokens: 0 },
				);
				throw error;
			}
			await entry?.release?.({
				inputTokens: answer.inputTokens,
				outputTokens: answer.outputTokens,
			});
			return answer;
		});
	};

	/** The attempt itself, with its timeout. */
	const send = async (
		t: Target,
		path: string,
		body: ReturnType<typeof buildRequest>['body'],
	): Promise<AiAnswer> => {
		start ??= now();
		const timeoutMs = Math.max(
			1,
			Math.min(policy.attemptTimeoutMs, policy.totalTimeoutMs - elapsed()),
		);
		const attempt = ++attempts;
		// The abort must close the connection (the transport passes the signal to the socket), and the
		// limiter slot is held until the transport has settled: the cap holds for open connections, and
		// the next attempt of this item starts only after this one is closed.
		const abort = new AbortController();
		const signal = policy.signal ? AbortSignal.any([abort.signal, policy.signal]) : abort.signal;
		const timedOut = new AiCallError(
			'timeout',
			`No answer within ${timeoutMs} ms (attempt ${attempt})`,
		);
		const timer = setTimeout(() => {
			policy.onTimeout?.({ attempt, model: t.model, timeoutMs });
			abort.abort(timedOut);
		}, timeoutMs);
		let answer: AiAnswer;
		const reader = streaming
			? createStreamReader(t.provider, t.model, (delta) => {
					emitted = true;
					policy.onDelta!(delta);
				})
			: undefined;
		try {
			let response: TransportResponse;
			try {
				response = await transport({
					url: `${t.baseUrl}${path}`,
					body,
					credential: t.credential,
					timeoutMs,
					signal,
					...(reader ? { onChunk: (text: string) => reader.push(text) } : {}),
				});
			} catch (error) {
				// The socket is closed now; one turn of the event loop lets its close go out (and a
				// service in this process see it) before the slot passes to the next call.
				if (signal.aborted) await new Promise((resolve) => setImmediate(resolve));
				throw error;
			} finally {
				clearTimeout(timer);
			}
			answer =
				reader && response.status >= 200 && response.status < 300 && isEventStream(response)
					? reader.finish()
					: parseResponse(
							t.provider,
							t.model,
							response.status,
							response.text,
							retryAfterMs(response.headers),
						);
		} catch (error) {
			if (policy.signal?.aborted) throw error; // the execution was cancelled: not an AI failure
			throw abort.signal.aborted
				? timedOut
				: error instanceof AiCallError
					? error
					: classifyThrown(error, `${t.baseUrl}${path}`);
		}
		inputTokens += answer.inputTokens;
		outputTokens += answer.outputTokens;
		return answer;
	};

	for (let i = 0; i < targets.length; i++) {
		const t = targets[i];
		if (i > 0 && !(lastError && t.on?.has(lastError.failureClass))) continue;
		target = t;
		fallbackUsed = i > 0;
		if (i > 0) fallbackClass = lastError!.failureClass;
		for (let retry = 0; ; retry++) {
			if (elapsed() >= policy.totalTimeoutMs) {
				lastError ??= new AiCallError(
					'timeout',
					`The total time budget of ${policy.totalTimeoutMs} ms is spent`,
				);
				return fail(lastError);
			}
			let refused = false;
			try {
				const answer = await exchange(t, request.messages);
				if (request.responseFormat === 'text') return { ok: true, answer, ...common() };
				return await withValidJson(t, answer);
			} catch (error) {
				refused = error instanceof Refusal;
				const failure = error instanceof Refusal ? error.error : error;
				if (!(failure instanceof AiCallError)) throw failure;
				lastError = failure;
			}
			// A refusal (our own shared limit already waited as long as allowed, a budget, an open
			// breaker) would only say no again at once: the caller (or the Router) retries later.
			if (emitted) return fail(lastError); // the consumer showed part of this answer
			if (!lastError.retryable || refused || retry >= policy.maxRetries) break;
			const asked = lastError.retryAfterMs;
			// A service that asks for a longer wait than we allow gets reported (retryAfterMs), not hammered.
			if (asked !== undefined && asked > policy.backoff.maxMs) break;
			const waitMs = asked ?? fullJitter(retry + 1, policy.backoff, policy.random);
			if (elapsed() + waitMs >= policy.totalTimeoutMs) break;
			const record: RetryRecord = {
				attempt: attempts,
				class: lastError.failureClass,
				httpStatus: lastError.httpStatus ?? null,
				waitMs,
				model: t.model,
			};
			retries.push(record);
			policy.onRetry?.(record);
			await sleep(waitMs, policy.signal);
		}
	}
	return fail(lastError!);

	/** JSON modes: parse and validate; one repair round with the reason, then invalid_output. */
	async function withValidJson(t: Target, answer: AiAnswer): Promise<CallOutcome> {
		const first = check(answer.text);
		if (first.ok) return { ok: true, answer, json: first.value, ...common() };
		const repaired = await exchange(t, [
			...request.messages,
			{ role: 'assistant', content: answer.text },
			{
				role: 'user',
				content: `Your answer was ${first.reason}. Reply again with only the JSON object${request.schema ? ' that matches the JSON Schema' : ''}, nothing else.`,
			},
		]);
		const second = check(repaired.text);
		if (second.ok) return { ok: true, answer: repaired, json: second.value, ...common() };
		throw new AiCallError(
			'invalid_output',
			`The model's answer is ${second.reason}, also after a repair request`,
		);
	}

	function check(text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
		const parsed = parseJsonOutput(text);
		if (!parsed.ok) return parsed;
		const reason = policy.validate?.(parsed.value);
		return reason === undefined ? parsed : { ok: false, reason };
	}
}
