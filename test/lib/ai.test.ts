import { Readable } from 'node:stream';
import { NodeApiError, type INode } from 'n8n-workflow';

import { readBodyText } from '../../lib/ai/body';
import { callAi, parseJsonOutput, type Transport } from '../../lib/ai/call';
import {
	classifyStatus,
	classifyThrown,
	MAX_RETRY_AFTER_MS,
	retryAfterMs,
	TRANSIENT,
} from '../../lib/ai/failure';
import { addCosts, costOf, parsePriceOverrides, priceOf } from '../../lib/ai/pricing';
import { buildRequest, parseResponse, tokenCount } from '../../lib/ai/wire';
import { backoffCeiling, fullJitter } from '../../lib/backoff';
import { CallLimiter } from '../../lib/limit';

describe('failure classes', () => {
	it.each([
		[429, '', 'rate_limited'],
		[529, '', 'overloaded'],
		[503, '', 'overloaded'],
		[500, '', 'server_error'],
		[502, '', 'server_error'],
		[408, '', 'timeout'],
		[401, '', 'auth'],
		[403, '', 'auth'],
		[413, '', 'context_length'],
		[
			400,
			"This model's maximum context length is 8192 tokens context_length_exceeded",
			'context_length',
		],
		[400, 'prompt is too long: 250000 tokens > 200000 maximum', 'context_length'],
		[
			400,
			'The response was filtered due to the prompt triggering content management policy content_filter',
			'content_filter',
		],
		[400, 'Invalid value for temperature', 'bad_request'],
		[404, 'model not found', 'bad_request'],
	])('HTTP %i %j → %s', (status, text, cls) => expect(classifyStatus(status, text)).toBe(cls));

	it('only rate limits, overload, server errors, timeouts and network trouble are transient', () => {
		expect([...TRANSIENT].sort()).toEqual([
			'network',
			'overloaded',
			'rate_limited',
			'server_error',
			'timeout',
		]);
	});

	it('reads network and timeout errors through the cause chain', () => {
		expect(classifyThrown({ message: 'wrapped', cause: { code: 'ECONNRESET' } }).failureClass).toBe(
			'network',
		);
		expect(
			classifyThrown({ message: 'timeout of 100ms exceeded', code: 'ECONNABORTED' }).failureClass,
		).toBe('timeout');
	});

	it('reads Retry-After as seconds, an HTTP date, or retry-after-ms', () => {
		expect(retryAfterMs({ 'retry-after': '2' })).toBe(2000);
		expect(retryAfterMs({ 'retry-after': '0.25' })).toBe(250);
		expect(retryAfterMs({ 'retry-after-ms': '1500', 'retry-after': '2' })).toBe(1500);
		const now = Date.parse('2024-05-01T12:00:00Z');
		expect(retryAfterMs({ 'retry-after': 'Wed, 01 May 2024 12:00:30 GMT' }, now)).toBe(30_000);
		expect(retryAfterMs({})).toBeUndefined();
		expect(retryAfterMs({ 'retry-after': 'soon' })).toBeUndefined();
	});
});

describe('backoff with full jitter', () => {
	const opts = { baseMs: 100, maxMs: 1000 };
	it('doubles the ceiling each retry up to the max', () => {
		expect([1, 2, 3, 4, 5, 6].map((n) => backoffCeiling(n, opts))).toEqual([
			100, 200, 400, 800, 1000, 1000,
		]);
	});
	it('waits a random share of the ceiling', () => {
		expect(fullJitter(3, opts, () => 0)).toBe(0);
		expect(fullJitter(3, opts, () => 0.5)).toBe(200);
		expect(fullJitter(9, opts, () => 0.999)).toBe(999);
	});
});

describe('CallLimiter', () => {
	it('never runs more than the cap at once and serves in order', async () => {
		const limiter = new CallLimiter(2);
		let active = 0;
		let peak = 0;
		const order: number[] = [];
		await Promise.all(
			Array.from({ length: 8 }, (_, i) =>
				limiter.run(async () => {
					active++;
					peak = Math.max(peak, active);
					order.push(i);
					await new Promise((r) => setTimeout(r, 5));
					active--;
				}),
			),
		);
		expect(peak).toBe(2);
		expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
	});

	it('holds calls beyond the per-minute limit until the minute has passed', async () => {
		jest.useFakeTimers();
		try {
			const limiter = new CallLimiter(10, 2);
			const started: number[] = [];
			const runs = [0, 1, 2].map((i) => limiter.run(async () => void started.push(i)));
			await jest.advanceTimersByTimeAsync(59_000);
			expect(started).toEqual([0, 1]);
			await jest.advanceTimersByTimeAsync(1_001);
			await Promise.all(runs);
			expect(started).toEqual([0, 1, 2]);
		} finally {
			jest.useRealTimers();
		}
	});
});

describe('prices and costs', () => {
	it('matches the longest prefix pattern, with overrides first', () => {
		expect(priceOf('gpt-4o-mini-2024-07-18')).toEqual({ input: 0.15, output: 0.6 });
		expect(priceOf('gpt-4o-2024-08-06')).toEqual({ input: 2.5, output: 10 });
		expect(priceOf('claude-sonnet-4-5-20250929')).toEqual({ input: 3, output: 15 });
		expect(priceOf('llama3')).toBeUndefined();
		expect(priceOf('gpt-4o', { 'gpt-4o*': { input: 1, output: 2 } })).toEqual({
			input: 1,
			output: 2,
		});
		expect(priceOf('llama3:8b', { '*': { input: 0, output: 0 } })).toEqual({ input: 0, output: 0 });
	});

	it('computes USD from tokens and says when a model has no price', () => {
		expect(costOf('gpt-4o', 1_000_000, 500_000, {}, 'tag')).toEqual({
			inputUsd: 2.5,
			outputUsd: 5,
			totalUsd: 7.5,
			tag: 'tag',
			priced: true,
		});
		expect(costOf('mystery', 10, 10, {}, null)).toMatchObject({ totalUsd: 0, priced: false });
		expect(
			addCosts(costOf('gpt-4o', 1e6, 0, {}, 't'), costOf('mystery', 1, 1, {}, 't')),
		).toMatchObject({ totalUsd: 2.5, priced: false });
	});

	it.each([
		['{"m": {"input": 1}}', /"Price Overrides" at "m.output"/],
		['{"m": {"input": -1, "output": 1}}', /at "m.input"/],
		['{"a*b": {"input": 1, "output": 1}}', /at "a\*b"/],
		['{"m": {"input": 1, "output": 1, "cached": 2}}', /"Price Overrides"/],
		['nope', /not valid JSON/],
	])('rejects overrides %s', (raw, message) =>
		expect(() => parsePriceOverrides(raw)).toThrow(message),
	);
});

describe('wire formats', () => {
	const req = {
		model: 'm',
		messages: [
			{ role: 'system' as const, content: 'S' },
			{ role: 'user' as const, content: 'U' },
		],
		responseFormat: 'text' as const,
	};

	it('puts system prompts where each API wants them', () => {
		expect(buildRequest('anthropic', { ...req, maxTokens: 10, stop: ['x'] })).toEqual({
			path: '/messages',
			body: {
				model: 'm',
				max_tokens: 10,
				system: 'S',
				messages: [{ role: 'user', content: 'U' }],
				stop_sequences: ['x'],
			},
		});
		expect(buildRequest('openai', { ...req, maxTokens: 10 }).body).toMatchObject({
			messages: req.messages,
			max_tokens: 10,
		});
		expect(
			buildRequest('openai', { ...req, model: 'gpt-5-mini', maxTokens: 10 }).body,
		).toHaveProperty('max_completion_tokens', 10);
	});

	it('asks for JSON the way each API understands', () => {
		const json = buildRequest('openai', { ...req, responseFormat: 'json' }).body;
		expect(json.response_format).toEqual({ type: 'json_object' });
		expect(JSON.stringify(json.messages)).toMatch(/JSON/);
		const schema = { type: 'object' };
		expect(
			buildRequest('openai', { ...req, responseFormat: 'jsonSchema', schema }).body.response_format,
		).toMatchObject({
			type: 'json_schema',
			json_schema: { schema },
		});
		expect(
			buildRequest('anthropic', { ...req, responseFormat: 'jsonSchema', schema }).body.system,
		).toMatch(/JSON Schema: \{"type":"object"\}/);
	});

	it('classifies what comes back, including the odd cases', () => {
		const fail = (status: number, text: string) => {
			try {
				parseResponse('openai', 'm', status, text);
			} catch (error) {
				return (error as { failureClass: string }).failureClass;
			}
			return 'ok';
		};
		expect(fail(200, '{"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}]}')).toBe(
			'ok',
		);
		expect(fail(200, '{"choices":[]}')).toBe('server_error');
		expect(
			fail(200, '{"choices":[{"message":{"content":null},"finish_reason":"content_filter"}]}'),
		).toBe('content_filter');
		expect(fail(200, '<html>oops</html>')).toBe('server_error');
		expect(fail(502, '<html>bad gateway</html>')).toBe('server_error');
		expect(fail(400, '{"error":{"message":"x","code":"context_length_exceeded"}}')).toBe(
			'context_length',
		);
	});
});

describe('hostile service answers', () => {
	const answer = (usage: unknown, extra: Record<string, unknown> = {}) =>
		JSON.stringify({
			model: 'm',
			choices: [{ message: { content: 'hi' }, finish_reason: 'stop' }],
			usage,
			...extra,
		});

	it('caps Retry-After at 24 h: huge numbers, Infinity and far dates', () => {
		const now = Date.parse('2024-05-01T12:00:00Z');
		expect(retryAfterMs({ 'retry-after': '100000000000000000000' })).toBe(MAX_RETRY_AFTER_MS);
		expect(retryAfterMs({ 'retry-after': '1e999' })).toBe(MAX_RETRY_AFTER_MS);
		expect(retryAfterMs({ 'retry-after-ms': '1e+23' })).toBe(MAX_RETRY_AFTER_MS);
		expect(retryAfterMs({ 'retry-after': 'Fri, 31 Dec 9999 23:59:59 GMT' }, now)).toBe(
			MAX_RETRY_AFTER_MS,
		);
		expect(retryAfterMs({ 'retry-after': '-5' })).toBe(0);
		expect(retryAfterMs({ 'retry-after-ms': '', 'retry-after': '3' })).toBe(3000);
		expect(retryAfterMs({ 'retry-after': ['2', '9'] })).toBe(2000);
		expect(MAX_RETRY_AFTER_MS).toBe(86_400_000);
	});

	it('reads token counts as whole numbers from 0 to a billion, anything else as 0', () => {
		expect([12, '34', 5.9, -3, 'NaN', null, {}, 1e308, Infinity].map(tokenCount)).toEqual([
			12, 34, 5, 0, 0, 0, 0, 1_000_000_000, 0,
		]);
	});

	it('keeps an answer whose usage, model or finish reason is broken, with sane numbers', () => {
		const parsed = parseResponse(
			'openai',
			'asked',
			200,
			answer({ prompt_tokens: -7, completion_tokens: 'lots' }, { model: 42 }),
		);
		expect(parsed).toMatchObject({ text: 'hi', model: 'asked', inputTokens: 0, outputTokens: 0 });
		expect(
			parseResponse(
				'anthropic',
				'm',
				200,
				JSON.stringify({
					content: [{ type: 'text', text: 'x' }],
					stop_reason: 7,
					usage: 'many',
				}),
			),
		).toMatchObject({ text: 'x', finishReason: 'stop', inputTokens: 0, outputTokens: 0 });
	});

	it.each([
		['[1,2,3]'],
		['null'],
		['"text"'],
		['{"choices":"x"}'],
		['{"choices":[{"message":"x"}]}'],
		[JSON.stringify({ content: 'x' })],
	])('classifies the JSON body %s as server_error, never throws anything else', (body) => {
		for (const provider of ['openai', 'anthropic'] as const) {
			expect(() => parseResponse(provider, 'm', 200, body)).toThrow(
				expect.objectContaining({ failureClass: 'server_error' }),
			);
		}
	});

	it('classifies error bodies that are not objects by their status', () => {
		for (const body of ['null', '[1]', '"x"', '{"error":{"message":{"nested":1}}}']) {
			expect(() => parseResponse('openai', 'm', 503, body)).toThrow(
				expect.objectContaining({ failureClass: 'overloaded', httpStatus: 503 }),
			);
		}
	});

	it('refuses JSON output nested deeper than n8n can copy', () => {
		const deep = '['.repeat(200_000) + ']'.repeat(200_000);
		expect(parseJsonOutput(deep)).toEqual({
			ok: false,
			reason: 'JSON nested deeper than 100 levels',
		});
		expect(parseJsonOutput('{"a":[{"b":1}]}')).toEqual({ ok: true, value: { a: [{ b: 1 }] } });
	});
});

describe('reading the body', () => {
	const never = new AbortController().signal;

	it('stops at the size cap and destroys the stream', async () => {
		const stream = Readable.from([Buffer.alloc(600), Buffer.alloc(600), Buffer.alloc(600)]);
		await expect(readBodyText(stream, 200, never, { maxBytes: 1000 })).rejects.toMatchObject({
			failureClass: 'server_error',
			message: expect.stringMatching(/larger than/),
		});
		expect(stream.destroyed).toBe(true);
	});

	it('wants UTF-8 in a 2xx body, reads error bodies leniently', async () => {
		const bytes = Buffer.from([0x7b, 0xff, 0x7d]);
		await expect(readBodyText(Readable.from([bytes]), 200, never)).rejects.toMatchObject({
			failureClass: 'server_error',
			message: expect.stringMatching(/not valid UTF-8/),
		});
		await expect(readBodyText(Readable.from([bytes]), 500, never)).resolves.toBe('{\uFFFD}');
	});

	it("ends at once with the abort's reason when the signal aborts mid-body", async () => {
		const stream = new Readable({ read() {} });
		stream.push('{"partial":');
		const abort = new AbortController();
		const reading = readBodyText(stream, 200, abort.signal);
		const reason = new Error('deadline');
		abort.abort(reason);
		await expect(reading).rejects.toBe(reason);
		expect(stream.destroyed).toBe(true);
	});
});

describe('callAi: an attempt that times out', () => {
	const request = {
		model: 'm',
		messages: [{ role: 'user' as const, content: 'hi' }],
		responseFormat: 'text' as const,
	};
	const target = {
		model: 'm',
		provider: 'openai' as const,
		baseUrl: 'http://x/v1',
		credential: 'primary' as const,
	};

	it('aborts the transport at the deadline and holds the slot until the transport has settled', async () => {
		const events: string[] = [];
		let open = 0;
		let peak = 0;
		// a transport that needs 30 ms after the abort to close its connection
		const transport: Transport = ({ signal }) =>
			new Promise((_, reject) => {
				open++;
				peak = Math.max(peak, open);
				signal.addEventListener('abort', () => {
					events.push('aborted');
					setTimeout(() => {
						open--;
						events.push('closed');
						reject(new Error('canceled'));
					}, 30);
				});
			});
		const limiter = new CallLimiter(1);
		const outcomes = await Promise.all(
			[1, 2].map(() =>
				callAi(
					request,
					[target],
					{
						attemptTimeoutMs: 20,
						totalTimeoutMs: 10_000,
						maxRetries: 1,
						backoff: { baseMs: 0, maxMs: 0 },
						limiter,
					},
					transport,
				),
			),
		);
		for (const o of outcomes) {
			expect(o).toMatchObject({ ok: false, attempts: 2 });
			if (!o.ok)
				expect(o.error).toMatchObject({
					failureClass: 'timeout',
					message: expect.stringMatching(/within 20 ms/),
				});
		}
		expect(peak).toBe(1);
		expect(events).toEqual([
			'aborted',
			'closed',
			'aborted',
			'closed',
			'aborted',
			'closed',
			'aborted',
			'closed',
		]);
	});
});

describe('SSRF refusals from n8n', () => {
	// The errors n8n 2.41.1 throws, from the copy of @n8n/backend-network that n8n-core loads, wrapped
	// the way n8n-core's httpRequestWithAuthentication wraps them (NodeApiError, cause = the refusal).
	// eslint-disable-next-line @typescript-eslint/no-require-imports -- n8n-core's own copy, not ours
	const network = require(
		require.resolve('@n8n/backend-network', { paths: [require.resolve('n8n-core')] }),
	) as {
		SsrfBlockedIpError: new (ip: string, hostname?: string) => Error;
		SsrfBlockedHostnameError: new (hostname: string) => Error;
	};
	const node = {
		id: 'n',
		name: 'AI Call',
		type: 'x',
		typeVersion: 1,
		position: [0, 0],
		parameters: {},
	} as INode;
	const wrapped = (error: Error) => new NodeApiError(node, error as never);

	it.each([
		[
			() => new network.SsrfBlockedIpError('10.1.2.3'),
			'http://10.1.2.3/v1/chat/completions',
			'10.1.2.3',
		],
		[
			() => new network.SsrfBlockedIpError('10.1.2.3', 'llm.internal'),
			'http://llm.internal/v1/chat/completions',
			'llm.internal (10.1.2.3)',
		],
		[() => new network.SsrfBlockedHostnameError('llm.internal'), undefined, 'llm.internal'],
	])('%#: is egress_blocked, not retryable, naming the host', (make, url, target) => {
		const error = classifyThrown(wrapped(make()), url);
		expect(error.failureClass).toBe('egress_blocked');
		expect(error.retryable).toBe(false);
		expect(error.message).toBe(
			`n8n's SSRF protection refused ${target}: allow it in N8N_SSRF_ALLOWED_HOSTNAMES or N8N_SSRF_ALLOWED_IP_RANGES (n8n's environment), or use another Base URL`,
		);
	});

	it('takes the host from the URL when the refusal names only the address', () => {
		const error = classifyThrown(
			wrapped(new network.SsrfBlockedIpError('127.0.0.1')),
			'http://localhost:8787/v1/messages',
		);
		expect(error.message).toMatch(/refused localhost \(127\.0\.0\.1\)/);
	});
});
