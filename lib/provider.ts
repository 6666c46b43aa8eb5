/**
 * Facts about the AI providers the package speaks to, written once and used by the
 * credential, the nodes and the simulator. Framework-free on purpose.
 */
export type Provider = 'openai' | 'anthropic';

export const PROVIDERS: readonly Provider[] = ['openai', 'anthropic'];

export const DEFAULT_BASE_URL: Record<Provider, string> = {
	openai: 'https://api.openai.com/v1',
	anthropic: 'https://api.anthropic.com/v1',
};

export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/** How an OpenAI-compatible service wants the key: `Authorization: Bearer` (most) or `api-key` (Azure OpenAI). */
export type OpenAiKeyHeader = 'bearer' | 'apiKey';

export interface AiServiceCredentials {
	provider: Provider;
	baseUrl: string;
	apiKey: string;
	keyHeader?: OpenAiKeyHeader;
	anthropicVersion?: string;
	extraHeaders?: unknown;
}

/** Headers that carry the key, in the provider's own convention. */
export function authHeaders(credentials: AiServiceCredentials): Record<string, string> {
	const headers = parseExtraHeaders(credentials.extraHeaders);
	if (credentials.provider === 'anthropic') {
		headers['x-api-key'] = credentials.apiKey;
		headers['anthropic-version'] = credentials.anthropicVersion || DEFAULT_ANTHROPIC_VERSION;
	} else if (credentials.keyHeader === 'apiKey') {
		headers['api-key'] = credentials.apiKey;
	} else {
		headers.authorization = `Bearer ${credentials.apiKey}`;
	}
	return headers;
}

/**
 * Extra headers are entered as a JSON object (string or already parsed).
 * Values are never echoed in errors: users put tokens there too.
 */
export function parseExtraHeaders(raw: unknown): Record<string, string> {
	if (raw === undefined || raw === null || raw === '') return {};
	let value = raw;
	if (typeof raw === 'string') {
		try {
			value = JSON.parse(raw);
		} catch {
			throw new Error(
				'Credential field "Extra Headers" is not valid JSON: enter an object like {"X-Title": "my-app"}',
			);
		}
	}
	if (typeof value !== 'object' || value === null || Array.isArray(value)) {
		throw new Error(
			'Credential field "Extra Headers" must be a JSON object of header names to values',
		);
	}
	const headers: Record<string, string> = {};
	for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
		if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
			throw new Error(`Credential field "Extra Headers": "${name}" is not a valid header name`);
		}
		if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
			throw new Error(`Credential field "Extra Headers": the value of "${name}" must be a string`);
		}
		headers[name.toLowerCase()] = String(v);
	}
	return headers;
}

/** Base URL without a trailing slash, so paths can be appended as `${base}/models`. */
export function normaliseBaseUrl(baseUrl: string | undefined, provider: Provider): string {
	return (baseUrl?.trim() || DEFAULT_BASE_URL[provider]).replace(/\/+$/, '');
}
