import { createRedactor, credentialSecrets, REDACTED } from '../../lib/redact';

const KEY = 'sk-proj-Abc123_def456-XYZ789';
const HEADER_TOKEN = 'gw-Token/with+chars=';

describe('redaction of secrets', () => {
	const redact = createRedactor(
		credentialSecrets({
			apiKey: KEY,
			extraHeaders: JSON.stringify({ 'X-Gateway-Token': HEADER_TOKEN, 'X-Title': 'app' }),
		}),
	);

	it('takes the API key and every Extra Headers value of a credential', () => {
		expect(
			credentialSecrets({ apiKey: 'k-123456', extraHeaders: { a: 'v-123456', b: 7 } }),
		).toEqual(['k-123456', 'v-123456', '7']);
		expect(credentialSecrets({ apiKey: 'k-123456', extraHeaders: '{not json' })).toEqual([
			'k-123456',
			'{not json',
		]);
		expect(credentialSecrets(undefined)).toEqual([]);
	});

	it.each([
		[`received headers: {"authorization":"Bearer ${KEY}"}`],
		[`Incorrect API key provided: ${KEY}`],
		[`{"x-gateway-token":"${HEADER_TOKEN}"}`],
		[`quoted as JSON: ${JSON.stringify(HEADER_TOKEN)}`],
		[`in a URL: https://gw.example.com/v1?x=${encodeURIComponent(HEADER_TOKEN)}`],
	])('removes the credential secrets from %s', (text) => {
		const out = redact.text(text);
		expect(out).not.toContain(KEY);
		expect(out).not.toContain(HEADER_TOKEN);
		expect(out).not.toContain(encodeURIComponent(HEADER_TOKEN));
		expect(out).toContain(REDACTED);
	});

	it.each([
		['Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.other', 'Authorization: Bearer [redacted]'],
		['someone else sk-ant-api03-abcdefghijk leaked', 'someone else [redacted] leaked'],
		['x-api-key: other-key-777', 'x-api-key: [redacted]'],
		['{"api-key":"azure0123456789"}', '{"api-key":"[redacted]"}'],
		['proxy https://bob:hunter2@proxy.local:8080/', 'proxy https://[redacted]@proxy.local:8080/'],
		['GET /v1/models?key=AIzaSyXXXX&alt=json', 'GET /v1/models?key=[redacted]&alt=json'],
	])('removes token-shaped values that are not ours: %s', (text, expected) => {
		expect(redact.text(text)).toBe(expected);
	});

	it('leaves ordinary texts alone', () => {
		const text = 'HTTP 429 from the AI service: Rate limit reached for sim-standard (app)';
		expect(redact.text(text)).toBe(text);
	});

	it("removes only the exact secrets from the model's answer, also inside JSON", () => {
		const answer = {
			text: `Use a Bearer token. Your key is ${KEY}.`,
			nested: [{ note: `header ${HEADER_TOKEN}` }, 3, null],
		};
		expect(redact.exact(answer)).toEqual({
			text: `Use a Bearer token. Your key is ${REDACTED}.`,
			nested: [{ note: `header ${REDACTED}` }, 3, null],
		});
		expect(redact.exact('sk-someone-elses-key-123')).toBe('sk-someone-elses-key-123');
	});

	it('does not treat short values as secrets', () => {
		const r = createRedactor(['abc', 'none', '']);
		expect(r.text('none of abc')).toBe('none of abc');
	});
});
