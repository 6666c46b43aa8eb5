import Anthropic, {
	AuthenticationError as AnthropicAuthError,
	OverloadedError,
	RateLimitError as AnthropicRateLimitError,
} from '@anthropic-ai/sdk';
import { request } from 'node:http';
import OpenAI from 'openai';

import { Agent, request as undiciRequest } from 'undici';

import { selfSignedCertificate, startSimulator, type Simulator } from '../../simulator';

let sim: Simulator;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are asserted field by field
type Json = Record<string, any>;
const json = (res: Response | Promise<Response>) =>
	Promise.resolve(res).then((r) => r.json() as Promise<Json>);

beforeAll(async () => {
	sim = await startSimulator({ seed: 1 });
});
afterAll(() => sim.close());
beforeEach(() => {
	sim.reset();
	sim.setFault(undefined);
});

const openai = (options: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}) =>
	new OpenAI({ apiKey: 'sim-key', baseURL: sim.baseUrl, maxRetries: 0, timeout: 5000, ...options });
const anthropic = (options: Partial<ConstructorParameters<typeof Anthropic>[0]> = {}) =>
	new Anthropic({ apiKey: 'sim-key', baseURL: sim.url, maxRetries: 0, timeout: 5000, ...options });

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
	return fetch(`${sim.url}${path}`, {
		method: 'POST',
		headers: { 'content-type': 'application/json', authorization: 'Bearer sim-key', ...headers },
		body: JSON.stringify(body),
	});
}
const chat = (
	content: string,
	extra: Record<string, unknown> = {},
	headers: Record<string, string> = {},
) =>
	post(
		'/v1/chat/completions',
		{ model: 'sim-standard', messages: [{ role: 'user', content }], ...extra },
		headers,
	);

/** Resolves with what happened to a request: an HTTP status, or the network error's code. */
async function outcome(request: Promise<Response>): Promise<string> {
	try {
		const res = await request;
		await res.text();
		return String(res.status);
	} catch (error) {
		const cause = (error as { cause?: { code?: string } }).cause;
		return cause?.code ?? (error as Error).name;
	}
}

describe('OpenAI wire format through the official openai client', () => {
	it('answers chat completions with text, usage and finish_reason', async () => {
		const res = await openai().chat.completions.create({
			model: 'sim-standard',
			messages: [
				{ role: 'system', content: 'You are a classifier.' },
				{ role: 'user', content: 'Please pay the attached invoice' },
			],
		});
		expect(res.choices[0].message.content).toBe(
			'Category: invoice. Sentiment: neutral. Summary: Please pay the attached invoice',
		);
		expect(res.choices[0].finish_reason).toBe('stop');
		// 21 + 30 characters → 6 + 8 tokens, plus 3 a message
		expect(res.usage).toEqual({ prompt_tokens: 20, completion_tokens: 20, total_tokens: 40 });
		expect(res.model).toBe('sim-standard');
	});

	it('answers json_object and json_schema response formats with parseable JSON', async () => {
		const object = await openai().chat.completions.create({
			model: 'sim-standard',
			response_format: { type: 'json_object' },
			messages: [{ role: 'user', content: 'I want a refund, this is unacceptable' }],
		});
		expect(JSON.parse(object.choices[0].message.content!)).toMatchObject({
			category: 'complaint',
			sentiment: 'negative',
		});

		const schema = await openai().chat.completions.create({
			model: 'sim-standard',
			response_format: {
				type: 'json_schema',
				json_schema: {
					name: 'ticket',
					schema: {
						type: 'object',
						properties: {
							category: { type: 'string', enum: ['support', 'other'] },
							urgent: { type: 'boolean' },
						},
						required: ['category', 'urgent'],
					},
				},
			},
			messages: [{ role: 'user', content: 'I cannot login' }],
		});
		expect(JSON.parse(schema.choices[0].message.content!)).toEqual({
			category: 'support',
			urgent: true,
		});
	});

	it('honours max_tokens and stop', async () => {
		const res = await openai().chat.completions.create({
			model: 'sim-standard',
			max_tokens: 3,
			messages: [{ role: 'user', content: 'hello' }],
		});
		expect(res.choices[0].finish_reason).toBe('length');
		expect(res.usage!.completion_tokens).toBe(3);
		const stopped = await openai().chat.completions.create({
			model: 'sim-standard',
			stop: ['. Sentiment'],
			messages: [{ role: 'user', content: 'hello' }],
		});
		expect(stopped.choices[0].message.content).toBe('Category: other');
	});

	it('lists models', async () => {
		const ids: string[] = [];
		for await (const m of openai().models.list()) ids.push(m.id);
		expect(ids).toEqual(['sim-small', 'sim-standard', 'sim-large']);
	});

	it('rejects a wrong key with 401 in OpenAI format, without echoing the key', async () => {
		const error = await openai({ apiKey: 'sk-wrong-secret-1234' })
			.chat.completions.create({
				model: 'sim-standard',
				messages: [{ role: 'user', content: 'x' }],
			})
			.catch((e: unknown) => e);
		expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
		expect((error as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
		expect(String((error as Error).message)).not.toContain('wrong-secret');
	});

	it('accepts the Azure-style api-key header', async () => {
		const res = await fetch(`${sim.baseUrl}/models`, { headers: { 'api-key': 'sim-key' } });
		expect(res.status).toBe(200);
	});

	it('surfaces 429 with Retry-After as RateLimitError', async () => {
		const error = await openai({ defaultHeaders: { 'x-sim-fault': 'status=429;retry-after=2' } })
			.chat.completions.create({
				model: 'sim-standard',
				messages: [{ role: 'user', content: 'x' }],
			})
			.catch((e: unknown) => e);
		expect(error).toBeInstanceOf(OpenAI.RateLimitError);
		const apiError = error as InstanceType<typeof OpenAI.RateLimitError>;
		expect(apiError.headers?.get('retry-after')).toBe('2');
		expect(apiError.code).toBe('rate_limit_exceeded');
	});

	it.each([500, 503, 529])('surfaces %i as a server error', async (status) => {
		const error = await openai({ defaultHeaders: { 'x-sim-fault': `status=${status}` } })
			.chat.completions.create({
				model: 'sim-standard',
				messages: [{ role: 'user', content: 'x' }],
			})
			.catch((e: unknown) => e);
		expect(error).toBeInstanceOf(OpenAI.InternalServerError);
		expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(status);
	});

	it('context over the model window is a 400 context_length_exceeded', async () => {
		const error = await openai()
			.chat.completions.create({
				model: 'sim-small',
				messages: [{ role: 'user', content: 'word '.repeat(400) }],
			})
			.catch((e: unknown) => e);
		expect(error).toBeInstanceOf(OpenAI.BadRequestError);
		expect((error as InstanceType<typeof OpenAI.BadRequestError>).code).toBe(
			'context_length_exceeded',
		);
		// the same prompt fits a larger model
		const ok = await openai().chat.completions.create({
			model: 'sim-large',
			messages: [{ role: 'user', content: 'word '.repeat(400) }],
		});
		expect(ok.choices).toHaveLength(1);
	});

	it('a hang makes the client give up at its timeout', async () => {
		const t0 = Date.now();
		const error = await openai({ timeout: 300, defaultHeaders: { 'x-sim-fault': 'hang' } })
			.chat.completions.create({
				model: 'sim-standard',
				messages: [{ role: 'user', content: 'x' }],
			})
			.catch((e: unknown) => e);
		// Outside jest this is APIConnectionTimeoutError; jest's separate realm hides the AbortError type from the client.
		expect(error).toBeInstanceOf(OpenAI.APIConnectionError);
		expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
		expect(sim.counters().byFault.hang).toBe(1);
	});

	it('a reset is a connection error', async () => {
		const error = await openai({ defaultHeaders: { 'x-sim-fault': 'reset' } })
			.chat.completions.create({
				model: 'sim-standard',
				messages: [{ role: 'user', content: 'x' }],
			})
			.catch((e: unknown) => e);
		expect(error).toBeInstanceOf(OpenAI.APIConnectionError);
	});

	it.each(['malformed-json', 'truncated'])(
		'a %s body makes the client fail to read the answer',
		async (fault) => {
			const error = await openai({ defaultHeaders: { 'x-sim-fault': fault } })
				.chat.completions.create({
					model: 'sim-standard',
					messages: [{ role: 'user', content: 'x' }],
				})
				.catch((e: unknown) => e);
			// the client's own error or undici's TypeError("terminated"), which comes from another realm under jest
			expect(error).toHaveProperty(
				'message',
				expect.stringMatching(/JSON|terminated|Unexpected|Expected/),
			);
		},
	);

	it('an HTML error page is an APIError with the page status', async () => {
		const error = await openai({ defaultHeaders: { 'x-sim-fault': 'html-error' } })
			.chat.completions.create({
				model: 'sim-standard',
				messages: [{ role: 'user', content: 'x' }],
			})
			.catch((e: unknown) => e);
		expect(error).toBeInstanceOf(OpenAI.InternalServerError);
		expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
	});

	it('empty choices, prose instead of JSON, schema mismatch and content filter come back as 200', async () => {
		const client = (fault: string) => openai({ defaultHeaders: { 'x-sim-fault': fault } });
		const ask = (fault: string) =>
			client(fault).chat.completions.create({
				model: 'sim-standard',
				response_format: {
					type: 'json_schema',
					json_schema: {
						name: 't',
						schema: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
					},
				},
				messages: [{ role: 'user', content: 'x' }],
			});
		expect((await ask('empty-choices')).choices).toEqual([]);
		const prose = (await ask('invalid-json-output')).choices[0].message.content!;
		expect(() => JSON.parse(prose)).toThrow();
		expect(
			JSON.parse((await ask('schema-mismatch')).choices[0].message.content!),
		).not.toHaveProperty('a');
		const filtered = await ask('content-filter');
		expect(filtered.choices[0].finish_reason).toBe('content_filter');
		expect(filtered.choices[0].message.content).toBe('');
	});
});

describe("OpenAI's Responses API through the official openai client (what n8n's OpenAI nodes send)", () => {
	it('answers instructions and input with one output_text message, usage and status', async () => {
		const res = await openai().responses.create({
			model: 'sim-standard',
			instructions: 'You are a classifier.',
			input: 'Please pay the attached invoice',
		});
		expect(res.output_text).toBe(
			'Category: invoice. Sentiment: neutral. Summary: Please pay the attached invoice',
		);
		expect(res).toMatchObject({ object: 'response', status: 'completed', model: 'sim-standard' });
		// the same tokens as the chat completion of the same request
		expect(res.usage).toMatchObject({ input_tokens: 20, output_tokens: 20, total_tokens: 40 });
	});

	it('reads message items (input_text parts, tool outputs) and answers JSON for text.format', async () => {
		const res = await openai().responses.create({
			model: 'sim-standard',
			text: {
				format: {
					type: 'json_schema',
					name: 'ticket',
					schema: {
						type: 'object',
						properties: {
							category: { type: 'string', enum: ['support', 'other'] },
							urgent: { type: 'boolean' },
						},
						required: ['category', 'urgent'],
					},
				},
			},
			input: [
				{ role: 'user', content: [{ type: 'input_text', text: 'I cannot login' }] },
				{ type: 'function_call_output', call_id: 'call_1', output: '{"account":"locked"}' },
			],
		});
		expect(JSON.parse(res.output_text)).toEqual({ category: 'support', urgent: true });
	});

	it('says incomplete at max_output_tokens, and fails and faults as the chat route does', async () => {
		const short = await openai().responses.create({
			model: 'sim-standard',
			max_output_tokens: 3,
			input: 'hello',
		});
		expect(short).toMatchObject({
			status: 'incomplete',
			incomplete_details: { reason: 'max_output_tokens' },
			usage: { output_tokens: 3 },
		});
		sim.setFault('status=429;retry-after=2');
		const limited = await post('/v1/responses', { model: 'sim-standard', input: 'hi' });
		expect(limited.status).toBe(429);
		expect(limited.headers.get('retry-after')).toBe('2');
		expect((await json(limited)).error.code).toBe('rate_limit_exceeded');
		sim.setFault(undefined);
		const bad = await post('/v1/responses', { model: 'sim-standard' });
		expect(bad.status).toBe(400);
		expect((await json(bad)).error.message).toMatch(/^input: /);
		expect(sim.counters().byEndpoint['POST /v1/responses']).toBe(3);
	});
});

describe('Anthropic wire format through the official @anthropic-ai/sdk client', () => {
	it('answers messages with content blocks, usage and stop_reason', async () => {
		const res = await anthropic().messages.create({
			model: 'sim-standard',
			max_tokens: 100,
			system: 'You are a classifier.',
			messages: [{ role: 'user', content: 'Please review the contract renewal' }],
		});
		expect(res.content).toEqual([
			{
				type: 'text',
				text: 'Category: contract. Sentiment: neutral. Summary: Please review the contract renewal',
			},
		]);
		expect(res.stop_reason).toBe('end_turn');
		expect(res.usage).toMatchObject({ input_tokens: 6 + 3 + 9 + 3, output_tokens: 21 });
	});

	it('answers JSON when the system prompt asks for it, and honours stop_sequences', async () => {
		const res = await anthropic().messages.create({
			model: 'sim-standard',
			max_tokens: 100,
			system: 'Respond with JSON only.',
			messages: [{ role: 'user', content: 'Where is my refund?' }],
		});
		const block = res.content[0] as { text: string };
		expect(JSON.parse(block.text)).toMatchObject({ category: 'complaint' });
		const stopped = await anthropic().messages.create({
			model: 'sim-standard',
			max_tokens: 100,
			stop_sequences: ['. Sentiment'],
			messages: [{ role: 'user', content: 'hi' }],
		});
		expect(stopped.stop_reason).toBe('stop_sequence');
		expect(stopped.stop_sequence).toBe('. Sentiment');
	});

	it('lists models in the Anthropic format', async () => {
		const page = await anthropic().models.list();
		expect(page.data.map((m) => m.id)).toEqual(['sim-small', 'sim-standard', 'sim-large']);
	});

	it('rejects a wrong key with 401 authentication_error', async () => {
		const error = await anthropic({ apiKey: 'nope' })
			.messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
			.catch((e: unknown) => e);
		expect(error).toBeInstanceOf(AnthropicAuthError);
		expect((error as { error: unknown }).error).toMatchObject({
			type: 'error',
			error: { type: 'authentication_error' },
		});
	});

	it('needs the anthropic-version header', async () => {
		const res = await post(
			'/v1/messages',
			{ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] },
			{ 'x-api-key': 'sim-key' },
		);
		expect(res.status).toBe(400);
		expect(await res.json()).toMatchObject({
			error: {
				type: 'invalid_request_error',
				message: expect.stringContaining('anthropic-version'),
			},
		});
	});

	it('529 is OverloadedError and 429 is RateLimitError with Retry-After', async () => {
		const overloaded = await anthropic({ defaultHeaders: { 'x-sim-fault': 'status=529' } })
			.messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
			.catch((e: unknown) => e);
		expect(overloaded).toBeInstanceOf(OverloadedError);
		const limited = await anthropic({ defaultHeaders: { 'x-sim-fault': 'status=429' } })
			.messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
			.catch((e: unknown) => e);
		expect(limited).toBeInstanceOf(AnthropicRateLimitError);
		expect((limited as { headers: Headers }).headers.get('retry-after')).toBe('1');
	});

	it('context over the window is a 400 "prompt is too long"', async () => {
		const error = await anthropic()
			.messages.create({
				model: 'sim-small',
				max_tokens: 5,
				messages: [{ role: 'user', content: 'word '.repeat(400) }],
			})
			.catch((e: unknown) => e);
		expect(error).toBeInstanceOf(Anthropic.BadRequestError);
		expect((error as Error).message).toMatch(/prompt is too long/);
	});

	it('content filter and empty content', async () => {
		const ask = (fault: string) =>
			anthropic({ defaultHeaders: { 'x-sim-fault': fault } }).messages.create({
				model: 'm',
				max_tokens: 50,
				messages: [{ role: 'user', content: 'x' }],
			});
		const refused = await ask('content-filter');
		expect(refused.stop_reason).toBe('refusal');
		expect(refused.content).toEqual([]);
		expect((await ask('empty-choices')).content).toEqual([]);
	});
});

describe('fault injection and counters', () => {
	it('fail-first N then succeed, scoped by key, counted by key', async () => {
		const statuses: number[] = [];
		for (let i = 0; i < 4; i++) {
			statuses.push((await chat(`job [[sim:fail-first=2;status=503;key=job-1]]`)).status);
		}
		statuses.push((await chat('other [[sim:fail-first=2;status=503;key=job-2]]')).status);
		expect(statuses).toEqual([503, 503, 200, 200, 503]);
		const c = sim.counters();
		expect(c.byKey).toEqual({ 'job-1': 4, 'job-2': 1 });
		expect(c.byFault).toEqual({ status_503: 3, none: 2 });
		expect(c.byStatus).toEqual({ '503': 3, '200': 2 });
	});

	it('the prompt directive is not part of the answer or the token count', async () => {
		const plain = await json(chat('Pay the invoice'));
		const directed = await json(chat('Pay the invoice [[sim:latency=1]]'));
		expect(directed.choices[0].message.content).toBe(plain.choices[0].message.content);
		expect(directed.usage).toEqual(plain.usage);
	});

	it('a default fault set at start applies to every request without its own', async () => {
		const local = await startSimulator({ fault: 'status=500', seed: 1 });
		try {
			const res = await fetch(`${local.baseUrl}/chat/completions`, {
				method: 'POST',
				headers: { authorization: 'Bearer sim-key', 'content-type': 'application/json' },
				body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
			});
			expect(res.status).toBe(500);
			const overridden = await fetch(`${local.baseUrl}/chat/completions`, {
				method: 'POST',
				headers: {
					authorization: 'Bearer sim-key',
					'content-type': 'application/json',
					'x-sim-fault': 'latency=0',
				},
				body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
			});
			expect(overridden.status).toBe(200);
		} finally {
			await local.close();
		}
	});

	it('an error rate fails about that share of requests with the listed statuses', async () => {
		sim.setFault('error-rate=0.5;status=429,500,503,529');
		const results = await Promise.all(Array.from({ length: 200 }, () => outcome(chat('x'))));
		const failed = results.filter((s) => s !== '200');
		expect(failed.length).toBeGreaterThan(70);
		expect(failed.length).toBeLessThan(130);
		expect(new Set(failed)).toEqual(new Set(['429', '500', '503', '529']));
	});

	it('fixed and random latency delay the answer', async () => {
		const t0 = Date.now();
		await chat('x', {}, { 'x-sim-fault': 'latency=150' });
		expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
		const t1 = Date.now();
		await chat('x', {}, { 'x-sim-fault': 'latency=50-100' });
		expect(Date.now() - t1).toBeGreaterThanOrEqual(45);
	});

	it('reports peak requests in flight', async () => {
		await Promise.all(
			Array.from({ length: 7 }, () => chat('x', {}, { 'x-sim-fault': 'latency=100' })),
		);
		const c = sim.counters();
		expect(c.peakInFlight).toBe(7);
		expect(c.inFlight).toBe(0);
		expect(c.requests).toBe(7);
	});

	it('the network-level faults reach a plain HTTP client as such', async () => {
		expect(await outcome(chat('x', {}, { 'x-sim-fault': 'reset' }))).toBe('ECONNRESET');
		const malformed = await chat('x', {}, { 'x-sim-fault': 'malformed-json' });
		expect(malformed.status).toBe(200);
		await expect(malformed.json()).rejects.toThrow(/JSON/);
		const truncated = await chat('x', {}, { 'x-sim-fault': 'truncated' });
		await expect(truncated.text()).rejects.toThrow();
		const html = await chat('x', {}, { 'x-sim-fault': 'html-error;status=504' });
		expect(html.status).toBe(504);
		expect(html.headers.get('content-type')).toBe('text/html');
		expect(await html.text()).toContain('<html>');
	});

	it('a bad fault header is a 400 naming the problem', async () => {
		const res = await chat('x', {}, { 'x-sim-fault': 'explode' });
		expect(res.status).toBe(400);
		expect((await json(res)).error.message).toMatch(/unknown part "explode"/);
	});

	it('counts requests by masked API key and never shows a whole key', async () => {
		await chat('x', {}, { authorization: 'Bearer sk-secret-abcdef-9876' });
		await chat('x');
		const c = sim.counters();
		expect(c.byApiKey).toEqual({ 'sk-…9876': 1, '***': 1 });
		expect(JSON.stringify(c)).not.toContain('secret');
	});

	it('validates requests like the real API', async () => {
		const res = await post('/v1/chat/completions', { model: 'm', messages: [] });
		expect(res.status).toBe(400);
		expect((await json(res)).error).toMatchObject({
			type: 'invalid_request_error',
			message: expect.stringContaining('messages'),
		});
		const bad = await fetch(`${sim.baseUrl}/chat/completions`, {
			method: 'POST',
			headers: { authorization: 'Bearer sim-key' },
			body: '{not json',
		});
		expect(bad.status).toBe(400);
	});

	it('control routes: reset and change the default fault at run time', async () => {
		await chat('x');
		const put = await fetch(`${sim.url}/_sim/fault`, {
			method: 'PUT',
			body: JSON.stringify({ fault: 'status=503' }),
		});
		expect(await put.json()).toEqual({ fault: 'status=503' });
		expect((await chat('x')).status).toBe(503);
		await fetch(`${sim.url}/_sim/fault`, { method: 'PUT', body: JSON.stringify({ fault: null }) });
		expect((await chat('x')).status).toBe(200);
		const counters = await json(fetch(`${sim.url}/_sim/counters`));
		expect(counters.requests).toBe(3);
		await fetch(`${sim.url}/_sim/reset`, { method: 'POST' });
		expect(sim.counters().requests).toBe(0);
	});

	it('records what is posted to its inbox, per name, until a reset', async () => {
		const post = (name: string, body: string, type = 'application/json') =>
			fetch(`${sim.url}/_sim/inbox/${name}`, {
				method: 'POST',
				headers: { 'content-type': type },
				body,
			});
		expect((await post('callbacks', '{"jobId":"j-1"}')).status).toBe(200);
		await post('alerts', 'index stale', 'text/plain');
		expect(sim.inbox('callbacks')).toEqual([
			expect.objectContaining({ name: 'callbacks', body: { jobId: 'j-1' } }),
		]);
		const all = await json(fetch(`${sim.url}/_sim/inbox`));
		expect(all.map((e: { body: unknown }) => e.body)).toEqual([{ jobId: 'j-1' }, 'index stale']);
		sim.reset();
		expect(sim.inbox()).toEqual([]);
	});

	it('keeps the headers of what is posted to its inbox (a callback names its Idempotency-Key there)', async () => {
		await fetch(`${sim.url}/_sim/inbox/callbacks`, {
			method: 'POST',
			headers: { 'content-type': 'application/json', 'Idempotency-Key': 'job-1:2' },
			body: '{"jobId":"job-1"}',
		});
		const [entry] = sim.inbox('callbacks');
		expect(entry.headers['idempotency-key']).toBe('job-1:2');
		expect(entry.headers['content-type']).toBe('application/json');
		const [served] = await json(fetch(`${sim.url}/_sim/inbox/callbacks`)).then((e) => e as Json[]);
		expect(served.headers['idempotency-key']).toBe('job-1:2');
	});

	it("logs each API request's client port, so the process that sent it can be found", async () => {
		// the client's own end of the connection, as `ss -tnp` would show it for its process
		const localPort = await new Promise<number>((resolve, reject) => {
			const req = request(
				`${sim.url}/v1/chat/completions`,
				{
					method: 'POST',
					agent: false,
					headers: { 'content-type': 'application/json', authorization: 'Bearer sim-key' },
				},
				(res) => {
					res.resume();
					res.on('end', () => resolve(port));
				},
			);
			let port = 0;
			req.on('socket', (socket) => socket.on('connect', () => (port = socket.localPort!)));
			req.on('error', reject);
			req.end(
				JSON.stringify({
					model: 'sim-standard',
					messages: [{ role: 'user', content: 'hi [[sim:key=port]]' }],
				}),
			);
		});
		expect(localPort).toBeGreaterThan(0);
		expect(sim.requestLog().find((e) => e.key === 'port')?.remotePort).toBe(localPort);
	});

	it("reports and takes the time of the stand-in search index's last update", async () => {
		await fetch(`${sim.url}/_sim/index-status`, {
			method: 'PUT',
			body: JSON.stringify({ lastUpdatedAt: '2026-01-02T03:04:05Z' }),
		});
		expect(await json(fetch(`${sim.url}/_sim/index-status`))).toEqual({
			index: 'documents',
			lastUpdatedAt: '2026-01-02T03:04:05.000Z',
		});
		const bad = await fetch(`${sim.url}/_sim/index-status`, {
			method: 'PUT',
			body: JSON.stringify({ lastUpdatedAt: 'yesterday-ish' }),
		});
		expect(bad.status).toBe(400);
		const notJson = await fetch(`${sim.url}/_sim/index-status`, { method: 'PUT', body: '{' });
		expect(notJson.status).toBe(400);
		await fetch(`${sim.url}/_sim/index-status`, {
			method: 'PUT',
			body: JSON.stringify({ down: true }),
		});
		expect((await fetch(`${sim.url}/_sim/index-status`)).status).toBe(503);
		sim.setIndexUpdatedAt(new Date());
		expect((await fetch(`${sim.url}/_sim/index-status`)).status).toBe(200);
	});

	it('closing the simulator ends hanging requests', async () => {
		const local = await startSimulator();
		const pending = outcome(
			fetch(`${local.baseUrl}/models`, {
				headers: { authorization: 'Bearer sim-key', 'x-sim-fault': 'hang' },
			}),
		);
		await new Promise((r) => setTimeout(r, 50));
		await local.close();
		expect(await pending).not.toBe('200');
	});
});

describe('simulator: connections, the request log and hostile services', () => {
	it('serves HTTPS with a self-signed certificate and counts TLS handshakes: a kept-alive connection shakes hands once', async () => {
		const tls = selfSignedCertificate();
		const own = await startSimulator({ tls });
		// one connection: undici opens a second one for a request sent as the previous one ends
		const trusting = new Agent({ connect: { ca: tls.cert }, connections: 1 });
		const fresh = () => new Agent({ connect: { ca: tls.cert } });
		const call = async (dispatcher: Agent) => {
			const res = await undiciRequest(`${own.baseUrl}/chat/completions`, {
				method: 'POST',
				dispatcher,
				headers: { 'content-type': 'application/json', authorization: 'Bearer sim-key' },
				body: JSON.stringify({
					model: 'sim-standard',
					messages: [{ role: 'user', content: 'hi' }],
				}),
			});
			await res.body.text();
			return res.statusCode;
		};
		try {
			expect(own.url).toMatch(/^https:\/\/127\.0\.0\.1:/);
			for (let i = 0; i < 3; i++) expect(await call(trusting)).toBe(200);
			expect(own.counters()).toMatchObject({ connections: 1, tlsHandshakes: 1, requests: 3 });
			for (let i = 0; i < 2; i++) {
				const agent = fresh();
				expect(await call(agent)).toBe(200);
				await agent.close();
			}
			expect(own.counters()).toMatchObject({ connections: 3, tlsHandshakes: 3 });
			// a client that does not trust the certificate gets no answer
			await expect(call(new Agent())).rejects.toThrow(/self-signed|certificate/i);
		} finally {
			await trusting.close();
			await own.close();
		}
	});

	it('counts open connections and logs each request with its start, end and outcome', async () => {
		// a simulator of its own: clients keep idle connections to the shared one open
		const own = await startSimulator({ seed: 2 });
		try {
			await countsOpenConnections(own);
		} finally {
			await own.close();
		}
	});

	async function countsOpenConnections(sim: Simulator) {
		const chat = (content: string) =>
			fetch(`${sim.url}/v1/chat/completions`, {
				method: 'POST',
				headers: { 'content-type': 'application/json', authorization: 'Bearer sim-key' },
				body: JSON.stringify({ model: 'sim-standard', messages: [{ role: 'user', content }] }),
			});
		const slow = [1, 2, 3].map((n) => outcome(chat(`hi [[sim:latency=300;key=c${n}]]`)));
		for (let i = 0; i < 200 && sim.counters().inFlight < 3; i++)
			await new Promise((r) => setTimeout(r, 5));
		expect(sim.counters().openConnections).toBe(3);
		expect(await Promise.all(slow)).toEqual(['200', '200', '200']);
		await sim.idle();
		expect(sim.counters().peakOpenConnections).toBe(3);
		const log = sim.requestLog();
		expect(log.map((e) => [e.key, e.outcome, e.fault])).toEqual([
			['c1', '200', 'latency'],
			['c2', '200', 'latency'],
			['c3', '200', 'latency'],
		]);
		for (const e of log) expect(e.endedAt! - e.startedAt).toBeGreaterThanOrEqual(295);
		expect(await json(fetch(`${sim.url}/_sim/requests`))).toHaveLength(3);
	}

	it('trickle sends the headers at once and the whole body slowly; a client that leaves is logged aborted', async () => {
		const t0 = Date.now();
		const res = await chat('Please pay the invoice [[sim:trickle=400]]');
		expect(res.status).toBe(200);
		expect(Date.now() - t0).toBeLessThan(300);
		expect((await json(res)).choices[0].message.content).toMatch(/^Category: invoice/);
		expect(Date.now() - t0).toBeGreaterThanOrEqual(350);

		const abort = new AbortController();
		const early = await fetch(`${sim.url}/v1/chat/completions`, {
			method: 'POST',
			headers: { 'content-type': 'application/json', authorization: 'Bearer sim-key' },
			body: JSON.stringify({
				model: 'sim-standard',
				messages: [{ role: 'user', content: 'hi [[sim:trickle=2000;key=left]]' }],
			}),
			signal: abort.signal,
		});
		expect(early.status).toBe(200);
		abort.abort();
		await sim.idle(3000);
		expect(sim.requestLog().find((e) => e.key === 'left')).toMatchObject({ outcome: 'aborted' });
	});

	it('echo-key quotes the request headers (the key too) into the answer or the error', async () => {
		const ok = await json(chat('hi [[sim:echo-key]]'));
		expect(ok.choices[0].message.content).toContain('"authorization":"Bearer sim-key"');
		const bad = await chat('hi [[sim:echo-key;status=400]]');
		expect(bad.status).toBe(400);
		expect((await json(bad)).error.message).toContain('Bearer sim-key');
	});

	it.each([
		['not-object', (b: string) => expect(JSON.parse(b)).toEqual([1, 2, 3])],
		['choices-string', (b: string) => expect(JSON.parse(b).choices).toBe('x')],
		['usage-negative', (b: string) => expect(JSON.parse(b).usage.prompt_tokens).toBe(-1000000)],
		['non-utf8', (b: string) => expect(b).toContain('\uFFFD')],
	])('hostile=%s sends that body with 200', async (variant, check) => {
		const res = await chat(`hi [[sim:hostile=${variant}]]`);
		expect(res.status).toBe(200);
		check(await res.text());
	});

	it('hostile=huge sends 40 MB', async () => {
		const res = await chat('hi [[sim:hostile=huge]]');
		expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(40 * 1024 * 1024);
	});
});
