/**
 * Deterministic "model" behaviour: the same prompt always gets the same answer and the
 * same token counts, so tests and demos can assert on them.
 */

/** About four characters a token, as for English text with real tokenizers. */
export function countTokens(text: string): number {
	return Math.ceil(text.length / 4);
}

/** Prompt tokens: the text of every message plus a small fixed overhead per message. */
export function countInputTokens(texts: string[]): number {
	return texts.reduce((sum, t) => sum + countTokens(t) + 3, 0);
}

/** Context window per model name: "small" models are tiny so context-length fallbacks can be exercised. */
export function contextWindow(model: string): number {
	if (/small/i.test(model)) return 256;
	if (/large/i.test(model)) return 1_000_000;
	return 128_000;
}

export const SIM_MODELS = ['sim-small', 'sim-standard', 'sim-large'] as const;

const CATEGORIES: Array<[string, RegExp]> = [
	['invoice', /\b(invoice|payment|bill|billing|amount due|receipt)\b/i],
	['complaint', /\b(complain\w*|refund|angry|unacceptable|disappointed)\b/i],
	['contract', /\b(contract|agreement|clause|terms|renewal)\b/i],
	['support', /\b(help|error|cannot|can't|login|password|broken|bug)\b/i],
];

const POSITIVE = /\b(thanks|thank you|great|happy|love|excellent|good)\b/i;
const NEGATIVE = /\b(angry|bad|terrible|unacceptable|disappointed|broken|worst|refund)\b/i;

export interface Classification {
	category: string;
	confidence: number;
	sentiment: 'positive' | 'negative' | 'neutral';
	summary: string;
	language: 'en';
}

/** FNV-1a: a stable number derived from the text. */
function hash(text: string): number {
	let h = 0x811c9dc5;
	for (let i = 0; i < text.length; i++) {
		h ^= text.charCodeAt(i);
		h = Math.imul(h, 0x01000193) >>> 0;
	}
	return h;
}

export function classify(text: string): Classification {
	const category = CATEGORIES.find(([, re]) => re.test(text))?.[0] ?? 'other';
	const sentiment = NEGATIVE.test(text) ? 'negative' : POSITIVE.test(text) ? 'positive' : 'neutral';
	const words = text.split(/\s+/).filter(Boolean);
	const summary = words.slice(0, 12).join(' ') + (words.length > 12 ? '…' : '');
	return {
		category,
		confidence: Math.round((0.6 + (hash(text) % 40) / 100) * 100) / 100,
		sentiment,
		summary,
		language: 'en',
	};
}

export function textAnswer(prompt: string): string {
	const c = classify(prompt);
	return `Category: ${c.category}. Sentiment: ${c.sentiment}. Summary: ${c.summary}`;
}

type Schema = Record<string, unknown>;

/** A value that satisfies the JSON Schema, filled from the classification where names match. */
export function fromSchema(schema: unknown, c: Classification, name = ''): unknown {
	if (typeof schema !== 'object' || schema === null) return c;
	const s = schema as Schema;
	if ('const' in s) return s.const;
	if (Array.isArray(s.enum) && s.enum.length) {
		return s.enum.find((v) => v === c.category || v === c.sentiment) ?? s.enum[0];
	}
	const variants = (s.anyOf ?? s.oneOf ?? s.allOf) as unknown[] | undefined;
	if (Array.isArray(variants) && variants.length) return fromSchema(variants[0], c, name);
	const type = Array.isArray(s.type) ? (s.type.find((t) => t !== 'null') ?? s.type[0]) : s.type;
	switch (type ?? (s.properties ? 'object' : s.items ? 'array' : 'string')) {
		case 'object': {
			const out: Record<string, unknown> = {};
			const props = (s.properties ?? {}) as Record<string, unknown>;
			for (const [key, sub] of Object.entries(props)) out[key] = fromSchema(sub, c, key);
			return out;
		}
		case 'array': {
			const min = Number(s.minItems ?? 1);
			const max = Number(s.maxItems ?? Math.max(min, 1));
			return Array.from({ length: Math.min(Math.max(min, 1), max) }, () =>
				fromSchema(s.items, c, name),
			);
		}
		case 'number':
		case 'integer': {
			let n = /confidence|score|probability/i.test(name) ? c.confidence : 1;
			if (type === 'integer') n = Math.round(n);
			if (typeof s.minimum === 'number') n = Math.max(n, s.minimum);
			if (typeof s.maximum === 'number') n = Math.min(n, s.maximum);
			return n;
		}
		case 'boolean':
			return c.sentiment !== 'negative';
		case 'null':
			return null;
		default: {
			if (s.format === 'date-time') return '2024-01-01T00:00:00.000Z';
			if (s.format === 'date') return '2024-01-01';
			const known = c as unknown as Record<string, unknown>;
			if (/^(category|class|label|type|intent)$/i.test(name)) return c.category;
			if (typeof known[name] === 'string') return known[name];
			let str = name ? `sim ${name}` : c.summary;
			if (typeof s.minLength === 'number') str = str.padEnd(s.minLength, '.');
			if (typeof s.maxLength === 'number') str = str.slice(0, s.maxLength);
			return str;
		}
	}
}

/** What the model "forgets" when it answers JSON that misses the schema. */
export function schemaMismatch(schema: unknown): unknown {
	const s = (schema ?? {}) as Schema;
	return s.type === 'object' || s.properties
		? { note: 'fields missing on purpose' }
		: { unexpected: 'object' };
}

export const PROSE_INSTEAD_OF_JSON =
	'Sure! Here is what I found: the document looks like an invoice.';

/** Applies max tokens and stop sequences the way the APIs do. */
export function finishText(
	text: string,
	maxTokens: number | undefined,
	stop: string[],
): { text: string; reason: 'end' | 'length' | 'stop'; stopSequence?: string } {
	let cut = -1;
	let stopSequence: string | undefined;
	for (const s of stop) {
		const i = s ? text.indexOf(s) : -1;
		if (i !== -1 && (cut === -1 || i < cut)) {
			cut = i;
			stopSequence = s;
		}
	}
	if (cut !== -1) text = text.slice(0, cut);
	if (maxTokens !== undefined && countTokens(text) > maxTokens) {
		return { text: text.slice(0, maxTokens * 4), reason: 'length' };
	}
	return stopSequence === undefined
		? { text, reason: 'end' }
		: { text, reason: 'stop', stopSequence };
}

/**
 * The tool the model calls: the forced one, else the one whose name the prompt mentions
 * (case-insensitive; `_` and `-` may be spaces; the longest name when several match), else the first.
 */
export function pickTool<T extends { name: string }>(
	tools: T[],
	prompt: string,
	forced?: string,
): T {
	if (forced !== undefined) return tools.find((t) => t.name === forced) ?? tools[0];
	const text = prompt.toLowerCase();
	const named = tools.filter((t) => {
		const name = t.name.toLowerCase();
		return text.includes(name) || text.includes(name.replace(/[_-]+/g, ' '));
	});
	return named.sort((a, b) => b.name.length - a.name.length)[0] ?? tools[0];
}

/**
 * A tool call's arguments from the tool's JSON Schema: the required properties first, then the
 * others; strings get the prompt, numbers 1, booleans true. Without properties: `{ input: prompt }`.
 */
export function toolArguments(schema: unknown, prompt: string): Record<string, unknown> {
	const s = (isRecord(schema) ? schema : {}) as Schema;
	const props = (isRecord(s.properties) ? s.properties : {}) as Record<string, unknown>;
	const required = Array.isArray(s.required)
		? s.required.filter((n): n is string => typeof n === 'string')
		: [];
	const names = [...new Set([...required, ...Object.keys(props)])];
	if (!names.length) return { input: prompt };
	return Object.fromEntries(names.map((n) => [n, argumentValue(props[n], prompt)]));
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
	typeof v === 'object' && v !== null && !Array.isArray(v);

/** One argument: enums and consts keep to their values, numbers to their bounds. */
function argumentValue(schema: unknown, prompt: string): unknown {
	const s = (isRecord(schema) ? schema : {}) as Schema;
	if ('const' in s) return s.const;
	if (Array.isArray(s.enum) && s.enum.length) {
		const text = prompt.toLowerCase();
		return (
			s.enum.find((v) => typeof v === 'string' && v && text.includes(v.toLowerCase())) ?? s.enum[0]
		);
	}
	const variants = (s.anyOf ?? s.oneOf ?? s.allOf) as unknown[] | undefined;
	if (Array.isArray(variants) && variants.length) {
		const typed = variants.find((v) => !(isRecord(v) && v.type === 'null'));
		return argumentValue(typed ?? variants[0], prompt);
	}
	const type = Array.isArray(s.type) ? (s.type.find((t) => t !== 'null') ?? s.type[0]) : s.type;
	switch (type ?? (s.properties ? 'object' : s.items ? 'array' : 'string')) {
		case 'object':
			return isRecord(s.properties) || Array.isArray(s.required) ? toolArguments(s, prompt) : {};
		case 'array':
			return [argumentValue(s.items, prompt)];
		case 'number':
		case 'integer': {
			let n = 1;
			if (typeof s.minimum === 'number') n = Math.max(n, s.minimum);
			if (typeof s.maximum === 'number') n = Math.min(n, s.maximum);
			return type === 'integer' ? Math.ceil(n) : n;
		}
		case 'boolean':
			return true;
		case 'null':
			return null;
		default:
			return prompt;
	}
}

/** The answer after tool calls: every result, word for word, with the tool it came from. */
export function toolResultsAnswer(
	results: Array<{ name: string; content: string; isError?: boolean }>,
): string {
	return results
		.map((r) =>
			r.isError ? `${r.name} failed: ${r.content}` : `According to ${r.name}: ${r.content}`,
		)
		.join('\n');
}
