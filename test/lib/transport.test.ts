/**
 * The AI Call's undici transport against real sockets: connections reused, an abort closing its
 * socket at once, redirects answered and not followed, n8n's egress filter consulted before the
 * request and on every DNS answer, the proxy from the environment (and NO_PROXY), and the
 * credential's "ignore SSL issues" against a self-signed certificate.
 */
import { execFileSync } from 'node:child_process';
import { lookup as dnsLookup } from 'node:dns';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { classifyThrown } from '../../lib/ai/failure';
import {
	closePools,
	proxyFor,
	undiciTransport,
	type EgressFilter,
	type UndiciTransportOptions,
} from '../../lib/ai/transport';
import { startSimulator, type Simulator } from '../../simulator';

let sim: Simulator;
beforeAll(async () => {
	sim = await startSimulator({ apiKeys: ['sk-transport'] });
});
afterAll(async () => {
	await closePools();
	await sim.close();
});
beforeEach(async () => {
	await closePools();
	sim.reset();
	sim.setFault(undefined);
});

const chatBody = (text = 'hello') => ({
	model: 'sim-standard',
	messages: [{ role: 'user', content: text }],
});
const transport = (over: Partial<UndiciTransportOptions> = {}) =>
	undiciTransport({ headers: () => ({ authorization: 'Bearer sk-transport' }), ...over });
const send = (
	t: ReturnType<typeof transport>,
	url = `${sim.baseUrl}/chat/completions`,
	signal = new AbortController().signal,
	body: Record<string, unknown> = chatBody(),
) => t({ url, body, credential: 'primary', timeoutMs: 5000, signal });

/** A local server that records what it got and answers with `answer`. */
async function server(
	answer: (req: IncomingMessage, res: import('node:http').ServerResponse) => void,
): Promise<{ url: string; got: IncomingMessage[]; close: () => Promise<void> }> {
	const got: IncomingMessage[] = [];
	const srv = createServer((req, res) => {
		got.push(req);
		req.resume();
		req.on('end', () => answer(req, res));
	});
	await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
	return {
		url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
		got,
		close: () => stop(srv),
	};
}
const stop = (srv: Server) =>
	new Promise<void>((r) => {
		srv.closeAllConnections?.();
		srv.close(() => r());
	});

describe('connections', () => {
	it('reuses one kept-alive connection for calls one after another, and the pool for calls at once', async () => {
		const t = transport();
		for (let i = 0; i < 30; i++) expect((await send(t)).status).toBe(200);
		expect(sim.counters().connections).toBe(1);
		for (let round = 0; round < 3; round++) {
			const answers = await Promise.all(Array.from({ length: 10 }, () => send(t)));
			expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
		}
		// 10 at once need 10 connections, kept for the next rounds
		expect(sim.counters().connections).toBeLessThanOrEqual(10);
		expect(sim.counters().requests).toBe(60);
	});

	it('an abort rejects at once with its reason and closes the socket', async () => {
		sim.setFault('hang');
		const controller = new AbortController();
		const started = Date.now();
		const call = send(transport(), undefined, controller.signal);
		setTimeout(() => controller.abort(new Error('attempt deadline')), 150);
		await expect(call).rejects.toThrow('attempt deadline');
		expect(Date.now() - started).toBeLessThan(1000);
		await sim.idle(1000);
		expect(sim.counters().openConnections).toBe(0);
	});

	it('sends the credential headers as given, and answers a redirect without following it', async () => {
		const elsewhere = await server((_req, res) => res.end('{}'));
		const redirecting = await server((_req, res) => {
			res.writeHead(307, { location: `${elsewhere.url}/v1/chat/completions` });
			res.end();
		});
		try {
			const t = transport({
				headers: () => ({ 'x-api-key': 'k-1', 'anthropic-version': '2023-06-01' }),
			});
			const answer = await send(t, `${redirecting.url}/v1/messages?beta=true`);
			expect(answer.status).toBe(307);
			expect(elsewhere.got).toHaveLength(0);
			const [req] = redirecting.got;
			expect(req.url).toBe('/v1/messages?beta=true');
			expect(req.headers).toMatchObject({
				'x-api-key': 'k-1',
				'anthropic-version': '2023-06-01',
				'content-type': 'application/json',
			});
			expect(req.headers.authorization).toBeUndefined();
		} finally {
			await elsewhere.close();
			await redirecting.close();
		}
	});
});

describe("n8n's egress filter (SSRF protection)", () => {
	const ssrfError = (hostname: string) =>
		Object.assign(new Error(`Hostname "${hostname}" is blocked`), {
			name: 'SsrfBlockedHostnameError',
			hostname,
		});

	it('a refused URL is never requested, and fails as egress_blocked (not retried)', async () => {
		const filter: EgressFilter = {
			validateUrl: async (url) => ({ ok: false, error: ssrfError(new URL(url).hostname) }),
			validateConnectionHost: () => ({ ok: true }),
			createSecureLookup: () => dnsLookup as unknown as LookupFunction,
		};
		const error = await send(transport({ egress: filter })).catch((e: unknown) => e);
		expect(classifyThrown(error, sim.baseUrl)).toMatchObject({ failureClass: 'egress_blocked' });
		expect(sim.counters().connections).toBe(0);
	});

	it('every DNS answer goes through its lookup; a refused address fails as egress_blocked', async () => {
		const looked: string[] = [];
		let refuse = false;
		const filter: EgressFilter = {
			validateUrl: async () => ({ ok: true }),
			validateConnectionHost: () => ({ ok: true }),
			createSecureLookup: () =>
				((hostname: string, options: object, callback: (...a: unknown[]) => void) => {
					looked.push(hostname);
					if (refuse) return callback(ssrfError(hostname));
					dnsLookup(hostname, { ...options, family: 4 }, callback as never);
				}) as unknown as LookupFunction,
		};
		const url = `http://localhost:${sim.port}/v1/chat/completions`;
		expect((await send(transport({ egress: filter }), url)).status).toBe(200);
		expect(looked).toEqual(['localhost']);
		await closePools();
		refuse = true;
		const error = await send(transport({ egress: filter }), url).catch((e: unknown) => e);
		expect(classifyThrown(error, url)).toMatchObject({ failureClass: 'egress_blocked' });
	});
});

describe('proxy from the environment', () => {
	it('reads <protocol>_proxy, then all_proxy, lower case first, and NO_PROXY as n8n does', () => {
		const url = (u: string) => new URL(u);
		expect(proxyFor(url('https://api.openai.com/v1'), { HTTPS_PROXY: 'proxy:3128' })).toBe(
			'http://proxy:3128',
		);
		expect(
			proxyFor(url('https://api.openai.com/v1'), {
				https_proxy: 'http://lower:1',
				HTTPS_PROXY: 'http://upper:1',
			}),
		).toBe('http://lower:1');
		expect(proxyFor(url('http://sim:8787/v1'), { ALL_PROXY: 'http://all:1' })).toBe('http://all:1');
		expect(proxyFor(url('http://sim:8787/v1'), { HTTPS_PROXY: 'http://p:1' })).toBeUndefined();
		const env = {
			HTTPS_PROXY: 'http://p:1',
			NO_PROXY: 'localhost, .corp.example,ai.internal:8443',
		};
		expect(proxyFor(url('https://localhost/v1'), env)).toBeUndefined();
		expect(proxyFor(url('https://llm.corp.example/v1'), env)).toBeUndefined();
		expect(proxyFor(url('https://corp.example/v1'), env)).toBeUndefined();
		expect(proxyFor(url('https://ai.internal:8443/v1'), env)).toBeUndefined();
		expect(proxyFor(url('https://ai.internal/v1'), env)).toBe('http://p:1');
		expect(proxyFor(url('https://api.openai.com/v1'), { ...env, NO_PROXY: '*' })).toBeUndefined();
	});

	it('sends through the proxy on one kept connection; NO_PROXY goes direct', async () => {
		// a forward proxy: absolute-URI requests (plain HTTP) and CONNECT tunnels (HTTPS)
		const proxied: string[] = [];
		let connections = 0;
		const proxy = createServer((req, res) => {
			proxied.push(req.url!);
			const upstream = request(req.url!, { method: req.method, headers: req.headers }, (up) => {
				res.writeHead(up.statusCode!, up.headers);
				up.pipe(res);
			});
			req.pipe(upstream);
		});
		proxy.on('connection', () => connections++);
		proxy.on('connect', (req, client, head) => {
			proxied.push(`CONNECT ${req.url}`);
			const [host, port] = req.url!.split(':');
			const upstream = connect(Number(port), host, () => {
				client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
				upstream.write(head);
				upstream.pipe(client).pipe(upstream);
			});
			upstream.on('error', () => client.destroy());
			client.on('error', () => upstream.destroy());
		});
		await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
		const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
		try {
			const t = transport({ env: { HTTP_PROXY: proxyUrl } });
			for (let i = 0; i < 5; i++) expect((await send(t)).status).toBe(200);
			expect(proxied).toHaveLength(5);
			expect(proxied[0]).toContain(`127.0.0.1:${sim.port}`);
			expect(connections).toBe(1);
			const direct = transport({ env: { HTTP_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' } });
			expect((await send(direct)).status).toBe(200);
			expect(proxied).toHaveLength(5);
			expect(sim.counters().requests).toBe(6);
		} finally {
			await closePools();
			await stop(proxy);
		}
	});
});

describe('TLS', () => {
	it('refuses a self-signed certificate unless the credential ignores SSL issues', async () => {
		const dir = mkdtempSync(join(tmpdir(), 'transport-tls-'));
		execFileSync(
			'openssl',
			[
				'req',
				'-x509',
				'-newkey',
				'rsa:2048',
				'-nodes',
				'-days',
				'1',
				'-subj',
				'/CN=127.0.0.1',
				'-keyout',
				join(dir, 'key.pem'),
				'-out',
				join(dir, 'cert.pem'),
			],
			{ stdio: 'ignore' },
		);
		const srv = createHttpsServer(
			{ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
			(_req, res) => res.end('{"ok":true}'),
		);
		await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
		const url = `https://127.0.0.1:${(srv.address() as AddressInfo).port}/v1/chat/completions`;
		try {
			const error = await send(transport(), url).catch((e: unknown) => e);
			expect(classifyThrown(error, url)).toMatchObject({ failureClass: 'network' });
			expect(String((error as Error).message)).toMatch(/self[- ]signed/i);
			const answer = await send(transport({ ignoreSsl: () => true }), url);
			expect(answer).toMatchObject({ status: 200, text: '{"ok":true}' });
		} finally {
			await closePools();
			await stop(srv);
			rmSync(dir, { recursive: true, force: true });
		}
	});
});
