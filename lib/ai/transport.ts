/**
 * The AI Call's HTTP transport: one undici dispatcher per process and settings, so calls reuse
 * kept-alive connections (and TLS sessions) instead of opening one per call as n8n's request
 * helper does (it builds new agents for every request). What n8n's helper does for outbound
 * safety is kept: the proxy from the environment (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY, as n8n's
 * proxy-from-env reading), NODE_EXTRA_CA_CERTS (Node's TLS reads it), and with n8n's SSRF
 * protection on, its egress filter on every request: the URL validated before the request, every
 * DNS answer checked by its lookup, the proxy host checked, and redirects never followed.
 * Framework-free: the node passes the egress filter n8n gives it.
 */
import type { LookupFunction } from 'node:net';
import { Agent, ProxyAgent, type Dispatcher } from 'undici';

import { readBodyText } from './body';
import type { Transport } from './call';

type Result = { ok: true } | { ok: false; error: Error };

/** n8n-workflow's NodeEgressFilter (this.helpers.getSecureEgressFilter()), as far as used here. */
export interface EgressFilter {
	validateUrl(url: string | URL): Promise<Result>;
	validateConnectionHost(host: string): Result;
	createSecureLookup(): LookupFunction;
}

export interface PoolSettings {
	/** The credential's "Ignore SSL Issues": accept any certificate. */
	ignoreSsl?: boolean;
	/** n8n's egress filter; undefined: none (n8n without the hook). */
	egress?: EgressFilter;
	/** The environment the proxy is read from (tests pass their own). */
	env?: NodeJS.ProcessEnv;
}

/** How long an idle connection is kept for the next call (undici's default is 4 s). */
const KEEP_ALIVE_MS = 30_000;

const envOf = (env: NodeJS.ProcessEnv, name: string) =>
	env[name.toLowerCase()] ?? env[name.toUpperCase()];

/**
 * The proxy for a URL, read as n8n reads it (proxy-from-env): `<protocol>_proxy`, else
 * `all_proxy`, unless NO_PROXY names the host (`*`, a host, `.suffix` or `*.suffix`, each with an
 * optional `:port`). Lower-case names win, as in curl.
 */
export function proxyFor(url: URL, env: NodeJS.ProcessEnv = process.env): string | undefined {
	const protocol = url.protocol.replace(/:$/, '');
	const proxy = envOf(env, `${protocol}_proxy`) || envOf(env, 'all_proxy');
	if (!proxy) return undefined;
	const port = url.port || (protocol === 'https' ? '443' : '80');
	const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
	for (const entry of (envOf(env, 'no_proxy') ?? '').toLowerCase().split(/[,\s]+/)) {
		if (!entry) continue;
		if (entry === '*') return undefined;
		const m = /^(.+?)(?::(\d+))?$/.exec(entry.replace(/^\[|\](?=:|$)/g, ''))!;
		if (m[2] && m[2] !== port) continue;
		const name = m[1].replace(/^\*/, '');
		if (name.startsWith('.') ? host.endsWith(name) || host === name.slice(1) : host === name)
			return undefined;
	}
	return proxy.includes('://') ? proxy : `http://${proxy}`;
}

// One pool per egress filter (n8n's are singletons), proxy and certificate setting.
const pools = new Map<object, Map<string, Dispatcher>>();
const NO_EGRESS = {};

/** The process's dispatcher for calls to `url` with these settings. */
export function dispatcherFor(url: URL, settings: PoolSettings = {}): Dispatcher {
	const proxy = proxyFor(url, settings.env);
	const key = `${proxy ?? 'direct'} ${settings.ignoreSsl ? 'insecure' : 'verify'}`;
	const owner = settings.egress ?? NO_EGRESS;
	let byKey = pools.get(owner);
	if (!byKey) pools.set(owner, (byKey = new Map()));
	let dispatcher = byKey.get(key);
	if (!dispatcher) {
		dispatcher = createDispatcher(proxy, settings);
		byKey.set(key, dispatcher);
	}
	return dispatcher;
}

function createDispatcher(proxy: string | undefined, settings: PoolSettings): Dispatcher {
	// every DNS answer through n8n's check, for the service and for the proxy
	const lookup = settings.egress?.createSecureLookup();
	const tls = {
		...(lookup ? { lookup } : {}),
		...(settings.ignoreSsl ? { rejectUnauthorized: false } : {}),
	};
	const keepAlive = { keepAliveTimeout: KEEP_ALIVE_MS, keepAliveMaxTimeout: 10 * 60_000 };
	if (!proxy) return new Agent({ ...keepAlive, connect: tls });
	if (settings.egress) {
		const checked = settings.egress.validateConnectionHost(new URL(proxy).hostname);
		if (!checked.ok) throw checked.error;
	}
	return new ProxyAgent({
		uri: proxy,
		...keepAlive,
		requestTls: tls,
		...(lookup ? { proxyTls: { lookup } } : {}),
	});
}

/** Closes every pool: tests, and a process that should not wait for idle sockets to end. */
export async function closePools(): Promise<void> {
	const all = [...pools.values()].flatMap((byKey) => [...byKey.values()]);
	pools.clear();
	await Promise.all(all.map((d) => d.close().catch(() => undefined)));
}

export interface UndiciTransportOptions extends Omit<PoolSettings, 'ignoreSsl'> {
	/** The headers that carry each credential's key, exactly as the credential defines them. */
	headers: (credential: 'primary' | 'fallback') => Record<string, string>;
	/** Each credential's "Ignore SSL Issues". */
	ignoreSsl?: (credential: 'primary' | 'fallback') => boolean;
}

/**
 * A Transport over the process's pools. The attempt's signal aborts the request and destroys its
 * socket at once; the answer is read as n8n's helper path reads it (readBodyText: size cap, UTF-8);
 * a redirect is an answer (3xx), never followed.
 */
export function undiciTransport(options: UndiciTransportOptions): Transport {
	return async ({ url, body, credential, timeoutMs, signal, onChunk }) => {
		const target = new URL(url);
		if (options.egress) {
			const checked = await options.egress.validateUrl(target);
			if (!checked.ok) throw checked.error;
		}
		const dispatcher = dispatcherFor(target, {
			egress: options.egress,
			env: options.env,
			ignoreSsl: options.ignoreSsl?.(credential) ?? false,
		});
		const payload = JSON.stringify(body);
		// undici frees a connection (or destroys an aborted one) a turn of the event loop after the
		// request settles: wait for it, so the next call reuses the connection rather than opening
		// another, and an aborted call's socket is gone before its slot goes to the next attempt
		const settled = () => new Promise((resolve) => setImmediate(resolve));
		let response: Dispatcher.ResponseData;
		let text: string;
		try {
			response = await dispatcher.request({
				origin: target.origin,
				path: `${target.pathname}${target.search}`,
				method: 'POST',
				headers: {
					...options.headers(credential),
					'content-type': 'application/json',
					accept: onChunk ? 'text/event-stream' : 'application/json',
					'content-length': String(Buffer.byteLength(payload)),
				},
				body: payload,
				signal,
				// the attempt's deadline aborts first; these guard a connection that goes silent
				headersTimeout: timeoutMs + 1000,
				bodyTimeout: timeoutMs + 1000,
			});
			text = await readBodyText(response.body, response.statusCode, signal, { onChunk });
		} catch (error) {
			await settled();
			throw error;
		}
		await settled();
		return {
			status: response.statusCode,
			headers: response.headers as Record<string, unknown>,
			text,
		};
	};
}
